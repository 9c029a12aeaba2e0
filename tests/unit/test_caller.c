/* caller.c: the kind of object a return address is in (the hard limit's reserves). */
#include <criterion/criterion.h>
#include <dlfcn.h>
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

Test(caller, kinds_by_address) {
    void *tls_get_addr = dlsym(RTLD_DEFAULT, "__tls_get_addr"); /* in the dynamic loader */
    cr_assert(tls_get_addr);
    cr_expect_eq(ml_caller_of(tls_get_addr), ML_CALLER_LOADER);
    cr_expect_eq(ml_caller_of((void *)&abort), ML_CALLER_RUNTIME);
    cr_expect_eq(ml_caller_of((void *)&ml_caller_kind), ML_CALLER_APP); /* this test program */
    cr_expect_eq(ml_caller_of(NULL), ML_CALLER_APP);
}
