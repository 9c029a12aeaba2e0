/* SPDX-License-Identifier: MIT */
/* Giving freed memory back: the allocator-aware trim call, and the policy that
 * decides when trimming is worth its cost (it walks every arena under its lock,
 * and what it releases is often faulted back in). */
#ifndef ML_TRIM_H
#define ML_TRIM_H

#include <stdbool.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

enum ml_allocator {
    ML_ALLOC_GLIBC,
    ML_ALLOC_JEMALLOC,
    ML_ALLOC_TCMALLOC,
    ML_ALLOC_MIMALLOC,
    ML_ALLOC_OTHER
};

/* Finds a symbol in the allocator that serves this process's malloc (not elsewhere).
 * glibc: a name the C library also defines, with a symbol version; the others are
 * looked up without one (a failed lookup costs the dynamic linker ~1,500
 * instructions, in every process). */
typedef void *(*ml_lookup_fn)(const char *name, bool glibc);

void ml_trim_init(ml_lookup_fn lookup);
const char *ml_trim_allocator_name(void);
enum ml_allocator ml_trim_allocator(void);
/* Returns memory to the kernel; false if this allocator has no way to. *cpu_ns: the
 * CPU time the call took on this thread (a trim preempted midway is not charged for
 * the wait). */
bool ml_trim_now(uint64_t *cpu_ns);
/* What the allocator has given back to the kernel so far, in bytes, for the trace's
 * "released" (what one trim returned, apart from what other threads took meanwhile):
 * jemalloc's dirty pages purged (stats.arenas.<all>.dirty_purged), tcmalloc's page
 * heap unmapped bytes (a level: the difference around one trim). False where the
 * allocator cannot say (glibc, mimalloc); jemalloc and tcmalloc only on the memlimit
 * thread's stack (not small_stack). */
bool ml_trim_released_bytes(uint64_t *out, bool small_stack);
/* CPU time all trim calls so far took (CLOCK_THREAD_CPUTIME_ID around each), in ns:
 * memlimit_trim_cpu_seconds_total. */
uint64_t ml_trim_cpu_ns(void);
/* Free memory the allocator holds (glibc mallinfo2's fordblks, jemalloc's dirty and
 * muzzy pages, tcmalloc's page heap free bytes); false where it cannot say
 * (mimalloc), and with small_stack for jemalloc and tcmalloc, whose statistics take
 * kilobytes of stack (application threads may have 16 KiB: only the memlimit thread
 * asks them). Walks glibc's free lists under the arena locks: call it rarely. */
bool ml_trim_free_bytes(uint64_t *out, bool small_stack);

/* Prevention: glibc and jemalloc keep freed memory per arena and spread threads over
 * up to 8 (glibc) or 4 (jemalloc) arenas per core, so a thread pool strands several
 * times its live data. Caps the arenas in use at n: glibc through M_ARENA_MAX,
 * jemalloc by binding each thread to arena (k mod n) on its first slow path
 * (ml_trim_thread_start). Returns false for other allocators, or when the user chose
 * (MALLOC_ARENA_MAX, the glibc.malloc.arena_max tunable, narenas in MALLOC_CONF):
 * theirs is never overridden. getenv_fn reads the environment. */
bool ml_trim_cap_arenas(unsigned n, const char *(*getenv_fn)(const char *));
/* Called once per thread, on its first slow path. */
void ml_trim_thread_start(void);

/* Rate limiting, pure so it is unit-tested. After a trim that used d of CPU, the
 * next waits duty*d, with duty chosen by the level at the time of asking: 19 at
 * MODERATE (trimming takes at most 5% of the time), 1 at SOFT and above (a kill is
 * near: at most 50%, so half the throughput remains). At least 10 ms apart, and when
 * a trim frees little the wait doubles from 100 ms up to 2 s, so a live set stuck
 * above the limit causes a few trims a second, not a storm. */
struct ml_trim_policy {
    uint64_t last_end_ns; /* 0: never trimmed */
    uint64_t last_cpu_ns;
    uint64_t backoff_ns;    /* 0 after a productive trim */
    uint64_t free_after;    /* the allocator's free bytes right after the last trim */
    uint64_t next_probe_ns; /* when ml_trim_probe_due next says yes */
    uint64_t free_grew;     /* by how much the last probe found it grown */
    unsigned level_then;    /* the level of the last trim, lowered as the level falls */
    uint64_t usage_then;    /* usage at the last trim */
};

#define ML_TRIM_MIN_INTERVAL_NS  (10ULL * 1000000)   /* 10 ms */
#define ML_TRIM_FIRST_BACKOFF_NS (100ULL * 1000000)  /* 100 ms */
#define ML_TRIM_MAX_BACKOFF_NS   (2000ULL * 1000000) /* 2 s */
#define ML_TRIM_DUTY_MODERATE    19
#define ML_TRIM_DUTY_SOFT        1

bool ml_trim_due(const struct ml_trim_policy *p, uint64_t now, unsigned duty);
/* productive: the trim freed enough to matter (the caller decides the threshold).
 * free_after: the allocator's free bytes after it (ml_trim_free_bytes), or
 * ML_TRIM_FREE_UNKNOWN: the next reading is then the baseline. */
#define ML_TRIM_FREE_UNKNOWN UINT64_MAX
void ml_trim_policy_update(struct ml_trim_policy *p, uint64_t end, uint64_t cpu_ns, bool productive,
                           uint64_t free_after);

/* The back-off is blind to frees: a program stuck above its limit that then frees
 * half its heap would stay resident until the back-off ends (up to 2 s). So while a
 * trim is not due, the allocator's free memory is probed every ML_TRIM_PROBE_NS, and
 * when it grew by `enough` since the last trim, the next trim is due at once (still
 * at least 10 ms and one trim's CPU time after the last). */
#define ML_TRIM_PROBE_NS (100ULL * 1000000) /* 100 ms */
bool ml_trim_probe_due(struct ml_trim_policy *p, uint64_t now);
bool ml_trim_freed_due(struct ml_trim_policy *p, uint64_t now, uint64_t free_now, uint64_t enough);
/* The same for frees the caller knows of: reclaim callbacks that reported `reported`
 * bytes freed. Those sit in the allocator until a trim, and without one the program
 * reuses them only as fast as it allocates: at the rate of a round every 5 ms, usage
 * rose to CRITICAL while callbacks freed tens of MiB a round. */
bool ml_trim_reported_due(const struct ml_trim_policy *p, uint64_t now, uint64_t reported,
                          uint64_t enough);

/* A rise in level ends the back-off too (as it runs a round at once): a trim at
 * MODERATE made before the program freed anything (three pool workers trimmed while
 * still parsing) backed off for 100 ms, and the cgroup went from MODERATE to 98.6% of
 * its limit meanwhile. So does usage grown by `rise` since a trim that backed off (as
 * for rounds). Still at least 10 ms and one trim's CPU time after the last.
 * ml_trim_level_seen records the level each look found (lowering level_then). */
bool ml_trim_risen_due(const struct ml_trim_policy *p, uint64_t now, unsigned level, uint64_t usage,
                       uint64_t rise);
void ml_trim_level_seen(struct ml_trim_policy *p, unsigned level, uint64_t usage, bool trimmed);

#pragma GCC visibility pop

#endif
