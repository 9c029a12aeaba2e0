/* Giving freed memory back: the allocator-aware trim call, and the policy that
 * decides when trimming is worth its cost (it walks every arena under its lock,
 * and what it releases is often faulted back in). */
#ifndef ML_TRIM_H
#define ML_TRIM_H

#include <stdbool.h>
#include <stdint.h>

enum ml_allocator { ML_ALLOC_GLIBC, ML_ALLOC_JEMALLOC, ML_ALLOC_TCMALLOC, ML_ALLOC_MIMALLOC,
                    ML_ALLOC_OTHER };

/* Finds a symbol in the allocator that serves this process's malloc (not elsewhere). */
typedef void *(*ml_lookup_fn)(const char *name);

void ml_trim_init(ml_lookup_fn lookup);
enum ml_allocator ml_trim_allocator(void);
const char *ml_trim_allocator_name(void);
/* Returns memory to the kernel; false if this allocator has no way to. */
bool ml_trim_now(void);

/* Rate limiting, pure so it is unit-tested: trimming takes at most ~5% of wall time
 * (after a trim that took d, wait 19 d), at least min_interval between trims, and
 * when a trim frees little the wait doubles up to max_backoff (a live set stuck
 * above the limit must not cause a trim storm). */
struct ml_trim_policy {
    uint64_t next_ok_ns; /* no trim before this time */
    uint64_t backoff_ns; /* current wait after an unproductive trim; 0 when productive */
};

#define ML_TRIM_MIN_INTERVAL_NS  (10ULL * 1000000)   /* 10 ms */
#define ML_TRIM_FIRST_BACKOFF_NS (100ULL * 1000000)  /* 100 ms */
#define ML_TRIM_MAX_BACKOFF_NS   (2000ULL * 1000000) /* 2 s */
#define ML_TRIM_DUTY_FACTOR      19                  /* wait 19x the trim: <= 5% of wall time */

static inline bool ml_trim_due(const struct ml_trim_policy *p, uint64_t now) {
    return now >= p->next_ok_ns;
}
/* productive: the trim freed enough to matter (the caller decides the threshold). */
void ml_trim_policy_update(struct ml_trim_policy *p, uint64_t now, uint64_t took_ns,
                           bool productive);

#endif
