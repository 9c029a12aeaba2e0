/* SPDX-License-Identifier: MIT */
/* memlimit-run's check before it execs (memlimit-show --preload-check LIB CMD): can
 * the dynamic loader that will start CMD load LIB at all? The loader skips a
 * preloaded object it cannot use with one line that is easy to miss (or none), and
 * the program then runs without any limit. So, from the ELF headers alone: the
 * class and machine of CMD (or of the interpreter that runs a #! script) against
 * the library's; whether CMD has a dynamic loader (PT_INTERP) at all; and that
 * loader's C library (ld-musl-* or glibc's) against the one the library needs
 * (DT_NEEDED: libc.so.6 is glibc; libc.so or libc.musl-* is musl). Nothing runs. */
#include "preflight.h"

#include <elf.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum libc_kind { LIBC_UNKNOWN, LIBC_GLIBC, LIBC_MUSL };

struct elf_info {
    int cls;          /* ELFCLASS32 or ELFCLASS64 */
    int data;         /* ELFDATA2LSB or ELFDATA2MSB */
    unsigned machine; /* e_machine */
    bool phdrs;       /* the program headers were read (else nothing below is known) */
    bool interp_set;  /* PT_INTERP present: a dynamic loader starts it */
    char interp[256];
    enum libc_kind needs; /* the C library its DT_NEEDED names */
};

static uint64_t num(const unsigned char *p, int n, int data) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = data == ELFDATA2MSB ? v << 8 | p[i] : v | (uint64_t)p[i] << (8 * i);
    return v;
}

static const char *machine_name(unsigned m) {
    switch (m) {
    case EM_386:
        return "i386";
    case EM_X86_64:
        return "x86-64";
    case EM_AARCH64:
        return "aarch64";
    case EM_ARM:
        return "arm";
    case EM_RISCV:
        return "riscv";
    case EM_PPC64:
        return "ppc64";
    case EM_PPC:
        return "ppc";
    case EM_S390:
        return "s390";
    case EM_MIPS:
        return "mips";
    default:
        return "another machine";
    }
}

/* The file offset of virtual address va, through the PT_LOAD segments. */
static bool va_to_off(const unsigned char *m, size_t len, const struct elf_info *e, uint64_t phoff,
                      unsigned phent, unsigned phnum, uint64_t va, uint64_t *off) {
    bool w = e->cls == ELFCLASS64;
    for (unsigned i = 0; i < phnum; i++) {
        const unsigned char *ph = m + phoff + (uint64_t)i * phent;
        if (num(ph, 4, e->data) != PT_LOAD) continue;
        uint64_t o = num(ph + (w ? 8 : 4), w ? 8 : 4, e->data);
        uint64_t v = num(ph + (w ? 16 : 8), w ? 8 : 4, e->data);
        uint64_t fs = num(ph + (w ? 32 : 16), w ? 8 : 4, e->data);
        if (va >= v && va - v < fs && o + (va - v) < len) {
            *off = o + (va - v);
            return true;
        }
    }
    return false;
}

/* 0 once the identification and machine are read (phdrs says whether the rest was),
 * or -1 with why in err: not readable, or not an ELF file. */
static int read_elf(const char *path, struct elf_info *e, char *err, size_t cap) {
    memset(e, 0, sizeof *e);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 64) {
        snprintf(err, cap, "not a readable file");
        if (fd >= 0) close(fd);
        return -1;
    }
    size_t len = (size_t)st.st_size;
    const unsigned char *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        snprintf(err, cap, "cannot be mapped");
        return -1;
    }
    int rc = -1;
    snprintf(err, cap, "not an ELF file");
    if (memcmp(m, ELFMAG, SELFMAG) != 0) goto out;
    e->cls = m[EI_CLASS];
    e->data = m[EI_DATA];
    if ((e->cls != ELFCLASS32 && e->cls != ELFCLASS64) ||
        (e->data != ELFDATA2LSB && e->data != ELFDATA2MSB))
        goto out;
    bool w = e->cls == ELFCLASS64;
    e->machine = (unsigned)num(m + 18, 2, e->data);
    uint64_t phoff = num(m + (w ? 32 : 28), w ? 8 : 4, e->data);
    unsigned phent = (unsigned)num(m + (w ? 54 : 42), 2, e->data);
    unsigned phnum = (unsigned)num(m + (w ? 56 : 44), 2, e->data);
    rc = 0; /* from here on, what is known is said */
    if (phent < (w ? 56u : 32u) || phoff > len || (uint64_t)phent * phnum > len - phoff) goto out;
    e->phdrs = true;
    uint64_t dyn_off = 0, dyn_size = 0;
    for (unsigned i = 0; i < phnum; i++) {
        const unsigned char *ph = m + phoff + (uint64_t)i * phent;
        uint64_t type = num(ph, 4, e->data);
        uint64_t o = num(ph + (w ? 8 : 4), w ? 8 : 4, e->data);
        uint64_t fs = num(ph + (w ? 32 : 16), w ? 8 : 4, e->data);
        if (o > len || fs > len - o) continue;
        if (type == PT_INTERP) {
            size_t n = fs < sizeof e->interp ? (size_t)fs : sizeof e->interp - 1;
            memcpy(e->interp, m + o, n);
            e->interp[n] = '\0';
            e->interp_set = true;
        } else if (type == PT_DYNAMIC) {
            dyn_off = o;
            dyn_size = fs;
        }
    }
    /* DT_NEEDED names: offsets into DT_STRTAB, a virtual address */
    uint64_t strtab = 0, needed[32];
    int nneeded = 0;
    bool have_strtab = false;
    size_t ent = w ? 16 : 8;
    for (uint64_t p = dyn_off; dyn_size && p + ent <= dyn_off + dyn_size; p += ent) {
        uint64_t tag = num(m + p, w ? 8 : 4, e->data),
                 val = num(m + p + ent / 2, w ? 8 : 4, e->data);
        if (tag == DT_NULL) break;
        if (tag == DT_STRTAB) {
            strtab = val;
            have_strtab = true;
        }
        if (tag == DT_NEEDED && nneeded < 32) needed[nneeded++] = val;
    }
    uint64_t stroff;
    if (have_strtab && va_to_off(m, len, e, phoff, phent, phnum, strtab, &stroff)) {
        for (int i = 0; i < nneeded; i++) {
            if (stroff + needed[i] >= len) continue;
            const char *name = (const char *)m + stroff + needed[i];
            size_t room = len - (stroff + needed[i]);
            if (!memchr(name, '\0', room)) continue;
            if (strcmp(name, "libc.so.6") == 0)
                e->needs = LIBC_GLIBC;
            else if (strcmp(name, "libc.so") == 0 || strncmp(name, "libc.musl-", 10) == 0)
                e->needs = LIBC_MUSL;
        }
    }
out:
    munmap((void *)m, len);
    return rc;
}

/* The loader's C library: musl's is ld-musl-ARCH.so.1, every glibc one is not. */
static enum libc_kind interp_libc(const char *interp) {
    return strstr(interp, "ld-musl-") ? LIBC_MUSL : LIBC_GLIBC;
}

/* cmd as execvp finds it, into out; false if it is not there. */
static bool find_cmd(const char *cmd, char *out, size_t cap) {
    if (strchr(cmd, '/')) {
        snprintf(out, cap, "%s", cmd);
        return access(out, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path;; p = strchr(p, ':') + 1) {
        size_t n = strcspn(p, ":");
        if ((size_t)snprintf(out, cap, "%.*s%s%s", (int)n, p, n ? "/" : "", cmd) < cap &&
            access(out, X_OK) == 0) {
            struct stat st;
            if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return true;
        }
        if (!strchr(p, ':')) return false;
    }
}

/* For a #! script, the interpreter that runs it (through env, the program env
 * finds); false when path is not a script. */
static bool script_interp(const char *path, char *out, size_t cap) {
    char line[512];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = read(fd, line, sizeof line - 1);
    close(fd);
    if (n < 3 || line[0] != '#' || line[1] != '!') return false;
    line[n] = '\0';
    line[strcspn(line, "\n")] = '\0';
    char *save, *prog = strtok_r(line + 2, " \t", &save);
    if (!prog) return false;
    const char *base = strrchr(prog, '/') ? strrchr(prog, '/') + 1 : prog;
    if (strcmp(base, "env") == 0) {
        char *arg;
        while ((arg = strtok_r(NULL, " \t", &save)) && (arg[0] == '-' || strchr(arg, '=')))
            ;
        if (arg) return find_cmd(arg, out, cap);
    }
    snprintf(out, cap, "%s", prog);
    return true;
}

int ml_preflight(const char *lib, const char *cmd, char *msg, size_t cap) {
    struct elf_info l, t;
    char err[64], path[4096], via[4200] = "";
    if (read_elf(lib, &l, err, sizeof err) != 0) {
        snprintf(msg, cap, "%s: %s", lib, err);
        return 1;
    }
    if (!find_cmd(cmd, path, sizeof path)) return 0; /* exec says what is wrong */
    for (int depth = 0; depth < 4; depth++) {
        char next[4096];
        if (!script_interp(path, next, sizeof next)) break;
        if (!via[0]) snprintf(via, sizeof via, " (a script run by %s)", next);
        snprintf(path, sizeof path, "%s", next);
    }
    if (read_elf(path, &t, err, sizeof err) != 0) return 0; /* not ours to judge */
    const char *shown = via[0] ? cmd : path;
    if (t.cls != l.cls || t.machine != l.machine || t.data != l.data) {
        snprintf(msg, cap,
                 "cannot preload %s into %s%s: that is a %d-bit %s program, the library is "
                 "%d-bit %s (the loader would skip it and run the program without a limit)",
                 lib, shown, via, t.cls == ELFCLASS64 ? 64 : 32, machine_name(t.machine),
                 l.cls == ELFCLASS64 ? 64 : 32, machine_name(l.machine));
        return 1;
    }
    if (!t.phdrs) return 0;
    if (!t.interp_set) {
        snprintf(msg, cap,
                 "cannot preload %s into %s%s: it is statically linked (no dynamic loader), so "
                 "LD_PRELOAD cannot reach it",
                 lib, shown, via);
        return 1;
    }
    enum libc_kind tk = interp_libc(t.interp);
    if (l.needs != LIBC_UNKNOWN && tk != l.needs) {
        snprintf(msg, cap,
                 "cannot preload %s into %s%s: it runs on %s's loader (%s), the library is built "
                 "for %s%s",
                 lib, shown, via, tk == LIBC_MUSL ? "musl" : "glibc", t.interp,
                 l.needs == LIBC_MUSL ? "musl" : "glibc",
                 tk == LIBC_MUSL ? " (make MUSL=1 builds one for musl)" : "");
        return 1;
    }
    return 0;
}
