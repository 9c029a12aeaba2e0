/* SPDX-License-Identifier: MIT */
/* Which allocator serves each entry point (tests/integration/t_resolve.sh).
 * usage: resolve sizes | overflow
 *   sizes:    every allocation function once: its block's usable size, then free;
 *             "ok" at the end. A block freed by another allocator than the one that
 *             made it crashes here, and a debugging allocator (MALLOC_CHECK_) shows in
 *             the sizes (exact under libc_malloc_debug, rounded up under glibc).
 *   overflow: writes one byte past a 100-byte block and frees it; a checking
 *             allocator aborts, otherwise "overflow not detected" and exit 1. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void show(const char *name, void *p) {
    if (!p) {
        printf("%s: NULL\n", name);
        exit(1);
    }
    printf("%s usable %zu\n", name, malloc_usable_size(p));
    fflush(stdout);
    free(p);
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "sizes")) {
        show("malloc(100)", malloc(100));
        show("calloc(10,10)", calloc(10, 10));
        show("realloc(NULL,100)", realloc(NULL, 100));
        char *p = malloc(100);
        memset(p, 1, 100);
        p = realloc(p, 300); /* grows */
        show("realloc(100->300)", p);
        show("reallocarray(NULL,10,10)", reallocarray(NULL, 10, 10));
        show("memalign(64,100)", memalign(64, 100));
        show("aligned_alloc(64,128)", aligned_alloc(64, 128));
        void *q = NULL;
        if (posix_memalign(&q, 64, 100)) q = NULL;
        show("posix_memalign(64,100)", q);
        show("valloc(100)", valloc(100));
        show("pvalloc(100)", pvalloc(100));
        puts("ok");
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "overflow")) {
        char *p = malloc(100);
        memset(p, 0, 100);
        /* one byte too many, never the value already there: MALLOC_CHECK_ keeps a
         * byte derived from the address past the block, and a fixed value (0) equals
         * it for 1 address in 256, which then passes as intact */
        char *end = p;
        __asm__("" : "+r"(end)); /* the compiler must not see the overflow */
        end += 100;
        *(volatile char *)end = (char)~*(volatile char *)end;
        free(p);
        puts("overflow not detected");
        return 1;
    }
    fprintf(stderr, "usage: resolve sizes|overflow\n");
    return 2;
}
