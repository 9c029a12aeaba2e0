/* SPDX-License-Identifier: MIT */
/* Hostile conditions for a preloaded library, one per subcommand. Each churns
 * through memory past a small soft limit (so the library samples, trims and logs)
 * after making the conditions bad, checks its own data and prints "ok" or exits 1.
 * usage: hostile churn | envclobber | maps HARD_MIB | emfile | seccomp | dlopen LIB */
#include "memlimit.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "hostile: %s:%d: %s\n", __FILE__, __LINE__, #c);                       \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* 64 blocks of 1 MiB, written and checked, freed, ten times: 640 MiB through malloc */
static void churn(void) {
    enum { N = 64, SZ = 1 << 20 };
    static unsigned char *b[N];
    for (int r = 0; r < 10; r++) {
        for (int i = 0; i < N; i++) {
            b[i] = malloc(SZ);
            CHECK(b[i]);
            memset(b[i], (r * N + i) & 0xff, SZ);
        }
        for (int i = 0; i < N; i++) {
            CHECK(b[i][0] == ((r * N + i) & 0xff) && b[i][SZ - 1] == ((r * N + i) & 0xff));
            free(b[i]);
        }
    }
}

/* What redis, postgres and nginx do to set their process title: write over the
 * environment strings in place. */
static int envclobber(void) {
    for (char **e = environ; *e; e++)
        memset(*e, 'x', strlen(*e));
    churn();
    return 0;
}

/* At a hard limit, a private anonymous mapping past it is refused; a shared one
 * (shmem), a PROT_NONE reservation and a file mapping are not memory of ours. */
static int maps(long hard_mib) {
    size_t big = (size_t)hard_mib * 2 << 20;
    void *p = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("private %zu MiB: %s\n", big >> 20, p == MAP_FAILED ? strerror(errno) : "mapped");
    CHECK(p == MAP_FAILED && errno == ENOMEM);
    p = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    printf("shared %zu MiB: %s\n", big >> 20, p == MAP_FAILED ? strerror(errno) : "mapped");
    CHECK(p != MAP_FAILED);
    memset(p, 1, 1 << 20);
    munmap(p, big);
    p = mmap(NULL, (size_t)8 << 30, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    printf("reserved 8 GiB PROT_NONE: %s\n", p == MAP_FAILED ? strerror(errno) : "mapped");
    CHECK(p != MAP_FAILED);
    munmap(p, (size_t)8 << 30);
    return 0;
}

/* Every descriptor taken: the library's reads of /proc and cgroup files fail. */
static int emfile(void) {
    struct rlimit rl = {64, 64};
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    int fds[64], n = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) {
            CHECK(errno == EMFILE);
            break;
        }
        fds[n++] = fd;
    }
    churn();
    errno = 0;
    CHECK(open("/dev/null", O_RDONLY) < 0 && errno == EMFILE); /* nothing of ours leaked */
    for (int i = 0; i < n; i++)
        close(fds[i]);
    churn(); /* and it sees again */
    return 0;
}

/* A sandbox that refuses open/openat with EPERM from here on. */
static int seccomp(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_open, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0);
    errno = 0;
    CHECK(open("/proc/self/statm", O_RDONLY) < 0 && errno == EPERM);
    churn();
    return 0;
}

/* The library loaded with dlopen by an unaware program: the API works through
 * dlsym, a callback thread runs, and dlclose (the library stays mapped) is safe. */
static _Atomic int calls;
static size_t cb(enum memlimit_level level, size_t want, void *arg) {
    (void)level, (void)arg;
    void *p = malloc(4096); /* a callback that allocates */
    free(p);
    (void)want;
    calls++;
    return 0;
}
static int dlopen_case(const char *lib) {
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    CHECK(h);
    __typeof__(memlimit_register) *reg = (__typeof__(reg))dlsym(h, "memlimit_register");
    __typeof__(memlimit_unregister) *unreg = (__typeof__(unreg))dlsym(h, "memlimit_unregister");
    __typeof__(memlimit_level) *level = (__typeof__(level))dlsym(h, "memlimit_level");
    __typeof__(memlimit_set_limit) *set = (__typeof__(set))dlsym(h, "memlimit_set_limit");
    CHECK(reg && unreg && level && set);
    int id = reg(cb, NULL, 0);
    printf("registered %d, level %d\n", id, level());
    CHECK(id >= 0);
    CHECK(set(8 << 20) >= 0);
    churn(); /* malloc is libc's here: the library does not interpose */
    /* but its thread samples on its own: 64 MiB held past the 8 MiB limit */
    unsigned char *hold = malloc(64 << 20);
    CHECK(hold);
    memset(hold, 7, 64 << 20);
    for (int i = 0; i < 300 && !calls; i++)
        usleep(10 * 1000);
    printf("callback called while 64 MiB were held: %s\n", calls ? "yes" : "no");
    CHECK(calls);
    free(hold);
    CHECK(unreg(id) == 0);
    id = reg(cb, NULL, 0); /* left registered: dlclose with the thread alive */
    CHECK(id >= 0);
    CHECK(dlclose(h) == 0);
    churn();
    usleep(300 * 1000); /* the memlimit thread keeps running its code */
    return 0;
}

int main(int argc, char **argv) {
    int rc = 2;
    if (argc >= 2 && !strcmp(argv[1], "churn")) churn(), rc = 0;
    if (argc >= 2 && !strcmp(argv[1], "envclobber")) rc = envclobber();
    if (argc >= 3 && !strcmp(argv[1], "maps")) rc = maps(atol(argv[2]));
    if (argc >= 2 && !strcmp(argv[1], "emfile")) rc = emfile();
    if (argc >= 2 && !strcmp(argv[1], "seccomp")) rc = seccomp();
    if (argc >= 3 && !strcmp(argv[1], "dlopen")) rc = dlopen_case(argv[2]);
    if (rc == 2)
        fprintf(stderr, "usage: hostile churn|envclobber|maps MIB|emfile|seccomp|dlopen LIB\n");
    if (rc == 0) puts("ok");
    return rc;
}
