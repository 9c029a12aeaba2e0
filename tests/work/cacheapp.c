/* SPDX-License-Identifier: MIT */
/* An aware application, after the classic GOMEMLIMIT experiment: an import fills an
 * in-memory index (an LRU cache of records) while each record also makes heavy
 * short-lived garbage. The index alone would outgrow the container. With --callback
 * it registers an eviction callback and completes the import; without, the kernel
 * kills it part-way.
 * usage: cacheapp [--callback] [records=200000] [record bytes=2048] */
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct rec {
    struct rec *prev, *next;
    uint64_t key;
    size_t size;
    char data[];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct rec *head, *tail; /* most and least recently used */
static size_t cached, cached_bytes, evicted, rounds;

static void push_front(struct rec *r) {
    r->prev = NULL;
    r->next = head;
    if (head) head->prev = r;
    head = r;
    if (!tail) tail = r;
    cached++;
    cached_bytes += r->size;
}

static struct rec *pop_back(void) {
    struct rec *r = tail;
    if (!r) return NULL;
    tail = r->prev;
    if (tail)
        tail->next = NULL;
    else
        head = NULL;
    cached--;
    cached_bytes -= r->size;
    return r;
}

/* Evicts the least recently used records. At MODERATE, a sixteenth of the cache;
 * above, what memlimit asks for and a quarter more, so the next round is not at
 * once. Runs on memlimit's thread: takes our lock, frees, returns bytes freed. */
static size_t evict(enum memlimit_level level, size_t want, void *arg) {
    (void)arg;
    pthread_mutex_lock(&lock);
    size_t goal = level == MEMLIMIT_LEVEL_MODERATE ? cached_bytes / 16 : want + want / 4;
    size_t freed = 0;
    while (freed < goal) {
        struct rec *r = pop_back();
        if (!r) break;
        freed += r->size + sizeof *r;
        free(r);
        evicted++;
    }
    rounds++;
    pthread_mutex_unlock(&lock);
    return freed;
}

int main(int argc, char **argv) {
    int use_callback = argc > 1 && strcmp(argv[1], "--callback") == 0;
    int a = use_callback ? 2 : 1;
    long records = argc > a ? atol(argv[a]) : 200000;
    size_t rec_size = argc > a + 1 ? (size_t)atol(argv[a + 1]) : 2048;
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress survives a kill */
    if (use_callback) {
        if (!memlimit_available()) {
            fprintf(stderr, "cacheapp: --callback needs libmemlimit (LD_PRELOAD or -lmemlimit)\n");
            return 2;
        }
        if (memlimit_register(evict, NULL, 0) < 0) return 2;
    }
    uint64_t seed = 42, sum = 0;
    for (long i = 0; i < records; i++) {
        /* garbage: a parse buffer of 4 KiB to 256 KiB, used and dropped */
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t g = 4096 + (seed >> 33) % (252 << 10);
        unsigned char *buf = malloc(g);
        if (!buf) return 3;
        memset(buf, (int)i, g);
        sum += buf[g / 2];
        free(buf);
        /* the record that goes into the index */
        struct rec *r = malloc(sizeof *r + rec_size);
        if (!r) return 3;
        r->key = (uint64_t)i;
        r->size = rec_size;
        memset(r->data, (int)(i * 7), rec_size);
        pthread_mutex_lock(&lock);
        push_front(r);
        pthread_mutex_unlock(&lock);
        if ((i + 1) % 20000 == 0) printf("imported %ld records\n", i + 1);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    pthread_mutex_lock(&lock);
    printf("cacheapp: imported %ld of %ld records; the index holds %zu (%.1f MiB); evicted %zu "
           "in %zu callback rounds; max RSS %.1f MiB (checksum %llu)\n",
           records, records, cached, cached_bytes / 1048576.0, evicted, rounds,
           ru.ru_maxrss / 1024.0, (unsigned long long)(sum & 0xff));
    pthread_mutex_unlock(&lock);
    return 0;
}
