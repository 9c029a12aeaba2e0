/* SPDX-License-Identifier: MIT */
/* Namespace changes the kernel refuses to a threaded process, made by a program
 * whose memory is watched by the memlimit thread. Prints what each call returned, so
 * that a run under the library can be compared line by line with one without it:
 * the library must change no answer. usage:
 *   nsprobe calls HOLD_MIB   hold HOLD_MIB (below or past the limit), then:
 *     unshare(CLONE_NEWUSER) from a thread while 3 others allocate (EINVAL: the
 *     program's own threads), unshare(CLONE_NEWNS) and setns back, unshare
 *     (CLONE_NEWUSER) single-threaded, the same in a fork child and a vfork child.
 *     With the library, the memlimit thread must be running before each call and
 *     again after (say "thread: ..." lines, compared only when preloaded).
 *   nsprobe nothreads CMD... run CMD where no thread can be created (seccomp)
 *   nsprobe holes MIB        churn MIB through a heap of holes (trims give it back),
 *     then say how many memlimit threads run and what pthread_create said. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static bool preloaded(void) {
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "libmemlimit");
}

static void churn(size_t bytes) {
    for (size_t done = 0; done < bytes; done += 1 << 20) {
        char *p = malloc(1 << 20);
        if (!p) return;
        memset(p, 1, 1 << 20);
        free(p);
    }
}

/* with the library: its thread runs (started by the next samples), within 5 s */
static void expect_thread(const char *when) {
    if (!preloaded()) return;
    for (int i = 0; i < 500; i++) {
        if (threads_named("memlimit") == 1) {
            printf("thread: running %s\n", when);
            return;
        }
        churn(4 << 20); /* samples: the slow path starts it */
        usleep(10000);
    }
    printf("thread: NOT running %s\n", when);
    exit(3);
}

static void say(const char *what, int r, int err) {
    printf("%s: %d%s%s\n", what, r, r ? " " : "", r ? strerror(err) : "");
    fflush(stdout);
}

static atomic_bool stop;
static void *allocator(void *unused) {
    (void)unused;
    while (!atomic_load(&stop))
        churn(8 << 20);
    return NULL;
}
static void *caller(void *unused) {
    (void)unused;
    int r = unshare(CLONE_NEWUSER);
    say("unshare(CLONE_NEWUSER) from a thread while 3 allocate", r, errno);
    return NULL;
}

static int calls(size_t hold_mib) {
    char *hold = malloc(hold_mib << 20);
    if (!hold) return perror("malloc"), 2;
    memset(hold, 7, hold_mib << 20);
    expect_thread("before the calls");

    pthread_t a[3], c;
    for (int i = 0; i < 3; i++)
        pthread_create(&a[i], NULL, allocator, NULL);
    pthread_create(&c, NULL, caller, NULL);
    pthread_join(c, NULL);
    atomic_store(&stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(a[i], NULL);
    expect_thread("after the refused call");

    int mnt = open("/proc/self/ns/mnt", O_RDONLY);
    int r = unshare(CLONE_NEWNS);
    say("unshare(CLONE_NEWNS)", r, errno);
    expect_thread("after unshare(CLONE_NEWNS)");
    r = setns(mnt, CLONE_NEWNS);
    say("setns(the first mount namespace, CLONE_NEWNS)", r, errno);
    close(mnt);
    expect_thread("after setns");

    /* a fork child, its own thread started, then a new user namespace there */
    pid_t pid = fork();
    if (pid == 0) {
        churn(16 << 20);
        expect_thread("in a fork child");
        r = unshare(CLONE_NEWUSER);
        say("fork child: unshare(CLONE_NEWUSER)", r, errno);
        fflush(stdout);
        _exit(r ? 1 : 0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("fork child: status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));

    /* a vfork child shares our memory and our thread's flags, not our threads */
    static volatile int vr, verr;
    pid = vfork();
    if (pid == 0) {
        vr = unshare(CLONE_NEWUSER);
        verr = errno;
        _exit(vr ? 1 : 0);
    }
    waitpid(pid, &st, 0);
    say("vfork child: unshare(CLONE_NEWUSER)", vr, verr);

    r = unshare(CLONE_NEWUSER);
    say("unshare(CLONE_NEWUSER)", r, errno);
    expect_thread("in the new user namespace");
    free(hold);
    return 0;
}

/* no thread can be created from here on, across exec (seccomp): clone3 is unknown
 * (glibc then tries clone), clone of a thread refused */
static int no_threads(char **cmd) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
        return perror("seccomp"), 2;
    execvp(cmd[0], cmd);
    return perror(cmd[0]), 127;
}

/* holes: freed blocks between kept ones, which only a trim gives back */
static int holes(size_t mib) {
    enum { N = 4096, SZ = 64 << 10 };
    static char *keep[N];
    for (size_t round = 0; round < mib / (N * (size_t)SZ >> 20) + 1; round++) {
        for (int i = 0; i < N; i++) {
            keep[i] = malloc(SZ - 64);
            if (keep[i]) memset(keep[i], 1, SZ - 64);
        }
        for (int i = 0; i < N; i += 2)
            free(keep[i]);
        churn(8 << 20);
        for (int i = 1; i < N; i += 2)
            free(keep[i]);
    }
    pthread_t t;
    int err = pthread_create(&t, NULL, allocator, NULL);
    printf("holes: %zu MiB churned, %d memlimit threads, pthread_create: %s\n", mib,
           threads_named("memlimit"), strerror(err));
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && !strcmp(argv[1], "calls")) return calls(strtoul(argv[2], NULL, 10));
    if (argc >= 3 && !strcmp(argv[1], "nothreads")) return no_threads(argv + 2);
    if (argc == 3 && !strcmp(argv[1], "holes")) return holes(strtoul(argv[2], NULL, 10));
    fprintf(stderr, "usage: nsprobe calls HOLD_MIB | nothreads CMD... | holes MIB\n");
    return 2;
}
