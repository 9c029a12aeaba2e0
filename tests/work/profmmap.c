/* mmap regions in the heap profile: sites that map private anonymous memory and keep
 * it whole, cut it with munmap, move it with mremap, replace it with MAP_FIXED or
 * unmap it at once, a site that only reserves (PROT_NONE, MAP_NORESERVE), and one
 * that mallocs, so that both kinds are in one profile. Every page kept is touched.
 * usage: profmmap PROFILE_KEPT PROFILE_GONE
 * Writes PROFILE_KEPT with everything live, then unmaps and frees all of it and
 * writes PROFILE_GONE. Live at the first dump, in MiB:
 *   site_map_keep 64, site_map_tail_cut 16, site_map_head_cut 8, site_map_moved 32,
 *   site_malloc_keep 32, site_map_gone 0, site_map_replaced 0, site_reserve 0. */
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MIB      ((size_t)1 << 20)
#define KIB      ((size_t)1 << 10)
#define RW       (PROT_READ | PROT_WRITE)
#define ANON(fl) ((fl) | MAP_PRIVATE | MAP_ANONYMOUS)

struct range {
    char *p;
    size_t n;
};
static struct range kept[4096];
static size_t nkept;
static void *blocks[8192];
static size_t nblocks;

static char *map(size_t n, int prot, int flags) {
    char *p = mmap(NULL, n, prot, ANON(flags), -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "profmmap: mmap %zu: %s\n", n, strerror(errno));
        exit(1);
    }
    return p;
}
static void keep(char *p, size_t n) {
    memset(p, 1, n);
    kept[nkept++] = (struct range){p, n};
}

__attribute__((noinline)) void site_map_keep(void) { /* 64 MiB in 256 KiB regions */
    for (size_t i = 0; i < 256; i++)
        keep(map(256 * KIB, RW, 0), 256 * KIB);
}
__attribute__((noinline)) void site_map_gone(void) { /* 128 MiB, each unmapped at once */
    for (size_t i = 0; i < 128; i++) {
        char *p = map(MIB, RW, 0);
        memset(p, 2, MIB);
        munmap(p, MIB);
    }
}
__attribute__((noinline)) void site_map_tail_cut(void) { /* 32 MiB of 2 MiB: upper halves go */
    for (size_t i = 0; i < 16; i++) {
        char *p = map(2 * MIB, RW, 0);
        munmap(p + MIB, MIB);
        keep(p, MIB);
    }
}
__attribute__((noinline)) void site_map_head_cut(void) { /* 16 MiB of 1 MiB: lower halves go */
    for (size_t i = 0; i < 16; i++) {
        char *p = map(MIB, RW, 0);
        munmap(p, MIB / 2);
        keep(p + MIB / 2, MIB / 2);
    }
}
__attribute__((noinline)) void site_map_moved(void) { /* 32 regions of 512 KiB grown to 1 MiB */
    for (size_t i = 0; i < 32; i++) {
        char *p = map(512 * KIB, RW, 0);
        memset(p, 3, 512 * KIB);
        char *q = mremap(p, 512 * KIB, MIB, MREMAP_MAYMOVE);
        if (q == MAP_FAILED) {
            fprintf(stderr, "profmmap: mremap: %s\n", strerror(errno));
            exit(1);
        }
        keep(q, MIB);
    }
}
__attribute__((noinline)) void site_map_replaced(void) { /* 16 MiB, decommitted by MAP_FIXED */
    for (size_t i = 0; i < 16; i++) {
        char *p = map(MIB, RW, 0);
        memset(p, 4, MIB);
        if (mmap(p, MIB, PROT_NONE, ANON(MAP_FIXED | MAP_NORESERVE), -1, 0) != p) exit(1);
        kept[nkept++] = (struct range){p, MIB}; /* unmapped at the end */
    }
}
__attribute__((noinline)) void site_reserve(void) { /* reservations: address space only */
    char *a = map(256 * MIB, PROT_NONE, 0), *b = map(256 * MIB, RW, MAP_NORESERVE);
    memset(b, 5, MIB);
    kept[nkept++] = (struct range){a, 256 * MIB};
    kept[nkept++] = (struct range){b, 256 * MIB};
}
__attribute__((noinline)) void site_malloc_keep(void) { /* 32 MiB in 4 KiB blocks */
    for (size_t i = 0; i < 8192; i++) {
        blocks[nblocks] = malloc(4096);
        memset(blocks[nblocks++], 6, 4096);
    }
}

static int dump(const char *path) {
    if (memlimit_profile_dump(path) == 0) return 0;
    fprintf(stderr, "profmmap: memlimit_profile_dump(%s): %s\n", path, strerror(errno));
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3 || !memlimit_available()) {
        fprintf(stderr, "usage: profmmap KEPT GONE, with libmemlimit\n");
        return 2;
    }
    site_map_keep();
    site_map_gone();
    site_map_tail_cut();
    site_map_head_cut();
    site_map_moved();
    site_map_replaced();
    site_reserve();
    site_malloc_keep();
    if (dump(argv[1])) return 1;
    for (size_t i = 0; i < nkept; i++)
        munmap(kept[i].p, kept[i].n);
    for (size_t i = 0; i < nblocks; i++)
        free(blocks[i]);
    if (dump(argv[2])) return 1;
    printf("profmmap: 152 MiB live at the first dump, nothing at the second\n");
    return 0;
}
