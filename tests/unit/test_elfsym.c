#include <criterion/criterion.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfsym.h"

/* static: in .symtab only (the unit-test binary is linked without -rdynamic) */
static __attribute__((noinline)) int elfsym_probe(int x) {
    __asm__ volatile("" : "+r"(x));
    return x * 3 + 1;
}

/* global: in .symtab too (and not in .dynsym: no -rdynamic) */
__attribute__((noinline)) int elfsym_global_probe(int x) {
    __asm__ volatile("" : "+r"(x));
    return x * 5 + 2;
}

/* the program's load bias and its build id, as the profile writer finds them */
struct self {
    uintptr_t bias;
    const uint8_t *id;
    size_t id_len;
};
static int first(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    struct self *s = arg;
    s->bias = info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_NOTE && !s->id_len)
            s->id_len =
                ml_elf_note_build_id((const void *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr),
                                     info->dlpi_phdr[i].p_memsz, &s->id);
    return 1; /* the program comes first */
}

Test(elfsym, names_a_static_function_of_the_program) {
    struct self s = {0};
    dl_iterate_phdr(first, &s);
    cr_expect_eq(elfsym_probe(1), 4);
    uint64_t addr = (uintptr_t)&elfsym_probe - s.bias, off = 99;
    char name[64];
    cr_assert(ml_elf_symbol("/proc/self/exe", addr + 2, NULL, 0, name, sizeof name, &off));
    cr_expect_str_eq(name, "elfsym_probe");
    cr_expect_eq(off, 2);
    cr_expect_eq(elfsym_global_probe(1), 7);
    cr_assert(ml_elf_symbol("/proc/self/exe", (uintptr_t)&elfsym_global_probe - s.bias, NULL, 0,
                            name, sizeof name, &off));
    cr_expect_str_eq(name, "elfsym_global_probe");
    cr_expect_eq(off, 0);
    /* with the program's own build id (gcc on Debian links one in) */
    cr_expect_gt(s.id_len, 0, "no build id in the test binary");
    cr_expect(ml_elf_symbol("/proc/self/exe", addr, s.id, s.id_len, name, sizeof name, &off));
    /* a short buffer: cut, terminated */
    char small[5];
    cr_assert(ml_elf_symbol("/proc/self/exe", addr, NULL, 0, small, sizeof small, &off));
    cr_expect_str_eq(small, "elfs");
}

Test(elfsym, refuses_another_build_and_what_is_not_elf) {
    struct self s = {0};
    dl_iterate_phdr(first, &s);
    uint64_t addr = (uintptr_t)&elfsym_probe - s.bias, off;
    char name[64];
    /* a build id that differs: the file is not what was loaded */
    uint8_t other[20];
    memset(other, 0xab, sizeof other);
    cr_expect(!ml_elf_symbol("/proc/self/exe", addr, other, sizeof other, name, sizeof name, &off));
    /* no function there, no file, not ELF, cut short */
    cr_expect(!ml_elf_symbol("/proc/self/exe", 1, NULL, 0, name, sizeof name, &off));
    cr_expect(!ml_elf_symbol("/no/such/file", addr, NULL, 0, name, sizeof name, &off));
    cr_expect(!ml_elf_symbol("/proc/self/status", addr, NULL, 0, name, sizeof name, &off));
    cr_expect(!ml_elf_symbol("/dev/null", addr, NULL, 0, name, sizeof name, &off));
    char path[] = "/tmp/memlimit-elfsym-XXXXXX";
    int out = mkstemp(path), in = open("/proc/self/exe", O_RDONLY);
    cr_assert(out >= 0 && in >= 0);
    struct stat st;
    cr_assert_eq(fstat(in, &st), 0);
    static char buf[1 << 16];
    /* the headers only (the section table is at the end of the file) */
    ssize_t n = read(in, buf, sizeof buf);
    cr_assert_gt(n, 64);
    cr_assert_eq(write(out, buf, (size_t)n), n);
    cr_expect(!ml_elf_symbol(path, addr, NULL, 0, name, sizeof name, &off));
    /* section headers pointing past the end */
    ElfW(Ehdr) eh;
    memcpy(&eh, buf, sizeof eh);
    eh.e_shoff = (uint64_t)st.st_size * 4;
    cr_assert_eq(pwrite(out, &eh, sizeof eh, 0), (ssize_t)sizeof eh);
    cr_expect(!ml_elf_symbol(path, addr, NULL, 0, name, sizeof name, &off));
    close(in);
    close(out);
    unlink(path);
}

Test(elfsym, build_id_notes) {
    /* one note of another kind, then the build id */
    uint8_t notes[64] = {0};
    ElfW(Nhdr) a = {.n_namesz = 4, .n_descsz = 4, .n_type = 1}, b = a;
    b.n_type = NT_GNU_BUILD_ID;
    b.n_descsz = 6;
    memcpy(notes, &a, sizeof a);
    memcpy(notes + 12, "GNU", 4);
    memcpy(notes + 20, &b, sizeof b);
    memcpy(notes + 32, "GNU", 4);
    memcpy(notes + 36, "\1\2\3\4\5\6", 6);
    const uint8_t *id = NULL;
    cr_expect_eq(ml_elf_note_build_id(notes, 44, &id), 6);
    cr_expect(id && memcmp(id, "\1\2\3\4\5\6", 6) == 0);
    /* cut short: no id, no read past the end */
    cr_expect_eq(ml_elf_note_build_id(notes, 40, &id), 0);
    cr_expect_eq(ml_elf_note_build_id(notes, 0, &id), 0);
}
