/* Last words: one line (and the .critical heap profile) just before an allocation
 * that takes usage past the cgroup limit is made, since the kernel's OOM killer
 * leaves a killed process no chance to say anything; and the stack of an allocation
 * the hard limit refuses. */
#ifndef ML_LASTWORDS_H
#define ML_LASTWORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* Only allocations this large are looked at: the ones a kill can be blamed on. */
#define ML_LASTWORDS_MIN ((size_t)1 << 20)

/* Would n more bytes take usage past limit (ML_NO_LIMIT or 0: none)? Pure. */
bool ml_lastwords_exceeds(uint64_t usage, size_t n, uint64_t limit);

/* Rate limit, pure: a line about an allocation of n bytes at `now` goes out if a
 * second passed since the last one, or if n is in a larger power-of-two size class
 * than every line of that second (the allocation that kills is often the largest). */
struct ml_lastwords_rate {
    uint64_t next_ns;
    unsigned size_class;
};
bool ml_lastwords_due(struct ml_lastwords_rate *r, uint64_t now, size_t n);

/* The malloc family's slow path, after the hard limit admitted n bytes and before they
 * are asked of the allocator (no allocator lock is held): if they take usage past the
 * cgroup limit, one line with the size, usage, the limit, the level and the caller's
 * frames, and the .critical heap profile where profiling is on (once a process). */
void ml_lastwords_check(size_t n);

/* "f+0x1c (prog) <- g+0x2a (libx.so.1) <- ...": up to `max` frames of the calling
 * thread's stack above this library, symbolised with dladdr; "" when none can be
 * read. Only where no allocator lock is held (the unwinder may load libgcc_s). */
size_t ml_lastwords_frames(char *out, size_t cap, int max);

/* For a fork child: the flags another thread held at the fork are free. */
void ml_lastwords_forked(void);

#pragma GCC visibility pop

#endif
