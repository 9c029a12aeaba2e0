/* SPDX-License-Identifier: MIT */
/* caller.c: the kind of object a return address is in (the hard limit's reserves). */
#include <criterion/criterion.h>
#include <gnu/libc-version.h>
#include <link.h>
#include <stdlib.h>

#include "caller.h"

Test(caller, kinds_by_name) {
    cr_expect_eq(ml_caller_kind("/lib64/ld-linux-x86-64.so.2"), ML_CALLER_LOADER);
    cr_expect_eq(ml_caller_kind("/lib/ld-musl-x86_64.so.1"), ML_CALLER_LOADER);
    cr_expect_eq(ml_caller_kind("/lib/x86_64-linux-gnu/libc.so.6"), ML_CALLER_RUNTIME);
    cr_expect_eq(ml_caller_kind("libstdc++.so.6"), ML_CALLER_RUNTIME);
    cr_expect_eq(ml_caller_kind("/lib/x86_64-linux-gnu/libgcc_s.so.1"), ML_CALLER_RUNTIME);
    cr_expect_eq(ml_caller_kind(""), ML_CALLER_APP); /* the executable */
    cr_expect_eq(ml_caller_kind("/usr/lib/libcurl.so.4"), ML_CALLER_APP);
    cr_expect_eq(ml_caller_kind("/opt/app/libc.so.6.bak/libfoo.so"), ML_CALLER_APP);
    cr_expect_eq(ml_caller_kind(NULL), ML_CALLER_APP);
}

/* an address inside the first loaded object whose file name has that kind (found by
 * name, not by a symbol: sanitizers intercept __tls_get_addr, abort and friends) */
struct want {
    enum ml_caller kind;
    const void *pc;
};
static int find_kind(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    struct want *w = arg;
    if (!info->dlpi_name[0] || ml_caller_kind(info->dlpi_name) != w->kind) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_LOAD) {
            w->pc = (const char *)info->dlpi_addr + info->dlpi_phdr[i].p_vaddr + 16;
            return 1;
        }
    return 0;
}

Test(caller, kinds_by_address) {
    struct want loader = {ML_CALLER_LOADER, NULL}, runtime = {ML_CALLER_RUNTIME, NULL};
    dl_iterate_phdr(find_kind, &loader);
    dl_iterate_phdr(find_kind, &runtime);
    cr_assert(loader.pc && runtime.pc);
    cr_expect_eq(ml_caller_of(loader.pc), ML_CALLER_LOADER);
    cr_expect_eq(ml_caller_of(runtime.pc), ML_CALLER_RUNTIME);
    cr_expect_eq(ml_caller_of((void *)&gnu_get_libc_version), ML_CALLER_RUNTIME);
    cr_expect_eq(ml_caller_of((void *)&ml_caller_kind), ML_CALLER_APP); /* this test program */
    cr_expect_eq(ml_caller_of(NULL), ML_CALLER_APP);
}

Test(caller, entry_points) {
    /* functions that hand memory to their caller: classed by that caller */
    cr_expect(ml_caller_is_entry("_Znwm"));
    cr_expect(ml_caller_is_entry("_ZnamSt11align_val_t"));
    cr_expect(ml_caller_is_entry("__strdup"));
    cr_expect(ml_caller_is_entry("getdelim"));
    cr_expect(ml_caller_is_entry("_IO_new_fopen"));
    cr_expect(ml_caller_is_entry("__vasprintf_chk"));
    /* the runtime's own needs keep the runtime's reserve */
    cr_expect_not(ml_caller_is_entry("_IO_file_doallocate"));
    cr_expect_not(ml_caller_is_entry("__cxa_allocate_exception"));
    cr_expect_not(ml_caller_is_entry("printf"));
    cr_expect_not(ml_caller_is_entry(NULL));
    cr_expect_not(ml_caller_is_entry("_Z3foov"));
}
