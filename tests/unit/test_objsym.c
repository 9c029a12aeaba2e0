/* SPDX-License-Identifier: MIT */
/* objsym.c against the dynamic linker itself: every answer is compared with dlsym or
 * dlvsym on the same object. The C library (GNU hash, versions, hidden compat
 * versions, an IFUNC), the vDSO (its dynamic section is never relocated), and two
 * small objects built here, one per hash table style, each with a hidden and a
 * default version of one name. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "objsym.h"

struct find {
    uintptr_t addr;
    struct ml_objsym_obj out;
    bool found;
};

static int find_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    struct find *f = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && f->addr >= lo && f->addr < lo + ph->p_memsz) {
            f->out = ml_objsym_open(info);
            f->found = f->out.sym != NULL;
            return 1;
        }
    }
    return 0;
}

/* the loaded object that contains p */
static struct ml_objsym_obj object_of(const void *p) {
    struct find f = {.addr = (uintptr_t)p};
    dl_iterate_phdr(find_cb, &f);
    cr_assert(f.found, "no loaded object with a dynamic section holds %p", p);
    return f.out;
}

static void *found(const struct ml_objsym_obj *o, const char *name, const char *version) {
    void *p = NULL;
    enum ml_objsym_result r = ml_objsym(o, name, version, &p);
    cr_assert_eq(r, ML_OBJSYM_FOUND, "%s@%s: result %d, not found", name, version ? version : "",
                 (int)r);
    return p;
}

static void absent(const struct ml_objsym_obj *o, const char *name, const char *version) {
    void *p = NULL;
    cr_expect_eq(ml_objsym(o, name, version, &p), ML_OBJSYM_ABSENT, "%s@%s is not absent", name,
                 version ? version : "");
}

#if defined(__x86_64__)
#define BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define BASE "GLIBC_2.17"
#endif
#ifdef BASE
#define BASE_OR_ANY BASE
#else
#define BASE_OR_ANY "GLIBC_2.0"
#endif

/* the C library: its handle (dlsym through it searches it first), its object */
static void *libc_handle(struct ml_objsym_obj *o) {
    Dl_info di;
    cr_assert(dladdr(dlsym(RTLD_DEFAULT, "__libc_start_main"), &di));
    void *h = dlopen(di.dli_fname, RTLD_NOW | RTLD_NOLOAD);
    cr_assert_not_null(h);
    *o = object_of(dlsym(h, "__libc_start_main"));
    return h;
}

Test(objsym, libc_as_dlsym_and_dlvsym) {
    struct ml_objsym_obj libc;
    void *h = libc_handle(&libc);
    const char *names[] = {"malloc",      "free",           "calloc",
                           "realloc",     "posix_memalign", "malloc_usable_size",
                           "malloc_trim", "mallopt",        "__libc_start_main"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        cr_expect_eq(found(&libc, names[i], NULL), dlsym(h, names[i]), "%s", names[i]);
#ifdef BASE
    cr_expect_eq(found(&libc, "malloc", BASE), dlvsym(h, "malloc", BASE));
#endif
#ifdef __x86_64__ /* (aarch64 began at 2.17: one pthread_cond_wait) */
    /* a hidden compat version and the default one are different functions here */
    void *old = found(&libc, "pthread_cond_wait", BASE);
    cr_expect_eq(old, dlvsym(h, "pthread_cond_wait", BASE));
    void *cur = found(&libc, "pthread_cond_wait", NULL);
    cr_expect_eq(cur, dlsym(h, "pthread_cond_wait"));
    cr_expect_neq(old, cur, "the default version is not the compat one");
    cr_expect_eq(found(&libc, "pthread_cond_wait", "GLIBC_2.3.2"), cur);
#endif
    dlclose(h);
    absent(&libc, "malloc", "GLIBC_0.0");
    absent(&libc, "ml_objsym_no_such_name", NULL);
    absent(&libc, "criterion_run_all_tests", NULL); /* defined, but by another object */
    void *p = NULL;
    /* an IFUNC: the address is its resolver's answer, which only the dynamic linker has */
    cr_expect_eq(ml_objsym(&libc, "strlen", NULL, &p), ML_OBJSYM_ASK);
}

Test(objsym, vdso_unrelocated) {
    uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    cr_assert(vdso, "no vDSO (booted with vdso=0?)");
    struct ml_objsym_obj o = object_of((const void *)vdso);
    void *h = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
    cr_assert_not_null(h, "the vDSO has no handle");
    void *want = dlsym(h, "__vdso_clock_gettime");
    if (!want) want = dlsym(h, "__kernel_clock_gettime"); /* aarch64 */
    cr_assert_not_null(want);
    Dl_info di;
    cr_assert(dladdr(want, &di) && di.dli_sname);
    cr_expect_eq(found(&o, di.dli_sname, NULL), want);
    dlclose(h);
}

/* One object per hash style: ml_objsym_f at a hidden V1 (returns 1) and the default
 * V2 (returns 2), and a variable. */
static void *build(const char *style, char *path, size_t cap) {
    char dir[] = "/tmp/ml-objsym-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char src[300], map[300], cmd[1200];
    snprintf(src, sizeof src, "%s/o.c", dir);
    snprintf(map, sizeof map, "%s/o.map", dir);
    snprintf(path, cap, "%s/o.so", dir);
    FILE *f = fopen(src, "w");
    cr_assert_not_null(f);
    fputs("int f1(void) { return 1; }\nint f2(void) { return 2; }\nint ml_objsym_var = 7;\n"
          "__asm__(\".symver f1,ml_objsym_f@V1\");\n__asm__(\".symver f2,ml_objsym_f@@V2\");\n",
          f);
    fclose(f);
    f = fopen(map, "w");
    cr_assert_not_null(f);
    fputs("V1 { global: ml_objsym_var; ml_objsym_f; local: *; };\n"
          "V2 { global: ml_objsym_f; } V1;\n",
          f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "cc -shared -fPIC -Wl,--hash-style=%s -Wl,--version-script=%s -o %s %s", style, map,
             path, src);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(h, "%s", dlerror());
    unlink(src), unlink(map);
    return h;
}

static void versions_in(const char *style) {
    char path[300];
    void *h = build(style, path, sizeof path);
    void *v2 = dlsym(h, "ml_objsym_f");
    struct ml_objsym_obj o = object_of(v2);
    cr_expect_eq(found(&o, "ml_objsym_f", NULL), v2, "%s: the default version", style);
    cr_expect_eq(((int (*)(void))v2)(), 2);
    void *v1 = found(&o, "ml_objsym_f", "V1");
    cr_expect_eq(v1, dlvsym(h, "ml_objsym_f", "V1"), "%s: the hidden version", style);
    cr_expect_eq(((int (*)(void))v1)(), 1);
    cr_expect_eq(found(&o, "ml_objsym_f", "V2"), v2);
    absent(&o, "ml_objsym_f", "V3");
    cr_expect_eq(found(&o, "ml_objsym_var", NULL), dlsym(h, "ml_objsym_var"));
    cr_expect_eq(*(int *)found(&o, "ml_objsym_var", "V1"), 7);
    absent(&o, "f1", NULL); /* local */
    absent(&o, "ml_objsym_missing", NULL);
    dlclose(h);
    unlink(path);
    *strrchr(path, '/') = '\0';
    rmdir(path);
}

/* No version script, but versions it needs from the C library: a version table in
 * which its own symbols have none. dlvsym passes over those; so must we. */
Test(objsym, unversioned_in_a_versioned_object) {
    char dir[] = "/tmp/ml-objsym-XXXXXX", src[300], so[300], cmd[800];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(src, sizeof src, "%s/p.c", dir);
    snprintf(so, sizeof so, "%s/p.so", dir);
    FILE *f = fopen(src, "w");
    cr_assert_not_null(f);
    fputs("#include <stdio.h>\nint ml_objsym_plain(void) { return puts(\"\"); }\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cc -shared -fPIC -o %s %s", so, src);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(h, "%s", dlerror());
    void *p = dlsym(h, "ml_objsym_plain");
    struct ml_objsym_obj o = object_of(p);
    cr_assert_not_null(o.versym, "no version table: the case is not built");
    cr_expect_eq(found(&o, "ml_objsym_plain", NULL), p);
    cr_expect_null(dlvsym(h, "ml_objsym_plain", BASE_OR_ANY));
    absent(&o, "ml_objsym_plain", BASE_OR_ANY);
    dlclose(h);
    unlink(so), unlink(src), rmdir(dir);
}

Test(objsym, gnu_hash_versions) {
    versions_in("gnu");
}

Test(objsym, sysv_hash_versions) {
    versions_in("sysv");
}

Test(objsym, scope_as_rtld_default_and_next) {
    void *m = dlsym(RTLD_DEFAULT, "malloc"); /* libc's, or a sanitizer runtime's */
    cr_expect_eq(ml_objsym_scope("malloc", NULL, 0), m);
#ifdef BASE
    cr_expect_eq(ml_objsym_scope("malloc", BASE, 0), dlvsym(RTLD_DEFAULT, "malloc", BASE));
#endif
    cr_expect_null(ml_objsym_scope("ml_objsym_no_such_name", NULL, 0));
    /* after the C library: nothing loaded after it defines malloc */
    struct ml_objsym_obj libc;
    dlclose(libc_handle(&libc));
    cr_expect_null(ml_objsym_scope("malloc", NULL, libc.base));
    /* after the program: the first object that follows it, as RTLD_NEXT from there */
    struct ml_objsym_obj prog = object_of((const void *)versions_in);
    cr_expect_eq(ml_objsym_scope("malloc", NULL, prog.base), m);
}
