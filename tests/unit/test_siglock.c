/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "siglock.h"

/* The mask as glibc reports it, in the kernel's 64 bits */
static uint64_t mask_now(void) {
    sigset_t s;
    pthread_sigmask(SIG_BLOCK, NULL, &s);
    uint64_t m = 0;
    for (int sig = 1; sig <= 64; sig++)
        if (sigismember(&s, sig) == 1) m |= 1ULL << (sig - 1);
    return m;
}

Test(siglock, blocks_while_held_and_restores_the_mask) {
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR2); /* the caller's own blocked signal survives */
    pthread_sigmask(SIG_SETMASK, &one, NULL);
    uint64_t before = mask_now();
    atomic_flag f = ATOMIC_FLAG_INIT;

    uint64_t saved = ml_siglock(&f);
    cr_expect_eq(saved, before, "saved %#llx, mask was %#llx", (unsigned long long)saved,
                 (unsigned long long)before);
    uint64_t held = mask_now();
    cr_expect(held & (1ULL << (SIGUSR1 - 1)), "SIGUSR1 blocked while held");
    cr_expect(held & (1ULL << (SIGRTMAX - 1)), "real-time signals too");
    cr_expect(held & (1ULL << (SIGINT - 1)));
    cr_expect_not(held & (3ULL << 31), "glibc's cancellation and setxid signals stay open");
    /* a try on the held lock fails and leaves the mask as it is */
    uint64_t other = 0;
    cr_expect_not(ml_siglock_try(&f, &other));
    cr_expect_eq(mask_now(), held);
    ml_sigunlock(&f, saved);
    cr_expect_eq(mask_now(), before, "mask %#llx after unlock, %#llx before",
                 (unsigned long long)mask_now(), (unsigned long long)before);

    /* and the try, on a free lock */
    cr_assert(ml_siglock_try(&f, &other));
    cr_expect_eq(other, before);
    cr_expect(mask_now() & (1ULL << (SIGTERM - 1)));
    ml_sigunlock(&f, other);
    cr_expect_eq(mask_now(), before);
    cr_expect_not(atomic_flag_test_and_set(&f), "unlocked");
}
