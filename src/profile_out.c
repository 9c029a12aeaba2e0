/* SPDX-License-Identifier: MIT */
/* Writing a heap profile: gperftools' heap_v2 text with the mapped objects (pprof
 * reads it and symbolises offline), and the top allocation sites, named here, for
 * the log. The tables are profile.c's; this reads them through ml_prof_each. */
#include "sysio.h"
#include "elfsym.h"
#include "have.h"
#include "log.h"
#include "pathfmt.h"
#include "profile.h"
#include "rawmem.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static struct ml_prof_deps deps;
void ml_prof_set_deps(const struct ml_prof_deps *d) {
    deps = *d;
}

/* ---- output ---- */

/* Each write owns its buffer, descriptor and temporary name: writers run at once (a
 * signal handler, the memlimit thread, memlimit_profile_dump, the exit profile), and
 * the signal handler's stack may be small. So the state is mapped (raw_map), never
 * malloc'd or static. */
struct out {
    int fd, err;
    dev_t dev; /* the file we opened: a descriptor the program closed and reused */
    ino_t ino; /* is not ours any more, and nothing more is written to it */
    size_t n;
    char tmp[4096 + 64];
    char buf[64 << 10];
};

static __attribute__((noinline)) bool same_file(int fd, dev_t dev, ino_t ino) {
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

static void flush(struct out *o) {
    size_t off = 0;
    if (o->n && !o->err && !same_file(o->fd, o->dev, o->ino)) o->err = EBADF;
    while (off < o->n && !o->err) {
        ssize_t w = write(o->fd, o->buf + off, o->n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            o->err = w < 0 ? errno : EIO;
        else
            off += (size_t)w;
    }
    o->n = 0;
}
static void put(struct out *o, const char *s, size_t len) {
    while (len) {
        if (o->n == sizeof o->buf) flush(o);
        size_t k = sizeof o->buf - o->n < len ? sizeof o->buf - o->n : len;
        memcpy(o->buf + o->n, s, k);
        o->n += k, s += k, len -= k;
    }
}
static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* formats straight into the buffer (no line buffer on a signal handler's stack);
 * every format here is shorter than 160 bytes */
static void putf(struct out *o, const char *fmt, ...) {
    if (sizeof o->buf - o->n < 160) flush(o);
    va_list ap;
    va_start(ap, fmt);
    o->n += ml_vfmt(o->buf + o->n, sizeof o->buf - o->n, fmt, ap);
    va_end(ap);
}

/* /proc/self/maps straight into the buffer; the descriptor is checked like ours */
static void put_maps(struct out *o) {
    int maps = ml_open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (maps < 0) return;
    struct stat st;
    if (fstat(maps, &st) != 0) {
        close(maps);
        return;
    }
    for (;;) {
        if (o->n == sizeof o->buf) flush(o);
        if (o->err || !same_file(maps, st.st_dev, st.st_ino)) break;
        ssize_t r = read(maps, o->buf + o->n, sizeof o->buf - o->n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        o->n += (size_t)r;
    }
    if (same_file(maps, st.st_dev, st.st_ino)) close(maps);
}

/* The temporary beside path, dot-named, with a random part, created with O_EXCL: a
 * name someone else made (a file they own, a symlink) is never opened, only skipped */
static int open_tmp(struct out *o, const char *path) {
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
    if (strlen(path) + 48 >= sizeof o->tmp) return ENAMETOOLONG;
    memcpy(o->tmp, path, dl);
    for (int tries = 0; tries < 8; tries++) {
        size_t n =
            dl + ml_fmt(o->tmp + dl, sizeof o->tmp - dl, ".%s.%d.", path + dl, (int)getpid());
        uint64_t r = ml_random64();
        for (int k = 0; k < 16; k++, r >>= 4)
            o->tmp[n++] = "0123456789abcdef"[r & 15];
        memcpy(o->tmp + n, ".tmp", 5);
        o->fd = ml_open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (o->fd >= 0) {
            struct stat st;
            if (fstat(o->fd, &st) != 0) {
                int e = errno;
                close(o->fd);
                unlink(o->tmp);
                return e;
            }
            o->dev = st.st_dev, o->ino = st.st_ino;
            return 0;
        }
        if (errno != EEXIST) return errno;
    }
    return EEXIST;
}

/* gperftools' heap profile, v2 sampling: pprof scales each line by
 * 1/(1-exp(-avg/rate)), as we sampled */
static void put_header(const struct ml_prof_stack *t, void *arg) {
    putf(arg, "heap profile: %llu: %llu [%llu: %llu] @ heap_v2/%llu\n",
         (unsigned long long)t->live_n, (unsigned long long)t->live_b,
         (unsigned long long)t->alloc_n, (unsigned long long)t->alloc_b,
         (unsigned long long)ml_prof_rate());
}
static void put_stack(const struct ml_prof_stack *e, void *arg) {
    struct out *o = arg;
    if (!e->alloc_n) return;
    putf(o, "%llu: %llu [%llu: %llu] @", (unsigned long long)e->live_n,
         (unsigned long long)e->live_b, (unsigned long long)e->alloc_n,
         (unsigned long long)e->alloc_b);
    for (uint32_t k = 0; k < e->depth; k++)
        putf(o, " 0x%llx", (unsigned long long)e->pc[k]);
    put(o, "\n", 1);
}

int ml_prof_write(const char *path, bool try_only) {
    if (!ml_prof_enabled()) return ENOTSUP;
    int saved = errno;
    struct out *o = ml_raw_map(sizeof *o, 0);
    if (!o) return ENOMEM;
    o->err = 0, o->n = 0;
    int err = open_tmp(o, path);
    if (err) {
        ml_raw_unmap(o, sizeof *o);
        return err;
    }
    err = ml_prof_each(try_only, put_header, put_stack, o);
    if (!err) {
        /* the mapped objects, so pprof symbolises offline */
        put(o, "\nMAPPED_LIBRARIES:\n", 19);
        put_maps(o);
        flush(o);
        err = o->err;
    }
    /* a descriptor that is no longer ours (the program closed it and reused the
     * number) is left alone */
    if (same_file(o->fd, o->dev, o->ino)) {
        if (close(o->fd) != 0 && !err) err = errno;
    } else if (!err) {
        err = EBADF;
    }
    if (!err && rename(o->tmp, path) != 0) err = errno;
    if (err) unlink(o->tmp);
    ml_raw_unmap(o, sizeof *o);
    if (!err) errno = saved;
    return err;
}

/* ---- the top sites, symbolised here ---- */

struct site {
    uintptr_t site;
    double bytes, objs;
};
/* the loaded object that holds an address: its file, load bias and build id */
struct object {
    uintptr_t pc, bias;
    bool found;
    size_t id_len;
    uint8_t id[64];
    char path[4096];  /* "" for the program */
    char debug[4096]; /* /usr/lib/debug/.build-id/xx/yyyy.debug */
    char sym[1024];
};
struct scratch {
    struct site sites[1024];
    struct ml_prof_stack snap[ML_PROF_NSTACKS];
    int ns;
    struct object obj;
};
static void snap_one(const struct ml_prof_stack *s, void *arg) {
    struct scratch *m = arg;
    if (s->live_n) m->snap[m->ns++] = *s;
}

static bool is_allocator_frame(const char *name) {
    /* operator new and friends: the caller of those is the site */
    return name && (strncmp(name, "_Znw", 4) == 0 || strncmp(name, "_Zna", 4) == 0 ||
                    strcmp(name, "malloc") == 0 || strcmp(name, "calloc") == 0 ||
                    strcmp(name, "realloc") == 0);
}

static uintptr_t site_of(const struct ml_prof_stack *e) {
    for (uint32_t k = 0; k < e->depth; k++) {
        Dl_info di;
        if (ML_HAVE(dladdr) && dladdr((void *)(e->pc[k] - 1), &di) &&
            is_allocator_frame(di.dli_sname))
            continue;
        return e->pc[k];
    }
    return e->depth ? e->pc[0] : 0;
}

static int find_object(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    struct object *o = arg;
    bool in = false;
    for (int i = 0; i < info->dlpi_phnum && !in; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        in = ph->p_type == PT_LOAD && o->pc - lo < ph->p_memsz;
    }
    if (!in) return 0;
    o->found = true;
    o->bias = info->dlpi_addr;
    size_t l = info->dlpi_name ? strlen(info->dlpi_name) : 0;
    if (l >= sizeof o->path) l = 0; /* (then /proc/self/exe: its build id will differ) */
    memcpy(o->path, info->dlpi_name ? info->dlpi_name : "", l);
    o->path[l] = '\0';
    o->id_len = 0;
    for (int i = 0; i < info->dlpi_phnum && !o->id_len; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        const uint8_t *id;
        size_t k = ph->p_type == PT_NOTE
                       ? ml_elf_note_build_id((const void *)(info->dlpi_addr + ph->p_vaddr),
                                              ph->p_memsz, &id)
                       : 0;
        if (k && k <= sizeof o->id) memcpy(o->id, id, o->id_len = k);
    }
    return 1;
}

/* The name of the function holding pc in its object's own symbol table (.symtab:
 * static functions, programs linked without -rdynamic), or in the separate debug file
 * that the object's build id names; into o->sym, with pc's offset. */
static bool symtab_name(uintptr_t pc, struct object *o, uint64_t *off) {
    o->pc = pc;
    o->found = false;
    dl_iterate_phdr(find_object, o);
    if (!o->found) return false;
    /* the program's own name: the kernel's link to it, even when it was replaced */
    const char *path = o->path[0] ? o->path : "/proc/self/exe";
    const uint8_t *id = o->id_len ? o->id : NULL;
    if (ml_elf_symbol(path, pc - o->bias, id, o->id_len, o->sym, sizeof o->sym, off)) return true;
    if (!id) return false;
    static const char dir[] = "/usr/lib/debug/.build-id/", hex[] = "0123456789abcdef";
    char *d = o->debug;
    memcpy(d, dir, sizeof dir - 1);
    d += sizeof dir - 1;
    for (size_t k = 0; k < o->id_len; k++) { /* (o->id: at most 64 bytes) */
        *d++ = hex[o->id[k] >> 4];
        *d++ = hex[o->id[k] & 15];
        if (k == 0) *d++ = '/';
    }
    memcpy(d, ".debug", 7);
    return ml_elf_symbol(o->debug, pc - o->bias, id, o->id_len, o->sym, sizeof o->sym, off);
}

void ml_prof_top(int n, void (*line)(const char *text)) {
    if (!ml_prof_enabled() || n <= 0) return;
    enum { TOP = 10 };
    if (n > TOP) n = TOP;
    struct {
        uintptr_t site;
        double bytes, objs;
    } top[TOP + 1];
    int ntop = 0;
    double total = 0;
    /* stacks are copied under the lock into scratch space of this call (calls run at
     * once: memlimit_profile_dump, the memlimit thread); dladdr runs outside it */
    struct scratch *m = ml_raw_map(sizeof *m, 0);
    if (!m) return;
    struct site *sites = m->sites;
    int nsites = 0;
    m->ns = 0;
    ml_prof_each(false, NULL, snap_one, m);
    int ns = m->ns;
    for (int i = 0; i < ns; i++) {
        uintptr_t site = site_of(&m->snap[i]); /* stacks stay: their pcs stay valid */
        double o, b;
        ml_prof_scale(m->snap[i].live_n, m->snap[i].live_b, &o, &b);
        total += b;
        int k = 0;
        while (k < nsites && sites[k].site != site)
            k++;
        if (k == nsites) {
            if (nsites == (int)(sizeof m->sites / sizeof m->sites[0])) continue;
            sites[nsites].site = site;
            sites[nsites].bytes = sites[nsites].objs = 0;
            nsites++;
        }
        sites[k].bytes += b;
        sites[k].objs += o;
    }
    for (int k = 0; k < nsites; k++) { /* insertion into the top n */
        int j = ntop < n ? ntop++ : n;
        if (j == n && sites[k].bytes <= top[n - 1].bytes) continue;
        if (j == n) j = n - 1;
        while (j > 0 && top[j - 1].bytes < sites[k].bytes) {
            top[j] = top[j - 1];
            j--;
        }
        top[j].site = sites[k].site;
        top[j].bytes = sites[k].bytes;
        top[j].objs = sites[k].objs;
    }
    char text[600], a[24], name[400];
    ml_fmt(text, sizeof text, "profile: %s live in sampled blocks (estimated), top %d sites:",
           ml_fmt_bytes(a, (uint64_t)total), ntop);
    line(text);
    /* its result is the program's malloc's: only with the matching free from deps */
    char *(*demangle)(const char *, char *, size_t *, int *) =
        deps.free && ML_HAVE(dlsym) ? (char *(*)(const char *, char *, size_t *, int *))dlsym(
                                          RTLD_DEFAULT, "__cxa_demangle")
                                    : NULL;
    for (int k = 0; k < ntop; k++) {
        Dl_info di;
        uintptr_t pc = top[k].site;
        bool in_obj = ML_HAVE(dladdr) && dladdr((void *)(pc - 1), &di) && di.dli_fname;
        const char *sname = in_obj ? di.dli_sname : NULL, *file = in_obj ? di.dli_fname : NULL;
        uint64_t off = sname ? pc - (uintptr_t)di.dli_saddr : 0;
        /* not a dynamic symbol: the object's own symbol table names it */
        if (!sname && symtab_name(pc - 1, &m->obj, &off)) {
            sname = m->obj.sym;
            off += 1;
            if (!file) file = m->obj.path[0] ? m->obj.path : NULL;
        }
        const char *base = file ? strrchr(file, '/') : NULL;
        base = base ? base + 1 : file ? file : "?";
        if (sname) {
            int st = -1;
            char *d = demangle && sname[0] == '_' && sname[1] == 'Z'
                          ? demangle(sname, NULL, NULL, &st)
                          : NULL;
            ml_fmt(name, sizeof name, "%s+0x%llx (%s)", d && st == 0 ? d : sname,
                   (unsigned long long)off, base);
            if (d) deps.free(d);
        } else if (in_obj) {
            ml_fmt(name, sizeof name, "%s+0x%llx", base,
                   (unsigned long long)(pc - (uintptr_t)di.dli_fbase));
        } else {
            ml_fmt(name, sizeof name, "0x%llx", (unsigned long long)pc);
        }
        unsigned tenths = total > 0 ? (unsigned)(1000.0 * top[k].bytes / total + 0.5) : 0;
        ml_fmt(text, sizeof text, "profile: %d. %s (%u.%u%%, %llu objects) in %s", k + 1,
               ml_fmt_bytes(a, (uint64_t)top[k].bytes), tenths / 10, tenths % 10,
               (unsigned long long)(top[k].objs + 0.5), name);
        line(text);
    }
    ml_raw_unmap(m, sizeof *m);
}
