/* SPDX-License-Identifier: MIT */
/* Memory pressure that no allocator sees: reads random pages of a file larger than
 * its cgroup's limit, for a while. The pages it reads push each other out of the
 * page cache and come back as refaults; the kernel counts the waits as memory stalls
 * (PSI). Built without the library in mind; run it beside a preloaded process.
 * usage: thrash FILE SECONDS */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: thrash FILE SECONDS\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 4096) {
        perror(argv[1]);
        return 2;
    }
    size_t pages = (size_t)st.st_size / 4096;
    /* pages cached by whoever wrote the file are charged to their cgroup, not ours:
     * drop them, so every read is ours */
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    volatile unsigned char *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return 3;
    madvise((void *)m, (size_t)st.st_size, MADV_RANDOM);
    time_t end = time(NULL) + atoi(argv[2]);
    unsigned long x = 88172645463325252UL ^ (unsigned long)getpid() << 20, sum = 0, n = 0;
    while (time(NULL) < end) {
        for (int i = 0; i < 1024; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift */
            sum += m[(x % pages) * 4096];
            n++;
        }
    }
    printf("thrash: %lu page reads (%lu)\n", n, sum & 1);
    return 0;
}
