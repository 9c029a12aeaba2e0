/* holes MIB [ROUNDS [HOLD_MS]]: one thread leaves freed holes the allocator keeps
 * resident.
 * Each round allocates MIB/ROUNDS MiB in blocks larger than the last round's, keeps
 * every second block and frees the others: the holes are too small for the next
 * round, so the heap grows by the whole round while only half of it is live. Only a
 * trim gives the holes back (arena caps cannot help a single thread). Then holds it
 * all HOLD_MS (so processes started together overlap), prints the MiB touched and
 * live, and exits 1 if a kept block lost its contents. */
#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 80;
    int rounds = argc > 2 ? atoi(argv[2]) : 8;
    long hold_ms = argc > 3 ? atol(argv[3]) : 0;
    if (rounds < 1 || rounds > 32 || !mib) return 2;
    size_t per_round = (mib << 20) / (size_t)rounds, kept_n = 0, live = 0;
    size_t cap = 1 << 20;
    unsigned char **kept = malloc(cap * sizeof *kept);
    size_t *sizes = malloc(cap * sizeof *sizes);
    CHECK(kept && sizes, "no memory for the index");
    if (!kept || !sizes) return 1;
    for (int r = 0; r < rounds; r++) {
        size_t bs = 8192 + (size_t)r * 4096; /* 8 KiB, 12 KiB, ...: larger than any hole */
        size_t n = per_round / bs;
        unsigned char **round = malloc(n * sizeof *round);
        CHECK(round != NULL, "no memory for the round");
        if (!round) return 1;
        for (size_t i = 0; i < n; i++) {
            round[i] = malloc(bs);
            CHECK(round[i], "malloc(%zu) failed", bs);
            if (!round[i]) return 1;
            memset(round[i], (int)(i & 0xff) | 1, bs);
        }
        /* then every second one freed: a hole between two kept blocks */
        for (size_t i = 0; i < n; i++) {
            if (i & 1) {
                free(round[i]);
            } else if (kept_n < cap) {
                kept[kept_n] = round[i];
                sizes[kept_n++] = bs;
                live += bs;
            }
        }
        free(round);
        nanosleep(&(struct timespec){0, 20 * 1000000}, NULL); /* let siblings overlap */
    }
    nanosleep(&(struct timespec){hold_ms / 1000, (hold_ms % 1000) * 1000000}, NULL);
    for (size_t k = 0; k < kept_n; k++)
        CHECK(kept[k][0] == kept[k][sizes[k] - 1] && kept[k][0] != 0, "block %zu corrupted", k);
    printf("holes: %zu MiB touched, %zu MiB live in %d rounds, %d checks, %d failed\n", mib,
           live >> 20, rounds, checks, failures);
    return failures ? 1 : 0;
}
