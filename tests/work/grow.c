/* SPDX-License-Identifier: MIT */
/* Grows by 1 MiB (touched) every `ms` milliseconds up to `mib`, holds, frees it all,
 * then lingers: usage that changes slowly enough for periodic outputs to see it.
 * usage: grow [mib=120] [ms=10] [hold ms=1500] [linger ms=1500] */
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    int mib = argc > 1 ? atoi(argv[1]) : 120;
    long ms = argc > 2 ? atol(argv[2]) : 10;
    long hold = argc > 3 ? atol(argv[3]) : 1500, linger = argc > 4 ? atol(argv[4]) : 1500;
    if (mib < 1 || mib > 4096) return 2;
    char **blocks = calloc((size_t)mib, sizeof *blocks);
    if (!blocks) return 3;
    for (int i = 0; i < mib; i++) {
        if (!(blocks[i] = malloc(1 << 20))) return 3;
        memset(blocks[i], i, 1 << 20);
        sleep_ms(ms);
    }
    sleep_ms(hold);
    for (int i = 0; i < mib; i++)
        free(blocks[i]);
    /* small allocations afterwards, so the library samples while usage is low */
    for (long t = 0; t < linger; t += 10) {
        free(malloc(2 << 20));
        sleep_ms(10);
    }
    free(blocks);
    return 0;
}
