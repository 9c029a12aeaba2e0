/* SPDX-License-Identifier: MIT */
/* A musl program for t_musl (built there with musl-gcc, run by musl's loader):
 * churns 25 MiB of malloc/free 20 times, then, with "hard" as argv[1], allocates
 * until malloc returns NULL (MEMLIMIT_HARD); prints what memlimit_stats says.
 * Weak API symbols: "library not loaded" when the preload did not take. */
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    static void *keep[4096];
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 256; i++) {
            keep[i] = malloc(100000);
            if (keep[i]) memset(keep[i], 1, 100000);
        }
        for (int i = 0; i < 256; i++)
            free(keep[i]);
    }
    long held = 0;
    if (argc > 1 && strcmp(argv[1], "hard") == 0) {
        for (int i = 0; i < 4096; i++) { /* up to 4 GiB in 1 MiB blocks */
            if (!(keep[i] = malloc(1 << 20))) break;
            memset(keep[i], 1, 1 << 20);
            held++;
        }
    }
    if (!memlimit_available()) {
        puts("library not loaded");
        return 1;
    }
    struct memlimit_stats st;
    memlimit_stats(&st);
    printf("version=%s soft=%lld detected=%lld samples=%llu trims=%llu refused=%llu held_mib=%ld\n",
           memlimit_version(), (long long)st.soft_limit, (long long)st.detected_limit,
           (unsigned long long)st.samples, (unsigned long long)st.trims,
           (unsigned long long)st.failed_allocs, held);
    return 0;
}
