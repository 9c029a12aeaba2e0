/* SPDX-License-Identifier: MIT */
/* vma.c: which mappings the hard limit counts when mremap grows them, from smaps text
 * (copied from this machine's /proc/self/smaps), and from the live process. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vma.h"

static const char *const smaps[] = {
    "5619d66bc000-5619d66be000 r--p 00000000 fe:00 247498                     /usr/bin/head",
    "Size:                  8 kB",
    "VmFlags: rd mr mw me ",
    "7f0000000000-7f0004000000 rw-p 00000000 00:00 0 ",
    "Size:              65536 kB",
    "Rss:                   0 kB",
    "VmFlags: rd wr mr mw me ac ",
    "7f0004000000-7f0008000000 rw-p 00000000 00:00 0 ",
    "Size:              65536 kB",
    "VmFlags: rd wr mr mw me nr ",
    "7f0008000000-7f000c000000 rw-s 00000000 00:01 1234                       /dev/zero (deleted)",
    "VmFlags: rd wr sh mr mw me ms ",
    "7f000c000000-7f0010000000 ---p 00000000 00:00 0 ",
    "VmFlags: mr mw me ",
    "7f0010000000-7f0014000000 rw-p 00000000 00:00 0 ",
    "VmFlags: rd wr mr mw me ht ",
    "7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]",
    "VmFlags: rd wr mr mw me gd ac ",
    NULL,
};

static bool counts(uintptr_t addr) {
    struct ml_vma_scan s;
    ml_vma_scan_init(&s, (const void *)addr);
    for (int i = 0; smaps[i] && ml_vma_scan_line(&s, smaps[i]); i++) {
    }
    return s.counts;
}

Test(vma, kinds_from_smaps) {
    cr_expect(counts(0x7f0000001000), "private anonymous read-write counts");
    cr_expect(counts(0x7ffc00000100), "the stack is private anonymous memory too");
    cr_expect_not(counts(0x7f0004000000), "MAP_NORESERVE (nr) does not");
    cr_expect_not(counts(0x7f0008000000), "shared anonymous (shmem) does not");
    cr_expect_not(counts(0x7f000c000000), "PROT_NONE does not");
    cr_expect_not(counts(0x7f0010000000), "hugetlb (ht) does not");
    cr_expect_not(counts(0x5619d66bd000), "a file mapping does not");
    cr_expect(counts(0x1000), "an address in no mapping: cannot tell, so it counts");
}

Test(vma, the_live_process) {
    size_t len = 4 << 20;
    void *priv = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *shared = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    void *none = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *nores =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    cr_assert(priv != MAP_FAILED && shared != MAP_FAILED && none != MAP_FAILED &&
              nores != MAP_FAILED);
    cr_expect(ml_vma_counts((char *)priv + 4096));
    cr_expect_not(ml_vma_counts(shared));
    cr_expect_not(ml_vma_counts(none));
    cr_expect_not(ml_vma_counts(nores));
}
