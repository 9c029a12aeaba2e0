#include "sysio.h"
#include "elfsym.h"
#include "rawmem.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* a range of the mapped file, checked: NULL if [off, off+len) is not inside */
static const void *at(const uint8_t *f, uint64_t size, uint64_t off, uint64_t len) {
    if (off > size || len > size - off) return NULL;
    return f + off;
}

size_t ml_elf_note_build_id(const void *notes, size_t len, const uint8_t **id) {
    const uint8_t *p = notes, *end = p + len;
    while ((size_t)(end - p) >= sizeof(ElfW(Nhdr))) {
        ElfW(Nhdr) n;
        memcpy(&n, p, sizeof n);
        size_t name_sz = ((size_t)n.n_namesz + 3) & ~(size_t)3;
        size_t desc_sz = ((size_t)n.n_descsz + 3) & ~(size_t)3;
        p += sizeof n;
        if (name_sz > (size_t)(end - p) || desc_sz > (size_t)(end - p) - name_sz) return 0;
        if (n.n_type == NT_GNU_BUILD_ID && n.n_namesz == 4 && memcmp(p, "GNU", 4) == 0 &&
            n.n_descsz > 0) {
            *id = p + name_sz;
            return n.n_descsz;
        }
        p += name_sz + desc_sz;
    }
    return 0;
}

/* (st_info: binding in the high 4 bits, type in the low 4, in both ELF classes) */
/* how good a name is among symbols at one address: global first, then without a '.'
 * (gcc's foo.cold, foo.part.0, foo.localalias) */
static int rank(const ElfW(Sym) * s, const char *name) {
    return ((s->st_info >> 4) != STB_LOCAL) * 2 + !strchr(name, '.');
}

static bool lookup(const uint8_t *f, uint64_t size, uint64_t addr, const uint8_t *want_id,
                   size_t want_len, char *name, size_t cap, uint64_t *off) {
    const ElfW(Ehdr) *eh = at(f, size, 0, sizeof *eh);
    if (!eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) ||
        eh->e_shentsize != sizeof(ElfW(Shdr)) || eh->e_shnum == 0)
        return false;
    const ElfW(Shdr) *sh = at(f, size, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof *sh);
    if (!sh || ((uintptr_t)sh & (_Alignof(ElfW(Shdr)) - 1))) return false;
    const ElfW(Shdr) *symtab = NULL, *dynsym = NULL;
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type == SHT_SYMTAB && !symtab) symtab = &sh[i];
        if (sh[i].sh_type == SHT_DYNSYM && !dynsym) dynsym = &sh[i];
        if (sh[i].sh_type == SHT_NOTE && want_id) {
            const void *notes = at(f, size, sh[i].sh_offset, sh[i].sh_size);
            const uint8_t *id;
            size_t n = notes ? ml_elf_note_build_id(notes, sh[i].sh_size, &id) : 0;
            if (n && (n != want_len || memcmp(id, want_id, n) != 0))
                return false; /* another build */
        }
    }
    const ElfW(Shdr) *st = symtab ? symtab : dynsym;
    if (!st || st->sh_entsize != sizeof(ElfW(Sym)) || st->sh_link >= eh->e_shnum) return false;
    const ElfW(Shdr) *strs = &sh[st->sh_link];
    const ElfW(Sym) *syms = at(f, size, st->sh_offset, st->sh_size);
    const char *str = at(f, size, strs->sh_offset, strs->sh_size);
    if (!syms || !str || ((uintptr_t)syms & (_Alignof(ElfW(Sym)) - 1)) || strs->sh_size == 0 ||
        str[strs->sh_size - 1] != '\0')
        return false;
    const ElfW(Sym) *best = NULL;
    for (uint64_t i = 0, n = st->sh_size / sizeof *syms; i < n; i++) {
        const ElfW(Sym) *s = &syms[i];
        int type = s->st_info & 0xf;
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s->st_shndx == SHN_UNDEF ||
            s->st_name >= strs->sh_size || addr < s->st_value || addr - s->st_value >= s->st_size)
            continue;
        /* the innermost (highest start), then the better name */
        if (!best || s->st_value > best->st_value ||
            (s->st_value == best->st_value &&
             rank(s, str + s->st_name) > rank(best, str + best->st_name)))
            best = s;
    }
    if (!best) return false;
    const char *nm = str + best->st_name;
    size_t l = strlen(nm);
    if (cap) {
        if (l >= cap) l = cap - 1;
        memcpy(name, nm, l);
        name[l] = '\0';
    }
    *off = addr - best->st_value;
    return true;
}

bool ml_elf_symbol(const char *path, uint64_t addr, const uint8_t *build_id, size_t id_len,
                   char *name, size_t cap, uint64_t *off) {
    int fd = ml_open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK); /* (a FIFO: never wait) */
    if (fd < 0) return false;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(ElfW(Ehdr))) {
        close(fd);
        return false;
    }
    uint64_t size = (uint64_t)st.st_size;
    void *m = ml_raw_map_file(fd, (size_t)size);
    close(fd);
    if (!m) return false;
    bool ok = lookup(m, size, addr, build_id, id_len, name, cap, off);
    ml_raw_unmap(m, (size_t)size);
    return ok;
}
