/* SPDX-License-Identifier: MIT */
#include "caller.h"

#include <link.h>
#include <stdint.h>
#include <string.h>

enum ml_caller ml_caller_kind(const char *name) {
    if (!name) return ML_CALLER_APP;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    static const char *const loader[] = {"ld-linux", "ld-musl", "ld.so", "ld64.so"};
    static const char *const runtime[] = {"libc.so", "libc.musl", "libstdc++.so", "libgcc_s.so",
                                          "libc_malloc_debug.so"};
    for (size_t i = 0; i < sizeof loader / sizeof loader[0]; i++)
        if (strncmp(base, loader[i], strlen(loader[i])) == 0) return ML_CALLER_LOADER;
    for (size_t i = 0; i < sizeof runtime / sizeof runtime[0]; i++)
        if (strncmp(base, runtime[i], strlen(runtime[i])) == 0) return ML_CALLER_RUNTIME;
    return ML_CALLER_APP;
}

struct find {
    uintptr_t pc;
    enum ml_caller kind;
};

static int in_object(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    struct find *f = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (f->pc >= lo && f->pc - lo < ph->p_memsz) {
            f->kind = ml_caller_kind(info->dlpi_name);
            return 1;
        }
    }
    return 0;
}

enum ml_caller ml_caller_of(const void *pc) {
    struct find f = {.pc = (uintptr_t)pc, .kind = ML_CALLER_APP};
    if (pc) dl_iterate_phdr(in_object, &f);
    return f.kind;
}
