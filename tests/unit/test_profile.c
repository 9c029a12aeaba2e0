/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "profile.h"

/* The thread's budget as the preload layer keeps it: the fast path subtracts, the
 * slow path (ml_prof_account) runs when a block does not fit. */
static __thread size_t budget;
static void alloc(uintptr_t p, size_t n) {
    if (n <= budget) {
        budget -= n;
        return;
    }
    budget = ml_prof_account((void *)p, n, budget);
    ml_prof_issued(budget);
}

static double ratio(uint64_t est, uint64_t truth) {
    return (double)est / (double)truth;
}

/* One test: the tables are process-wide and never reset. */
Test(profile, unbiased_estimates_frees_and_the_file) {
    cr_assert_eq(ml_prof_init(4096), 0, "libunwind.so.8 must load");
    /* a fixed sequence: the verdict must not depend on the clock's seed (one run in
     * hundreds landed 5.5% off, a 4-sigma draw at ~6250 samples) */
    ml_prof_seed(0x5eed);
    const size_t n = 100000, sz = 256;
    for (size_t i = 0; i < n; i++)
        alloc(0x10000000 + i * sz, sz);
    /* (one block size: here every sample has the same stack, since the test binary
     * holds the core's code and its frames are skipped as our own, and pprof's
     * correction, which we reproduce, assumes one size per stack) */
    uint64_t truth = n * sz;
    struct ml_prof_totals t;
    ml_prof_totals(&t);
    printf("profile: %llu samples; live estimate %.3f of the truth\n",
           (unsigned long long)t.samples, ratio(t.live_bytes, truth));
    cr_expect_gt(t.samples, 5000); /* 25.6 MB / 4 KiB: about 6250 */
    cr_expect_eq(t.dropped, 0);
    cr_expect(ratio(t.live_bytes, truth) > 0.95 && ratio(t.live_bytes, truth) < 1.05,
              "live %llu vs %llu", (unsigned long long)t.live_bytes, (unsigned long long)truth);
    cr_expect(ratio(t.live_objects, n) > 0.95 && ratio(t.live_objects, n) < 1.05);
    cr_expect_eq(t.alloc_bytes, t.live_bytes, "nothing freed yet");

    /* free every other block: live halves, allocated stays */
    for (size_t i = 0; i < n; i += 2)
        ml_prof_forget((void *)(0x10000000 + i * sz));
    ml_prof_forget(NULL);
    ml_prof_forget((void *)0x12345); /* never allocated */
    struct ml_prof_totals after;
    ml_prof_totals(&after);
    uint64_t half = truth / 2;
    cr_expect(ratio(after.live_bytes, half) > 0.9 && ratio(after.live_bytes, half) < 1.1,
              "live after frees %llu vs %llu", (unsigned long long)after.live_bytes,
              (unsigned long long)half);
    cr_expect_eq(after.alloc_bytes, t.alloc_bytes);

    /* the file: heap_v2 header, one line per stack, the mappings */
    char path[] = "/tmp/memlimit-prof-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(ml_prof_write(path, false), 0);
    static char text[1 << 20];
    cr_assert_gt(ml_read_file(path, text, sizeof text), 0);
    cr_expect_eq(strncmp(text, "heap profile: ", 14), 0);
    cr_expect(strstr(text, "@ heap_v2/4096\n"));
    cr_expect(strstr(text, "\nMAPPED_LIBRARIES:\n"));
    cr_expect(strstr(text, "libunwind"), "the mappings list what is loaded");
    unlink(path);
    cr_expect_eq(ml_prof_write("/no/such/dir/x", false), ENOENT);
    /* try_only gives up while the table is held (the signal handler's case) */
    ml_prof_atfork_prepare();
    cr_expect_eq(ml_prof_write(path, true), EBUSY);
    ml_prof_atfork_release();
}

/* Item: the table stopped recording after ~200000 lifetime samples, because deleted
 * slots were never reclaimed. At rate 1 every block is sampled: far more than
 * NLIVE (131072) blocks come and go at distinct addresses, then 10000 live ones must
 * all be recorded and estimated exactly. */
Test(profile, freed_slots_are_reused, .timeout = 30) {
    cr_assert_eq(ml_prof_init(1), 0, "libunwind.so.8 must load");
    const size_t sz = 256, window = 1000, churn = 400000;
    uintptr_t base = 0x20000000;
    for (size_t i = 0; i < churn; i++) {
        alloc(base + i * sz, sz);
        if (i >= window) ml_prof_forget((void *)(base + (i - window) * sz));
    }
    for (size_t i = churn - window; i < churn; i++)
        ml_prof_forget((void *)(base + i * sz));
    struct ml_prof_totals t;
    ml_prof_totals(&t);
    cr_expect_eq(t.samples, churn);
    cr_expect_eq(t.dropped, 0, "dropped %llu of %llu samples", (unsigned long long)t.dropped,
                 (unsigned long long)t.samples);
    cr_expect_eq(t.live_objects, 0);

    const size_t keep = 10000;
    uintptr_t kept = 0x80000000;
    for (size_t i = 0; i < keep; i++)
        alloc(kept + i * sz, sz);
    ml_prof_totals(&t);
    cr_expect_eq(t.samples, churn + keep);
    cr_expect_eq(t.dropped, 0, "dropped %llu", (unsigned long long)t.dropped);
    cr_expect_eq(t.live_objects, keep, "live objects %llu", (unsigned long long)t.live_objects);
    cr_expect_eq(t.live_bytes, keep * sz, "live bytes %llu", (unsigned long long)t.live_bytes);
    /* and each of them is matched when freed */
    for (size_t i = 0; i < keep; i += 2)
        ml_prof_forget((void *)(kept + i * sz));
    ml_prof_totals(&t);
    cr_expect_eq(t.live_objects, keep / 2, "after frees %llu", (unsigned long long)t.live_objects);
    for (size_t i = 1; i < keep; i += 2)
        ml_prof_forget((void *)(kept + i * sz));

    /* frees in random order with the table nearly full (long probe runs that wrap):
     * every block stays findable, so freeing them all leaves nothing live */
    enum { SLOTS = 90000 };
    static uintptr_t held[SLOTS];
    uint64_t rng = 12345, next = 0x100000000;
    size_t nheld = 0;
    for (size_t i = 0; i < 300000; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        size_t k = rng % SLOTS;
        if (held[k]) {
            ml_prof_forget((void *)held[k]);
            nheld--;
        }
        held[k] = next, next += 64 + (rng >> 40) % 4096 / 16 * 16; /* aligned, as malloc's */
        alloc(held[k], sz);
        nheld++;
    }
    ml_prof_totals(&t);
    cr_expect_eq(t.dropped, 0, "dropped %llu", (unsigned long long)t.dropped);
    cr_expect_eq(t.live_objects, nheld, "live %llu, held %zu", (unsigned long long)t.live_objects,
                 nheld);
    for (size_t k = 0; k < SLOTS; k++)
        if (held[k]) ml_prof_forget((void *)held[k]);
    ml_prof_totals(&t);
    cr_expect_eq(t.live_objects, 0, "%llu blocks lost in the table",
                 (unsigned long long)t.live_objects);
}
/* Item: free's filter forgets. A once-sampled address used to stay "maybe sampled"
 * for ever, so every later free there took the lock (two sigprocmask calls and a
 * probe): free got ~100x slower over a long run. */
Test(profile, filter_forgets_freed_blocks, .timeout = 30) {
    cr_assert_eq(ml_prof_init(1), 0, "libunwind.so.8 must load");
    const size_t sz = 48, n = 50000;
    uintptr_t base = 0x30000000;
    for (size_t i = 0; i < n; i++)
        alloc(base + i * sz, sz);
    size_t missing = 0;
    for (size_t i = 0; i < n; i++)
        missing += !ml_prof_maybe_sampled((void *)(base + i * sz));
    cr_expect_eq(missing, 0, "%zu live sampled blocks not in the filter", missing);
    for (size_t i = 0; i < n; i++)
        ml_prof_forget((void *)(base + i * sz));
    size_t stale = 0;
    for (size_t i = 0; i < n; i++)
        stale += ml_prof_maybe_sampled((void *)(base + i * sz));
    cr_expect_eq(stale, 0, "%zu of %zu freed addresses still \"maybe sampled\"", stale, n);
    /* the same addresses sampled again, then half freed: the live half is still
     * found (no false "not sampled"), whatever the buckets they share */
    for (size_t i = 0; i < n; i++)
        alloc(base + i * sz, sz);
    for (size_t i = 0; i < n; i += 2)
        ml_prof_forget((void *)(base + i * sz));
    missing = 0;
    for (size_t i = 1; i < n; i += 2)
        missing += !ml_prof_maybe_sampled((void *)(base + i * sz));
    cr_expect_eq(missing, 0, "%zu live blocks lost after their neighbours were freed", missing);
    struct ml_prof_totals t;
    ml_prof_totals(&t);
    cr_expect_eq(t.live_objects, n / 2);
}
/* Item: the temporary was a predictable name opened without O_EXCL: whoever
 * pre-created it (another user, when we run as root) got our profile in a file they
 * own. Here the names a local user could predict (".NAME.PID.tmp", and with a
 * per-process count ".NAME.PID.N.tmp") are all taken by files of "nobody": nothing
 * of ours may land in them, and the profile must be ours, 0600. */
Test(profile, temporary_is_never_a_file_someone_made) {
    cr_assert_eq(ml_prof_init(4096), 0, "libunwind.so.8 must load");
    for (size_t i = 0; i < 1000; i++)
        alloc(0x40000000 + i * 4096, 4096);
    char dir[] = "/tmp/memlimit-excl-XXXXXX";
    cr_assert(mkdtemp(dir));
    chmod(dir, 0777); /* another user can create files here, as in /tmp */
    struct passwd *nobody = getpwnam("nobody");
    uid_t them = nobody && geteuid() == 0 ? nobody->pw_uid : geteuid();
    enum { N = 17 };
    char path[128], theirs[N][160];
    int fd[N];
    snprintf(path, sizeof path, "%s/app.heap", dir);
    for (int i = 0; i < N; i++) {
        if (i == 0)
            snprintf(theirs[i], sizeof theirs[i], "%s/.app.heap.%d.tmp", dir, (int)getpid());
        else
            snprintf(theirs[i], sizeof theirs[i], "%s/.app.heap.%d.%d.tmp", dir, (int)getpid(),
                     i - 1);
        fd[i] = open(theirs[i], O_RDWR | O_CREAT | O_EXCL, 0666);
        cr_assert_geq(fd[i], 0);
        cr_assert_eq(write(fd[i], "theirs\n", 7), 7);
        if (them != geteuid()) cr_assert_eq(fchown(fd[i], them, (gid_t)-1), 0);
        fchmod(fd[i], 0666);
    }

    /* the profile: ours, 0600 */
    struct stat ours;
    cr_expect_eq(ml_prof_write(path, false), 0);
    cr_assert_eq(stat(path, &ours), 0);
    cr_expect_eq(ours.st_uid, geteuid(), "the profile belongs to uid %u", (unsigned)ours.st_uid);
    cr_expect_eq(ours.st_mode & 07777, 0600, "mode %o", ours.st_mode & 07777);
    cr_expect_eq(ml_prof_write(path, false), 0); /* and once more, replacing it */
    cr_assert_eq(stat(path, &ours), 0);
    /* their files: untouched, still under their names */
    for (int i = 0; i < N; i++) {
        char buf[64];
        ssize_t r = pread(fd[i], buf, sizeof buf, 0);
        cr_expect(r == 7 && memcmp(buf, "theirs\n", 7) == 0, "%s now holds %zd bytes", theirs[i],
                  r);
        struct stat st, named;
        cr_assert_eq(fstat(fd[i], &st), 0);
        cr_expect(stat(theirs[i], &named) == 0 && named.st_ino == st.st_ino,
                  "%s was renamed or replaced", theirs[i]);
        cr_expect_neq(ours.st_ino, st.st_ino, "the profile is %s, which they made", theirs[i]);
        close(fd[i]);
    }
    /* the profile: ours, 0600, complete */
    cr_expect_eq(ours.st_uid, geteuid(), "the profile belongs to uid %u", (unsigned)ours.st_uid);
    cr_expect_eq(ours.st_mode & 07777, 0600, "mode %o", ours.st_mode & 07777);
    static char text[1 << 20];
    cr_assert_gt(ml_read_file(path, text, sizeof text), 0);
    cr_expect_eq(strncmp(text, "heap profile: ", 14), 0);
    cr_expect(strstr(text, "\nMAPPED_LIBRARIES:\n"));
    /* and no temporary of ours is left behind */
    DIR *d = opendir(dir);
    cr_assert(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) entries++;
    closedir(d);
    cr_expect_eq(entries, N + 1, "%d files: the profile and their %d, no temporaries", entries, N);
    for (int i = 0; i < N; i++)
        unlink(theirs[i]);
    unlink(path);
    rmdir(dir);
}

/* Writers and samplers at once, as in a program (the memlimit thread's dump,
 * memlimit_profile_dump, threads allocating and freeing): every write succeeds and is
 * whole. Under make sanitize's TSan build this is the race check for the writer's
 * own buffers and the filter's counters. */
static char race_dir[] = "/tmp/memlimit-race-XXXXXX";
static atomic_int race_done;
static void *race_sampler(void *arg) {
    uintptr_t base = 0x50000000 + (uintptr_t)arg * 0x10000000;
    for (size_t i = 0; i < 20000; i++) {
        alloc(base + (i % 512) * 256, 256);
        if (i >= 256) ml_prof_forget((void *)(base + ((i - 256) % 512) * 256));
    }
    atomic_fetch_add(&race_done, 1);
#ifdef __SANITIZE_THREAD__
    /* never exits: under TSan, libunwind's thread-exit destructor crashes (elsewhere
     * it exits: LeakSanitizer's stop-the-world at exit crashed on threads left here) */
    for (;;)
        pause();
#endif
    return NULL;
}
static void no_line(const char *text) {
    (void)text;
}
static void *race_writer(void *arg) {
    char path[96];
    size_t bad = 0;
    for (int k = 0; k < 20; k++) {
        snprintf(path, sizeof path, "%s/w%d.%d", race_dir, (int)(intptr_t)arg, k);
        if (ml_prof_write(path, false) != 0) bad++;
        ml_prof_top(10, no_line);
    }
    return (void *)bad;
}
Test(profile, concurrent_writes_and_samples, .timeout = 30) {
    cr_assert_eq(ml_prof_init(4096), 0, "libunwind.so.8 must load");
    cr_assert(mkdtemp(race_dir));
    pthread_t t[5];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, race_sampler, (void *)(intptr_t)i);
    for (int i = 3; i < 5; i++)
        pthread_create(&t[i], NULL, race_writer, (void *)(intptr_t)i);
    size_t failed = 0;
    for (int i = 3; i < 5; i++) {
        void *r;
        pthread_join(t[i], &r);
        failed += (size_t)r;
    }
    while (atomic_load(&race_done) < 3)
        usleep(1000);
#ifndef __SANITIZE_THREAD__
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
#endif
    cr_expect_eq(failed, 0, "%zu writes failed", failed);
    static char text[1 << 20];
    int whole = 0;
    for (int w = 3; w < 5; w++)
        for (int k = 0; k < 20; k++) {
            char path[96];
            snprintf(path, sizeof path, "%s/w%d.%d", race_dir, w, k);
            ssize_t n = ml_read_file(path, text, sizeof text);
            whole += n > 0 && strncmp(text, "heap profile: ", 14) == 0 &&
                     strstr(text, "\nMAPPED_LIBRARIES:\n") && text[n - 1] == '\n' &&
                     !strstr(text + 1, "heap profile: "); /* one header, at the start */
            unlink(path);
        }
    rmdir(race_dir);
    cr_expect_eq(whole, 40, "%d of 40 profiles whole", whole);
}

/* mmap regions: sampled from the same stream, forgotten or cut by munmap, moved by
 * mremap. At rate 1 every region is sampled and pprof's scale is 1: exact figures. */
static struct ml_prof_totals totals(void) {
    struct ml_prof_totals t;
    ml_prof_totals(&t);
    return t;
}
Test(profile, regions_unmapped_cut_and_moved) {
    cr_assert_eq(ml_prof_init(1), 0, "libunwind.so.8 must load");
    const uintptr_t base = 0x7f0000000000, K = 1024;
    cr_expect(!ml_prof_regions_live());
    for (uintptr_t i = 0; i < 8; i++) /* 8 regions of 64 KiB, 1 MiB apart */
        alloc((uintptr_t)ML_PROF_REGION(base + i * (1 << 20)), 64 * K);
    alloc(0x10000000, 4096); /* and a heap block */
    struct ml_prof_totals t = totals();
    cr_expect_eq(t.live_objects, 9);
    cr_expect_eq(t.live_bytes, 8 * 64 * K + 4096);
    cr_expect(ml_prof_regions_live());
    cr_expect(!ml_prof_maybe_sampled((void *)base), "regions are not in free's filter");
    ml_prof_forget((void *)base); /* free of a region's address: not a heap block */
    cr_expect_eq(totals().live_objects, 9);

    /* munmap: whole, head, tail, a hole (two regions), nothing (unaligned, 0 bytes) */
    ml_prof_unmap((void *)base, 64 * K);
    cr_expect_eq(totals().live_bytes, 7 * 64 * K + 4096);
    ml_prof_unmap((void *)(base + (1 << 20)), 16 * K);
    ml_prof_unmap((void *)(base + (1 << 20) + 48 * K), 100 * K);
    t = totals();
    cr_expect_eq(t.live_bytes, 6 * 64 * K + 32 * K + 4096, "head and tail cut: %llu",
                 (unsigned long long)t.live_bytes);
    cr_expect_eq(t.live_objects, 8);
    ml_prof_unmap((void *)(base + 2 * (1 << 20) + 16 * K), 16 * K);
    t = totals();
    cr_expect_eq(t.live_bytes, 6 * 64 * K + 16 * K + 4096);
    cr_expect_eq(t.live_objects, 9, "a hole splits a region in two");
    ml_prof_unmap((void *)(base + 3 * (1 << 20) + 1), 4096);
    ml_prof_unmap((void *)(base + 3 * (1 << 20)), 0);
    cr_expect_eq(totals().live_bytes, 6 * 64 * K + 16 * K + 4096);
    /* one munmap across several: what is left of region 2, regions 3 and 4 */
    ml_prof_unmap((void *)(base + 2 * (1 << 20)), 3 * (1 << 20));
    t = totals();
    cr_expect_eq(t.live_bytes, 32 * K + 3 * 64 * K + 4096, "%llu",
                 (unsigned long long)t.live_bytes);
    cr_expect_eq(t.live_objects, 5);

    /* mremap: region 5 moves and grows to 256 KiB, region 6 shrinks in place, region 7
     * fails to move and stays */
    struct ml_prof_move m;
    uintptr_t r5 = base + 5 * (1 << 20), r6 = base + 6 * (1 << 20), r7 = base + 7 * (1 << 20);
    ml_prof_move_begin(&m, (void *)r5, 64 * K);
    cr_expect_eq(m.n, 1);
    ml_prof_move_end(&m, (void *)(base + 100 * (1 << 20)), 256 * K);
    ml_prof_move_begin(&m, (void *)r6, 64 * K);
    ml_prof_move_end(&m, (void *)r6, 8 * K);
    ml_prof_move_begin(&m, (void *)r7, 64 * K);
    ml_prof_move_end(&m, (void *)r7, 64 * K);
    t = totals();
    cr_expect_eq(t.live_bytes, 32 * K + 256 * K + 8 * K + 64 * K + 4096, "%llu",
                 (unsigned long long)t.live_bytes);
    cr_expect_eq(t.live_objects, 5, "moves keep the count");
    ml_prof_unmap((void *)r5, 64 * K); /* the old place holds nothing now */
    cr_expect_eq(totals().live_bytes, 32 * K + 256 * K + 8 * K + 64 * K + 4096);
    ml_prof_unmap((void *)(base + 100 * (1 << 20)), 256 * K);
    cr_expect_eq(totals().live_bytes, 32 * K + 8 * K + 64 * K + 4096);

    /* a region mapped where a stale record lies (its munmap went unseen) replaces it */
    alloc((uintptr_t)ML_PROF_REGION(r7 + 32 * K), 64 * K);
    t = totals();
    cr_expect_eq(t.live_bytes, 32 * K + 8 * K + 32 * K + 64 * K + 4096, "%llu",
                 (unsigned long long)t.live_bytes);
    /* lengths are whole pages */
    alloc((uintptr_t)ML_PROF_REGION(base + 200 * (1 << 20)), 100);
    cr_expect_eq(totals().live_bytes, 32 * K + 8 * K + 32 * K + 64 * K + 4096 + 4096);
    ml_prof_unmap((void *)base, 1ULL << 40);
    t = totals();
    cr_expect_eq(t.live_bytes, 4096, "only the heap block is left: %llu",
                 (unsigned long long)t.live_bytes);
    cr_expect(!ml_prof_regions_live());
    cr_expect_eq(t.dropped, 0);
}

Test(profile, realloc_keeps_a_sample_at_its_new_size) {
    cr_assert_eq(ml_prof_init(1), 0, "libunwind.so.8 must load");
    alloc(0x20000000, 4096); /* rate 1: sampled */
    cr_expect_eq(totals().live_bytes, 4096);
    struct ml_prof_held h;
    /* moved and grown */
    cr_assert(ml_prof_realloc_begin((void *)0x20000000, &h));
    cr_expect_eq(totals().live_objects, 0, "taken out while the allocator moves it");
    ml_prof_realloc_end((void *)0x20000000, (void *)0x30000000, 8192, &h);
    struct ml_prof_totals t = totals();
    cr_expect_eq(t.live_objects, 1);
    cr_expect_eq(t.live_bytes, 8192);
    cr_expect(ml_prof_maybe_sampled((void *)0x30000000));
    cr_expect(!ml_prof_maybe_sampled((void *)0x20000000));
    /* a failed realloc leaves the old block as it was */
    cr_assert(ml_prof_realloc_begin((void *)0x30000000, &h));
    ml_prof_realloc_end((void *)0x30000000, NULL, 1 << 30, &h);
    cr_expect_eq(totals().live_bytes, 8192);
    cr_expect(ml_prof_maybe_sampled((void *)0x30000000));
    /* realloc(p, 0) frees it */
    cr_assert(ml_prof_realloc_begin((void *)0x30000000, &h));
    ml_prof_realloc_end((void *)0x30000000, NULL, 0, &h);
    cr_expect_eq(totals().live_objects, 0);
    /* a block sampled by its growth counts whole: 100 bytes grown to 5000 */
    alloc(0x40000000, 100);
    ml_prof_realloc_end((void *)0x40000000, (void *)0x40000000, 5000, NULL);
    t = totals();
    cr_expect_eq(t.live_bytes, 5000, "%llu", (unsigned long long)t.live_bytes);
    cr_expect(!ml_prof_realloc_begin((void *)0x50000000, &h), "never sampled");
}
