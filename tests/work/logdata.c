/* SPDX-License-Identifier: MIT */
/* A program whose descriptor 2 is its own data: it closes stderr, opens FILE (which
 * gets number 2) and writes records to it between rounds of allocation that, under a
 * tiny MEMLIMIT, make trims and trace lines. memlimit's lines must never land in
 * FILE. Also `churn`: sleeps 0.3 s (so a reader of its stderr can be gone by then),
 * then the same rounds, writing nothing itself. Exits 0 unless its own writes fail.
 * usage: logdata swap FILE [rounds=40] | logdata churn [rounds=40] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    if (argc >= 3 && strcmp(argv[1], "swap") == 0) {
        int rounds = argc > 3 ? atoi(argv[3]) : 40;
        close(2);
        if (open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644) != 2) return 2;
        for (int r = 0; r < rounds; r++) {
            char rec[32];
            int n = snprintf(rec, sizeof rec, "record %d\n", r);
            if (write(2, rec, (size_t)n) != n) return 3;
            churn_round(r);
        }
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "churn") == 0) {
        int rounds = argc > 2 ? atoi(argv[2]) : 40;
        nanosleep(&(struct timespec){0, 300000000}, NULL);
        for (int r = 0; r < rounds; r++)
            churn_round(r);
        return 0;
    }
    fprintf(stderr, "usage: logdata swap FILE [rounds] | logdata churn [rounds]\n");
    return 2;
}
