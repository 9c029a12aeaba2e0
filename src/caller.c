/* SPDX-License-Identifier: MIT */
#include "caller.h"

#include "have.h"

#include <dlfcn.h>
#ifdef __GLIBC__
#include <execinfo.h>
#endif
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

bool ml_caller_is_entry(const char *name) {
    if (!name) return false;
    while (*name == '_' && name[1] != 'Z') /* __strdup, _IO_new_fopen, __getdelim */
        name++;
    if (strncmp(name, "IO_new_", 7) == 0) name += 7;
    /* operator new and new[], every variant (libstdc++'s new[] calls new) */
    if (strncmp(name, "_Znwm", 5) == 0 || strncmp(name, "_Znam", 5) == 0) return true;
    static const char *const entry[] = {
        "strdup",
        "strndup",
        "wcsdup",
        "getline",
        "getdelim",
        "asprintf",
        "vasprintf",
        "asprintf_chk",
        "vasprintf_chk",
        "open_memstream",
        "open_wmemstream",
        "fopen",
        "fopen64",
        "fdopen",
        "fmemopen",
        "freopen",
        "freopen64",
        "popen",
        "realpath",
        "canonicalize_file_name",
        "get_current_dir_name",
        "getcwd",
        "tempnam",
        "opendir",
        "fdopendir",
        "scandir",
        "scandir64",
        "backtrace_symbols",
    };
    for (size_t i = 0; i < sizeof entry / sizeof entry[0]; i++)
        if (strcmp(name, entry[i]) == 0) return true;
    return false;
}

enum ml_caller ml_caller_outer(void) {
#ifdef __GLIBC__
    /* a refused allocation is rare, and only the band between the application's
     * reserve and the runtime's asks: a walk is affordable here */
    static __thread bool walking __attribute__((tls_model("initial-exec")));
    if (walking || !ML_HAVE(dladdr)) return ML_CALLER_RUNTIME;
    walking = true;
    void *pc[24];
    int n = backtrace(pc, 24);
    Dl_info me, in;
    enum ml_caller kind = ML_CALLER_RUNTIME;
    bool entry = false, ours = dladdr((void *)ml_caller_outer, &me) != 0;
    for (int i = 0; ours && i < n; i++) {
        void *at = (char *)pc[i] - 1; /* a return address: the call is the byte before */
        if (!dladdr(at, &in)) in = (Dl_info){0};
        if (in.dli_fbase == me.dli_fbase) continue; /* our own frames */
        enum ml_caller k = ml_caller_kind(in.dli_fname);
        if (k == ML_CALLER_RUNTIME) {
            /* an address in a hidden function has no name (dladdr checks sizes) */
            entry = entry || ml_caller_is_entry(in.dli_sname);
            continue;
        }
        kind = entry ? k : ML_CALLER_RUNTIME;
        break;
    }
    walking = false;
    return kind;
#else /* musl has no backtrace(): the direct caller decides */
    return ML_CALLER_RUNTIME;
#endif
}
