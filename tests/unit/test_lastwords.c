/* Last words: the decision (would an allocation pass the cgroup limit?) and its rate
 * limit are pure; the frames are the caller's, above this library. */
#include <criterion/criterion.h>
#include <string.h>

#include "cgroup.h"
#include "lastwords.h"

#define MiB (1ULL << 20)

Test(lastwords, exceeds_only_past_the_limit) {
    /* the test of the issue: at 200 MiB of 256, one allocation of 70 MiB */
    cr_expect(ml_lastwords_exceeds(200 * MiB, 70 * MiB, 256 * MiB));
    cr_expect_not(ml_lastwords_exceeds(200 * MiB, 56 * MiB, 256 * MiB),
                  "up to the limit: not past");
    cr_expect(ml_lastwords_exceeds(200 * MiB, 56 * MiB + 1, 256 * MiB));
    cr_expect(ml_lastwords_exceeds(300 * MiB, 1, 256 * MiB), "already past");
    cr_expect_not(ml_lastwords_exceeds(20 * MiB, 70 * MiB, 256 * MiB));
    cr_expect_not(ml_lastwords_exceeds(200 * MiB, 70 * MiB, ML_NO_LIMIT), "no cgroup limit");
    cr_expect_not(ml_lastwords_exceeds(200 * MiB, 70 * MiB, 0));
    cr_expect(ml_lastwords_exceeds(0, SIZE_MAX, 256 * MiB), "no overflow");
}

Test(lastwords, once_a_second_or_a_larger_size_class) {
    struct ml_lastwords_rate r = {0};
    uint64_t t = 5000000000ULL;
    cr_expect(ml_lastwords_due(&r, t, 70 * MiB), "the first");
    cr_expect_not(ml_lastwords_due(&r, t + 1000, 70 * MiB), "the same class within the second");
    cr_expect_not(ml_lastwords_due(&r, t + 2000, 2 * MiB), "a smaller one");
    cr_expect(ml_lastwords_due(&r, t + 3000, 130 * MiB), "a larger class: the one that kills");
    cr_expect_not(ml_lastwords_due(&r, t + 4000, 129 * MiB));
    cr_expect(ml_lastwords_due(&r, t + 1000000000ULL, 2 * MiB), "a second later");
    cr_expect_not(ml_lastwords_due(&r, t + 1000000001ULL, 2 * MiB));
}

static __attribute__((noinline)) size_t frames_here(char *out, size_t cap) {
    size_t n = ml_lastwords_frames(out, cap, 6);
    __asm__ volatile("" ::: "memory"); /* not a tail call */
    return n;
}

/* In the unit tests the core is part of the executable, whose frames are all "ours":
 * what is left are the test runner's and the C library's, one line, at most 6 */
Test(lastwords, frames_are_above_this_object) {
    char out[640];
    size_t n = frames_here(out, sizeof out);
    cr_expect_gt(n, 0, "no frame at all");
    cr_expect_eq(strlen(out), n);
    cr_expect(strchr(out, '\n') == NULL);
    cr_expect(strstr(out, "frames_here") == NULL, "our own object's frames are left out: %s", out);
    int arrows = 0;
    for (const char *p = out; (p = strstr(p, " <- ")); p++)
        arrows++;
    cr_expect(arrows <= 5, "%s", out);
    char tiny[8];
    ml_lastwords_frames(tiny, sizeof tiny, 6);
    cr_expect(strlen(tiny) < sizeof tiny);
}
