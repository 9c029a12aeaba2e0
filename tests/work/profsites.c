/* SPDX-License-Identifier: MIT */
/* Three allocation sites with known live shares (60%, 30%, 10% of live memory, in
 * blocks of different sizes) and a fourth that allocates much more but frees it all.
 * With MEMLIMIT_PROFILE set, the written profile must give each site its share.
 * Built with -rdynamic, so the library can name the sites in the process.
 * usage: profsites PROFILE_OUT [live MiB=200] [threads=1]
 * With threads > 1 each thread runs all sites on its share (profiling under threads);
 * with "fork" as the 4th argument, a child does the same after fork and writes
 * PROFILE_OUT.child. */
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t live_mib = 200;
static int nthreads = 1;

/* blocks are touched, so they are resident, and kept in a list to stay live */
struct keep {
    void **v;
    size_t n, cap;
};
static void keep(struct keep *k, void *p) {
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 1024;
        k->v = realloc(k->v, k->cap * sizeof *k->v);
    }
    k->v[k->n++] = p;
}

__attribute__((noinline)) void *site_large_share(size_t bytes, struct keep *k) {
    for (size_t done = 0; done < bytes; done += 4096) { /* 60%: 4 KiB blocks */
        char *p = malloc(4096);
        memset(p, 1, 4096);
        keep(k, p);
    }
    return NULL;
}
__attribute__((noinline)) void *site_medium_share(size_t bytes, struct keep *k) {
    for (size_t done = 0; done < bytes; done += 65536) { /* 30%: 64 KiB blocks */
        char *p = calloc(1, 65536);
        p[0] = 1;
        keep(k, p);
    }
    return NULL;
}
__attribute__((noinline)) void *site_small_share(size_t bytes, struct keep *k) {
    for (size_t done = 0; done < bytes; done += 200) { /* 10%: 200-byte blocks */
        char *p = malloc(200);
        memset(p, 2, 200);
        keep(k, p);
    }
    return NULL;
}
__attribute__((noinline)) void site_garbage(size_t bytes) {
    /* twice the live total, all freed: allocated, never live */
    for (size_t done = 0; done < bytes; done += 32768) {
        char *p = malloc(32768);
        p[0] = 3;
        free(p);
    }
}

static void *work(void *arg) {
    (void)arg;
    size_t share = (live_mib << 20) / (size_t)nthreads;
    /* the list at its final size, allocated here: grown by the sites, its last 2 MiB
     * came under site_small_share and made its share 11% instead of 10 */
    struct keep k = {.cap = share / 10 * 6 / 4096 + share / 10 * 3 / 65536 + share / 10 / 200 + 16};
    k.v = malloc(k.cap * sizeof *k.v);
    site_garbage(share);
    site_large_share(share / 10 * 6, &k);
    site_garbage(share);
    site_medium_share(share / 10 * 3, &k);
    site_small_share(share / 10, &k);
    return NULL; /* the blocks stay allocated until exit */
}

static int run(const char *out) {
    pthread_t t[64];
    for (int i = 0; i < nthreads; i++)
        pthread_create(&t[i], NULL, work, NULL);
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    if (memlimit_profile_dump(out) != 0) {
        fprintf(stderr, "profsites: memlimit_profile_dump(%s): %s\n", out, strerror(errno));
        return 1;
    }
    printf("profsites: %zu MiB live in %d thread(s), profile in %s\n", live_mib, nthreads, out);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || !memlimit_available()) {
        fprintf(stderr, "usage: profsites OUT [MiB] [threads] [fork], with libmemlimit\n");
        return 2;
    }
    if (argc > 2) live_mib = (size_t)atoi(argv[2]);
    if (argc > 3) nthreads = atoi(argv[3]);
    if (nthreads < 1 || nthreads > 64) return 2;
    if (argc > 4 && strcmp(argv[4], "fork") == 0) {
        char child_out[4096];
        snprintf(child_out, sizeof child_out, "%s.child", argv[1]);
        pid_t pid = fork();
        if (pid == 0) _exit(run(child_out));
        int st;
        waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st)) {
            fprintf(stderr, "profsites: child failed (%d)\n", st);
            return 1;
        }
    }
    return run(argv[1]);
}
