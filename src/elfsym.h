/* Function names from an object file's own symbol table (.symtab), for the heap
 * profile's top sites: dladdr sees only the dynamic symbols, so a function of a
 * program linked without -rdynamic, or a static one anywhere, has no name there.
 * Read from the file when a profile is written, never on the allocation path: the
 * file is mapped read-only for the lookup (raw syscalls: nothing through our mmap),
 * its descriptor closed at once; nothing is allocated. */
#ifndef ML_ELFSYM_H
#define ML_ELFSYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* The function symbol of the ELF file at path that contains addr, an address as the
 * file links it (a loaded object's address minus its load bias): its name into
 * name[cap] (cut to fit, always terminated) and addr's offset into it in *off. From
 * .symtab, else .dynsym. When build_id (id_len bytes) is given and the file carries a
 * GNU build id that differs, the file is not the object that was loaded: false.
 * Among symbols at the same address a global one is preferred, and a plain name to a
 * compiler's "name.cold" or "name.localalias". */
bool ml_elf_symbol(const char *path, uint64_t addr, const uint8_t *build_id, size_t id_len,
                   char *name, size_t cap, uint64_t *off);

/* The GNU build id in notes of the given bytes (a PT_NOTE segment or SHT_NOTE
 * section): its length, with *id pointing into them, or 0. */
size_t ml_elf_note_build_id(const void *notes, size_t len, const uint8_t **id);

#pragma GCC visibility pop

#endif
