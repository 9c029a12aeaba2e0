/* SPDX-License-Identifier: MIT */
/* Fork racing the process's first operator new of each variant, made by a C++ plugin
 * loaded RTLD_LOCAL (the C++ runtime outside the global scope, where finding its
 * operator new takes longest). One thread makes the first call of every variant while
 * the main thread forks; each child makes every variant's first call itself and exits.
 * A child that does not exit within 10 s hangs: it is killed, and the run fails.
 * usage: forkmain PLUGIN LIB... -> exit 0, 1 (a child hung) or 3 (set-up) */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int (*first_news)(void);
static atomic_int done;

static void *racer(void *arg) {
    (void)arg;
    if (first_news() != 0) _exit(4);
    atomic_store(&done, 1);
    return NULL;
}

/* Waits for every child until the deadline; the number that hung (then killed), or -1
 * when one failed. */
static int reap(pid_t *pids, int n) {
    int hung = 0, failed = 0;
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += 10;
    for (int i = 0; i < n; i++) {
        int st;
        pid_t r;
        struct timespec now;
        while ((r = waitpid(pids[i], &st, WNOHANG)) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
                break;
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        }
        if (r == pids[i]) {
            failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
            continue;
        }
        kill(pids[i], SIGKILL);
        waitpid(pids[i], NULL, 0);
        hung++;
    }
    return failed && !hung ? -1 : hung;
}

int main(int argc, char **argv) {
    for (int i = 2; i < argc; i++)
        if (!dlopen(argv[i], RTLD_NOW | RTLD_LOCAL)) return fprintf(stderr, "%s\n", dlerror()), 3;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) return fprintf(stderr, "%s\n", dlerror()), 3;
    first_news = (int (*)(void))dlsym(h, "plugin_first_news");
    if (!first_news) return fprintf(stderr, "no plugin_first_news\n"), 3;
    pthread_t t;
    if (pthread_create(&t, NULL, racer, NULL)) return 3;
    /* fork without waiting while the racer runs: every fork is a chance to land in a
     * lookup; the children are reaped after */
    enum { MAX = 64 };
    pid_t pids[MAX];
    int forks = 0;
    while (!atomic_load(&done) && forks < MAX) {
        pid_t pid = fork();
        if (pid < 0) return perror("fork"), 3;
        if (pid == 0) _exit(first_news());
        pids[forks++] = pid;
    }
    pthread_join(t, NULL);
    int hung = reap(pids, forks);
    if (hung < 0) return printf("a child failed\n"), 1;
    if (hung) return printf("%d of %d children hung in their first operator new\n", hung, forks), 1;
    printf("%d children forked during the first operator new calls: ok\n", forks);
    return 0;
}
