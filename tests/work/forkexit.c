/* SPDX-License-Identifier: MIT */
/* Hostile moments for an interposer: fork while other threads allocate (the child
 * must allocate and exit cleanly), and exit (with an atexit handler that allocates)
 * while threads are mid-allocation.
 * usage: forkexit fork [children=200] | forkexit exit | forkexit churn SECONDS */
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop;

static void *churn(void *arg) {
    unsigned s = (unsigned)(uintptr_t)arg + 1;
    void *slots[256] = {0};
    while (!stop) {
        s = s * 1103515245 + 12345;
        unsigned i = (s >> 8) % 256;
        free(slots[i]);
        slots[i] = malloc(16 + (s >> 4) % 65536);
        if (slots[i]) memset(slots[i], 1, 16);
    }
    for (int i = 0; i < 256; i++)
        free(slots[i]);
    return NULL;
}

/* runs in exit(), while the other threads still allocate */
static void at_exit_alloc(void) {
    void *p = malloc(1 << 20);
    if (p) memset(p, 1, 1 << 20);
    free(p);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "fork";
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)i);
    if (strcmp(mode, "churn") == 0) { /* allocate for a while, for tests that watch */
        sleep((unsigned)(argc > 2 ? atoi(argv[2]) : 3));
        stop = 1;
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
        return 0;
    }
    if (strcmp(mode, "exit") == 0) {
        atexit(at_exit_alloc);
        struct timespec d = {0, 5 * 1000 * 1000};
        nanosleep(&d, NULL);
        exit(0); /* threads still allocating */
    }
    int children = argc > 2 ? atoi(argv[2]) : 200, bad = 0;
    for (int c = 0; c < children; c++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* the child has one thread; every allocator lock must be usable */
            for (int i = 0; i < 2000; i++) {
                char *p = malloc(100 + (size_t)i * 37);
                if (!p) _exit(3);
                p[0] = 1;
                free(p);
            }
            void *big = malloc(4 << 20);
            memset(big, 2, 4 << 20);
            free(big);
            _exit(0);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) bad++;
    }
    stop = 1;
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    printf("forkexit: %d children, %d failed\n", children, bad);
    return bad ? 1 : 0;
}
