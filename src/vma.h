/* SPDX-License-Identifier: MIT */
/* What kind of mapping an address is in, for the hard limit: growing a mapping with
 * mremap may count only where mmap would have counted the mapping (private,
 * anonymous, accessible, not MAP_NORESERVE, not hugetlb). Read from
 * /proc/self/smaps, and only where the hard limit would refuse, so the cost (the
 * kernel walks the mappings before it) never reaches an ordinary mremap. */
#ifndef ML_VMA_H
#define ML_VMA_H

#include <stdbool.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* True if the mapping containing addr counts against the hard limit; also true when
 * it cannot be told (no /proc): the limit then holds as before. Small stack, no
 * allocation, no descriptor kept; safe where allocator locks are held. */
bool ml_vma_counts(const void *addr);

/* The parser behind it, over smaps text fed line by line (unit-tested). */
struct ml_vma_scan {
    uintptr_t addr;
    int state;   /* 0 looking, 1 inside the mapping, 2 done */
    bool counts; /* the verdict so far */
};
void ml_vma_scan_init(struct ml_vma_scan *s, const void *addr);
/* Feeds one line (without newline); returns false once the verdict is final. */
bool ml_vma_scan_line(struct ml_vma_scan *s, const char *line);

#pragma GCC visibility pop

#endif
