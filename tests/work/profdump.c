/* SPDX-License-Identifier: MIT */
/* Heap profiles written concurrently, from every writer at once: DUMPERS threads call
 * memlimit_profile_dump in a loop (one file per call) while allocating, a thread
 * sends SIGUSR2 (MEMLIMIT_PROFILE_SIGNAL) to all of them every few hundred
 * microseconds, the memlimit thread writes .soft when a burst crosses MEMLIMIT, and
 * two threads of the program open, write and close files of their own the whole time,
 * reusing the lowest descriptor numbers. Then every dump must be a well-formed
 * profile (one header line first, stack lines, the MAPPED_LIBRARIES section, maps
 * lines, nothing else), the program's files must hold only its own text, and no
 * temporary may be left behind.
 * usage: profdump DIR [dumps per thread=60] [dumpers=3]
 * Run with MEMLIMIT_PROFILE=DIR/sig MEMLIMIT_PROFILE_SIGNAL=SIGUSR2; MEMLIMIT at most
 * 48MiB for the .soft profile. */
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"

#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAXD 8
static const char *dir;
static int dumps = 60, ndumpers = 3;
static pthread_t dumper[MAXD];
static atomic_int running, dump_errors, own_files, signals;
static _Atomic int own_bad;

static void pause_us(long us) {
    struct timespec ts = {0, us * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* the program's own files: lowest free numbers, written in pieces, read back whole */
static void *filer(void *arg) {
    int me = (int)(intptr_t)arg;
    char path[512], line[64], got[8192], want[8192];
    int n = 0;
    while (atomic_load(&running)) {
        snprintf(path, sizeof path, "%s/own.%d.%d", dir, me, n % 8);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            atomic_store(&own_bad, 1);
            break;
        }
        size_t wl = 0;
        for (int i = 0; i < 40; i++) {
            int k = snprintf(line, sizeof line, "own file %d line %d\n", n, i);
            while (write(fd, line, (size_t)k) < 0 && errno == EINTR) {
            }
            memcpy(want + wl, line, (size_t)k);
            wl += (size_t)k;
            if (i % 8 == 0) sched_yield();
        }
        pause_us(50); /* open a while: a stray write of ours would land here */
        ssize_t r;
        while ((r = pread(fd, got, sizeof got, 0)) < 0 && errno == EINTR) {
        }
        if (r != (ssize_t)wl || memcmp(got, want, wl) != 0) {
            if (!atomic_exchange(&own_bad, 1))
                printf("FAIL own file %s: %zd bytes, expected %zu; starts \"%.60s\"\n", path, r, wl,
                       r > 0 ? got : "");
        }
        close(fd);
        n++;
    }
    atomic_fetch_add(&own_files, n);
    return NULL;
}

static void *signaller(void *arg) {
    (void)arg;
    unsigned s = 1;
    while (atomic_load(&running)) {
        s = s * 1103515245 + 12345;
        pthread_kill(dumper[(s >> 16) % (unsigned)ndumpers], SIGUSR2);
        atomic_fetch_add(&signals, 1);
        pause_us(300);
    }
    return NULL;
}

static void *dump_loop(void *arg) {
    int t = (int)(intptr_t)arg;
    void *keep[256] = {0};
    char path[512];
    unsigned s = (unsigned)t * 7919 + 1;
    for (int k = 0; k < dumps; k++) {
        for (int i = 0; i < 2000; i++) { /* samples, at many sites' worth of sizes */
            s = s * 1103515245 + 12345;
            unsigned j = (s >> 8) % 256;
            free(keep[j]);
            keep[j] = malloc(16 + (s >> 12) % 8192);
        }
        snprintf(path, sizeof path, "%s/d%d.%d", dir, t, k);
        if (memlimit_profile_dump(path) != 0) {
            printf("FAIL dump %s: %s\n", path, strerror(errno));
            atomic_fetch_add(&dump_errors, 1);
        }
    }
    for (int j = 0; j < 256; j++)
        free(keep[j]);
    return NULL;
}

static size_t dropped(enum memlimit_level level, size_t want, void *arg) {
    (void)level, (void)want, (void)arg;
    return 0;
}

static char *slurp(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    ssize_t r;
    while ((r = read(fd, b + n, cap - n)) > 0)
        if ((n += (size_t)r) == cap) b = realloc(b, (cap *= 2) + 1);
    close(fd);
    b[n] = '\0';
    *len = n;
    return b;
}

/* the whole file: header, stack lines, a blank line, the section, maps lines */
static bool well_formed(const char *path, char *why, size_t cap) {
    size_t len;
    char *b = slurp(path, &len);
    if (!b) return snprintf(why, cap, "cannot read: %s", strerror(errno)), false;
    bool ok = false;
    unsigned long long a, c, d, e, rate;
    char *line = b, *nl;
    int stage = 0, lines = 0, maps = 0;
    if (len == 0 || b[len - 1] != '\n') {
        snprintf(why, cap, "%zu bytes, not ending in a newline", len);
        goto out;
    }
    if (strlen(b) != len) {
        snprintf(why, cap, "a NUL byte inside");
        goto out;
    }
    for (; *line; line = nl + 1, lines++) {
        nl = strchr(line, '\n');
        *nl = '\0';
        if (stage == 0) { /* the header, first */
            int used = 0;
            if (sscanf(line, "heap profile: %llu: %llu [%llu: %llu] @ heap_v2/%llu%n", &a, &c, &d,
                       &e, &rate, &used) != 5 ||
                line[used]) {
                snprintf(why, cap, "line 1 is not the header: \"%.80s\"", line);
                goto out;
            }
            stage = 1;
        } else if (stage == 1) { /* stacks, then a blank line */
            if (!*line) {
                stage = 2;
                continue;
            }
            int used = 0;
            if (sscanf(line, "%llu: %llu [%llu: %llu] @%n", &a, &c, &d, &e, &used) != 4 || !used) {
                snprintf(why, cap, "line %d is not a stack: \"%.80s\"", lines + 1, line);
                goto out;
            }
            for (char *p = line + used; *p;) {
                unsigned long long pc;
                int k = 0;
                if (sscanf(p, " 0x%llx%n", &pc, &k) != 1 || !k) {
                    snprintf(why, cap, "line %d: bad frame \"%.40s\"", lines + 1, p);
                    goto out;
                }
                p += k;
            }
        } else if (stage == 2) {
            if (strcmp(line, "MAPPED_LIBRARIES:") != 0) {
                snprintf(why, cap, "line %d: \"%.80s\" where MAPPED_LIBRARIES: belongs", lines + 1,
                         line);
                goto out;
            }
            stage = 3;
        } else { /* /proc/self/maps lines */
            unsigned long lo, hi, off, ino;
            unsigned maj, min;
            char perm[8];
            if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu", &lo, &hi, perm, &off, &maj, &min, &ino) !=
                7) {
                snprintf(why, cap, "line %d is not a maps line: \"%.80s\"", lines + 1, line);
                goto out;
            }
            maps++;
        }
    }
    if (stage != 3 || maps < 5) {
        snprintf(why, cap, "ends in stage %d with %d maps lines", stage, maps);
        goto out;
    }
    ok = true;
out:
    free(b);
    return ok;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: profdump DIR [dumps per thread] [dumpers]\n");
        return 2;
    }
    dir = argv[1];
    if (argc > 2) dumps = atoi(argv[2]);
    if (argc > 3) ndumpers = atoi(argv[3]);
    if (ndumpers < 1 || ndumpers > MAXD) ndumpers = 3;
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* a callback: the memlimit thread exists, and writes .soft */
    CHECK(!memlimit_available() || memlimit_register(dropped, NULL, 0) > 0, "register");
    atomic_store(&running, 1);
    pthread_t f[2], s;
    for (int i = 0; i < 2; i++)
        pthread_create(&f[i], NULL, filer, (void *)(intptr_t)i);
    for (int t = 0; t < ndumpers; t++)
        pthread_create(&dumper[t], NULL, dump_loop, (void *)(intptr_t)t);
    pthread_create(&s, NULL, signaller, NULL);
    /* past the soft limit for a moment: the memlimit thread's .soft dump joins in */
    size_t burst = 64u << 20;
    char *big = malloc(burst);
    memset(big, 1, burst);
    for (int i = 0; i < 200; i++) {
        free(malloc(65536)); /* slow paths (a 1 MiB budget each) that notice the level */
        pause_us(500);
    }
    free(big);
    for (int t = 0; t < ndumpers; t++)
        pthread_join(dumper[t], NULL);
    atomic_store(&running, 0);
    pthread_join(s, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(f[i], NULL);

    CHECK(atomic_load(&dump_errors) == 0, "%d dumps failed", atomic_load(&dump_errors));
    CHECK(!atomic_load(&own_bad), "the program's own files hold text that is not theirs");
    int bad = 0, good = 0;
    char path[512], why[256];
    for (int t = 0; t < ndumpers; t++)
        for (int k = 0; k < dumps; k++) {
            snprintf(path, sizeof path, "%s/d%d.%d", dir, t, k);
            if (well_formed(path, why, sizeof why)) {
                good++;
            } else if (bad++ < 5) {
                printf("FAIL %s: %s\n", path, why);
            }
        }
    CHECK(bad == 0, "%d of %d dumps malformed", bad, ndumpers * dumps);
    int others = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            printf("FAIL left behind: %s\n", e->d_name);
            others++;
        }
        if (strncmp(e->d_name, "sig.", 4) == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (!well_formed(path, why, sizeof why)) {
                printf("FAIL %s: %s\n", path, why);
                others++;
            }
        }
    }
    if (d) closedir(d);
    CHECK(others == 0, "temporaries left or a malformed profile from the library");
    printf("profdump: %d of %d dumps well-formed, %d signals sent, %d own files intact: %s\n", good,
           ndumpers * dumps, atomic_load(&signals), atomic_load(&own_files),
           atomic_load(&own_bad) ? "no" : "yes");
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
