/* SPDX-License-Identifier: MIT */
/* A loaded object's dynamic symbol by name: its GNU hash table (or the older SysV
 * one), checked against its version definitions as the dynamic linker checks them. */
#include "objsym.h"

#include <link.h>
#include <string.h>

/* glibc relocates most of a loaded object's dynamic entries in place (musl does not,
 * and glibc leaves DT_VERDEF): an entry below the load bias is still an offset */
static uintptr_t dyn_ptr(uintptr_t base, ElfW(Addr) v) {
    return v < base ? base + v : v;
}

struct ml_objsym_obj ml_objsym_open(const struct dl_phdr_info *info) {
    uintptr_t base = info->dlpi_addr;
    struct ml_objsym_obj o = {.base = base};
    const ElfW(Dyn) *d = NULL;
    for (int i = 0; i < info->dlpi_phnum && !d; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            d = (const ElfW(Dyn) *)(base + info->dlpi_phdr[i].p_vaddr);
    for (; d && d->d_tag != DT_NULL; d++) {
        uintptr_t p = dyn_ptr(base, d->d_un.d_ptr);
        switch (d->d_tag) {
        case DT_SYMTAB:
            o.sym = (const ElfW(Sym) *)p;
            break;
        case DT_STRTAB:
            o.str = (const char *)p;
            break;
        case DT_VERSYM:
            o.versym = (const ElfW(Half) *)p;
            break;
        case DT_VERDEF:
            o.verdef = (const ElfW(Verdef) *)p;
            break;
        case DT_GNU_HASH:
            o.gnu_hash = (const uint32_t *)p;
            break;
        case DT_HASH:
            o.sysv_hash = (const ElfW(Word) *)p;
            break;
        }
    }
    return o;
}

/* the name of version index ndx among the object's definitions; NULL for the base
 * (the object's own name) and for an index it does not define (0 local, 1 global) */
static const char *version_name(const struct ml_objsym_obj *t, unsigned ndx) {
    const ElfW(Verdef) *v = t->verdef;
    while (v) {
        if (v->vd_ndx == ndx && !(v->vd_flags & VER_FLG_BASE)) {
            const ElfW(Verdaux) *a = (const ElfW(Verdaux) *)((const char *)v + v->vd_aux);
            return t->str + a->vda_name;
        }
        v = v->vd_next ? (const ElfW(Verdef) *)((const char *)v + v->vd_next) : NULL;
    }
    return NULL;
}

/* The dynamic linker's rule for dlvsym and dlsym (check_match): asked for a version,
 * only a symbol at that version matches, hidden or not (in an object without
 * versions, any symbol); asked for none, any symbol but a hidden (non-default)
 * version. */
static bool version_matches(const struct ml_objsym_obj *t, uint32_t i, const char *version) {
    if (!t->versym) return true;
    unsigned ndx = t->versym[i] & 0x7fff;
    if (!version) return ndx <= 1 || !(t->versym[i] & 0x8000);
    const char *have = version_name(t, ndx);
    return have && strcmp(have, version) == 0;
}

/* 1 found, 0 not this one, -1 the dynamic linker must answer (ELF64_ST_*: the
 * same as ELF32_ST_* on st_info) */
static int candidate(const struct ml_objsym_obj *t, uint32_t i, const char *name,
                     const char *version) {
    const ElfW(Sym) *s = &t->sym[i];
    if (s->st_shndx == SHN_UNDEF || ELF64_ST_BIND(s->st_info) == STB_LOCAL ||
        strcmp(t->str + s->st_name, name) != 0 || !version_matches(t, i, version))
        return 0;
    int type = ELF64_ST_TYPE(s->st_info);
    return type == STT_GNU_IFUNC || type == STT_TLS ? -1 : 1;
}

static int gnu_lookup(const struct ml_objsym_obj *t, const char *name, const char *version,
                      uint32_t *at) {
    uint32_t h = 5381;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = h * 33 + *c;
    const uint32_t nbuckets = t->gnu_hash[0], symoffset = t->gnu_hash[1], nbloom = t->gnu_hash[2],
                   shift = t->gnu_hash[3];
    if (!nbuckets || !nbloom) return 0;
    const ElfW(Addr) *bloom = (const ElfW(Addr) *)(t->gnu_hash + 4);
    const unsigned bits = sizeof(ElfW(Addr)) * 8;
    ElfW(Addr) word = bloom[(h / bits) % nbloom];
    ElfW(Addr) mask = ((ElfW(Addr))1 << (h % bits)) | ((ElfW(Addr))1 << ((h >> shift) % bits));
    if ((word & mask) != mask) return 0;
    const uint32_t *buckets = (const uint32_t *)(bloom + nbloom);
    const uint32_t *chain = buckets + nbuckets;
    uint32_t i = buckets[h % nbuckets];
    if (i < symoffset) return 0;
    for (;; i++) {
        uint32_t ch = chain[i - symoffset];
        if ((ch | 1) == (h | 1)) {
            int r = candidate(t, i, name, version);
            if (r) {
                *at = i;
                return r;
            }
        }
        if (ch & 1) return 0;
    }
}

static int sysv_lookup(const struct ml_objsym_obj *t, const char *name, const char *version,
                       uint32_t *at) {
    unsigned long h = 0;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        h = (h << 4) + *c;
        unsigned long g = h & 0xf0000000;
        h ^= g >> 24;
        h &= ~g;
    }
    const ElfW(Word) nbucket = t->sysv_hash[0], *bucket = t->sysv_hash + 2,
                     *chain = bucket + nbucket;
    if (!nbucket) return 0;
    for (ElfW(Word) i = bucket[h % nbucket]; i; i = chain[i]) {
        int r = candidate(t, i, name, version);
        if (r) {
            *at = i;
            return r;
        }
    }
    return 0;
}

enum ml_objsym_result ml_objsym(const struct ml_objsym_obj *o, const char *name,
                                const char *version, void **addr) {
    if (!o->sym || !o->str || (!o->gnu_hash && !o->sysv_hash)) return ML_OBJSYM_ASK;
    uint32_t i = 0;
    int r = o->gnu_hash ? gnu_lookup(o, name, version, &i) : sysv_lookup(o, name, version, &i);
    if (r < 0) return ML_OBJSYM_ASK;
    if (r == 0) return ML_OBJSYM_ABSENT;
    *addr = (void *)(o->base + o->sym[i].st_value);
    return ML_OBJSYM_FOUND;
}

struct scope_arg {
    const char *name, *version;
    uintptr_t after;
    bool skipping;
    void *found;
};

static int scope_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    struct scope_arg *a = arg;
    if (a->skipping) {
        a->skipping = info->dlpi_addr != a->after;
        return 0;
    }
    struct ml_objsym_obj o = ml_objsym_open(info);
    return ml_objsym(&o, a->name, a->version, &a->found) == ML_OBJSYM_FOUND;
}

void *ml_objsym_scope(const char *name, const char *version, uintptr_t after) {
    struct scope_arg a = {name, version, after, after != 0, NULL};
    return dl_iterate_phdr(scope_cb, &a) == 1 ? a.found : NULL;
}
