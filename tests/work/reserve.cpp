// SPDX-License-Identifier: MIT
// How far past the hard limit an application gets, by the entry point it allocates
// through: the reserve is the caller's (the application's 1/32 of the limit), whether
// it calls malloc, operator new, new[] or a C library function that returns memory
// (strdup, getline). Allocates 64 KiB blocks, touching each, until refused, and
// prints the process's RssAnon then. usage: reserve malloc|new|newarr|strdup|getline
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <fcntl.h>
#include <unistd.h>

// read with open/read: fopen's buffer would be refused at the limit (no figure)
static long rss_anon_kib(void) {
    static char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    const char *at = strstr(buf, "RssAnon:");
    long v = -1;
    if (at) sscanf(at, "RssAnon: %ld", &v);
    return v;
}

enum { BLOCK = 60 << 10 }; // 60 KiB asked: at most 64 KiB with any rounding (getline)

static char *one(const char *mode, const char *text, FILE *lines) {
    if (!strcmp(mode, "malloc")) return (char *)malloc(BLOCK);
    if (!strcmp(mode, "new")) return (char *)::operator new(BLOCK, std::nothrow);
    if (!strcmp(mode, "newarr")) {
        try {
            return new char[BLOCK];
        } catch (const std::bad_alloc &) {
            return nullptr;
        }
    }
    if (!strcmp(mode, "strdup")) return strdup(text);
    if (!strcmp(mode, "getline")) {
        char *l = nullptr;
        size_t cap = 0;
        rewind(lines);
        if (getline(&l, &cap, lines) < 0) {
            free(l);
            return nullptr;
        }
        return l;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    exit(2);
}

int main(int argc, char **argv) {
    if (argc != 2) return fprintf(stderr, "usage: reserve malloc|new|newarr|strdup|getline\n"), 2;
    static char text[BLOCK - 64];
    memset(text, 'x', sizeof text - 1);
    FILE *lines = tmpfile();
    if (!lines || fprintf(lines, "%s\n", text) < 0 || fflush(lines)) return perror("tmpfile"), 2;
    long blocks = 0;
    for (;;) {
        char *p = one(argv[1], text, lines);
        if (!p) break;
        memset(p, 1, BLOCK - 128);
        blocks++;
    }
    printf("%s: %ld blocks, refused at RssAnon %ld KiB\n", argv[1], blocks, rss_anon_kib());
    return 0;
}
