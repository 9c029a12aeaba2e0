/* A symbol of one loaded object, from that object's own dynamic hash table: what
 * dlsym would answer when asked about that object alone, without asking the dynamic
 * linker. A name the object lacks costs a hash probe, where dlsym formats an error
 * message with malloc (at start-up that initialised the C library's heap in every
 * process); and it needs no libdl, which glibc before 2.34 keeps apart. Nothing is
 * allocated, no lock is taken: callable from the allocator's first call. */
#ifndef ML_OBJSYM_H
#define ML_OBJSYM_H

#include <link.h>
#include <stdbool.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* A loaded object's tables, found once by ml_objsym_open for all its lookups (sym
 * NULL: it has none). */
struct ml_objsym_obj {
    uintptr_t base; /* load bias */
    const ElfW(Sym) * sym;
    const char *str;
    const ElfW(Half) * versym;
    const ElfW(Verdef) * verdef;
    const uint32_t *gnu_hash;     /* DT_GNU_HASH */
    const ElfW(Word) * sysv_hash; /* DT_HASH */
};

/* The object dl_iterate_phdr shows as info. */
struct ml_objsym_obj ml_objsym_open(const struct dl_phdr_info *info);

enum ml_objsym_result {
    ML_OBJSYM_FOUND,
    ML_OBJSYM_ABSENT, /* the object defines no such name (at that version) */
    ML_OBJSYM_ASK,    /* only the dynamic linker can answer: an IFUNC, no hash table */
};

/* name as the object defines it: at version (exactly, hidden versions included, as
 * dlvsym), or with version NULL at its default version or without one (as dlsym).
 * *addr is set when FOUND. */
enum ml_objsym_result ml_objsym(const struct ml_objsym_obj *o, const char *name,
                                const char *version, void **addr);

/* name as a lookup in the program's scope finds it: the first loaded object, in
 * dl_iterate_phdr's order (for the objects loaded at start-up, the dynamic linker's
 * lookup order), that defines it; with after not 0, the first after the object whose
 * load bias that is (RTLD_NEXT from it). dlsym's stand-in where glibc before 2.34
 * keeps dlsym in libdl.so.2 and the program has not loaded it; an object only the
 * dynamic linker could answer for is passed over. NULL if none. */
void *ml_objsym_scope(const char *name, const char *version, uintptr_t after);

#pragma GCC visibility pop

#endif
