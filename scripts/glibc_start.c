/* SPDX-License-Identifier: MIT */
#include <features.h> /* __GLIBC__ */
/* memlimit-show's start-up at the glibc floor (src/glibc_floor.h): from glibc 2.34
 * on, the startup file every program is linked with (Scrt1.o) calls
 * __libc_start_main@GLIBC_2.34, so any program built there needs 2.34. This
 * function takes Scrt1.o's call (linked with -Wl,--wrap=__libc_start_main: a
 * definition of that name would also take our own call below) and makes it at the
 * old version, which runs the same code. Scrt1.o of 2.34 passes no init function, and a glibc
 * before 2.34 would then run none of the program's constructors (it left them to the init
 * function): so one that runs them, as the old static part of crt1 did, is passed instead; a newer
 * glibc calls it instead of running them itself. */
#if defined(__GLIBC__) && (defined(__x86_64__) || defined(__aarch64__))
#include <stddef.h>

#if defined(__x86_64__)
#define START_VERSION "GLIBC_2.2.5"
#else
#define START_VERSION "GLIBC_2.17"
#endif

typedef int (*main_fn)(int, char **, char **);
typedef void (*init_fn)(int, char **, char **);

extern init_fn __init_array_start[] __attribute__((visibility("hidden")));
extern init_fn __init_array_end[] __attribute__((visibility("hidden")));
extern void _init(void);

int ml_old_start_main(main_fn main, int argc, char **argv, init_fn init, void (*fini)(void),
                      void (*rtld_fini)(void), void *stack_end);
__asm__(".symver ml_old_start_main,__libc_start_main@" START_VERSION);

static void run_constructors(int argc, char **argv, char **envp) {
    _init();
    size_t n = (size_t)(__init_array_end - __init_array_start);
    for (size_t i = 0; i < n; i++)
        __init_array_start[i](argc, argv, envp);
}

int __wrap___libc_start_main(main_fn main, int argc, char **argv, init_fn init, void (*fini)(void),
                             void (*rtld_fini)(void), void *stack_end) {
    return ml_old_start_main(main, argc, argv, init ? init : run_constructors, fini, rtld_fini,
                             stack_end);
}
#else
typedef int ml_glibc_start_unused; /* an empty file is not ISO C */
#endif
