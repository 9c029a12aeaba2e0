/* Rounds of allocation that, under a tiny MEMLIMIT, make trims and trace lines.
 * `churn` first sleeps 0.3 s (so a reader of its stderr can be gone by then) and
 * writes nothing itself. Exits 0.
 * usage: logdata churn [rounds=40] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void churn_round(int r) {
    void *p[64];
    for (int i = 0; i < 64; i++) {
        p[i] = malloc(64 << 10);
        if (p[i]) memset(p[i], r, 64 << 10);
    }
    for (int i = 0; i < 64; i++)
        free(p[i]);
    nanosleep(&(struct timespec){0, 1500000}, NULL); /* past the sampler's per-ms limit */
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "churn") == 0) {
        int rounds = argc > 2 ? atoi(argv[2]) : 40;
        nanosleep(&(struct timespec){0, 300000000}, NULL);
        for (int r = 0; r < rounds; r++)
            churn_round(r);
        return 0;
    }
    fprintf(stderr, "usage: logdata churn [rounds]\n");
    return 2;
}
