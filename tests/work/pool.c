/* SPDX-License-Identifier: MIT */
/* Back-pressure, as go-rtml's IsMemLimitReached() is used: a pool of workers turns
 * jobs into 1 MiB results that one slow writer ships and frees. The workers are
 * faster than the writer, so the results waiting for it pile up. With --check each
 * worker asks memlimit_reached() before taking a job and, while it is true, puts the
 * job back and retries later; memory then stays near the soft limit and every job
 * completes. Without it the backlog outgrows the container and the kernel kills the
 * process part-way.
 * usage: pool [--check] [jobs=600] [workers=4] [writer ms per result=2] */
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define RESULT_BYTES (1u << 20)

struct result {
    struct result *next;
    long job;
    unsigned char data[RESULT_BYTES];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;
static long *jobs, njobs, head, tail; /* ring of job ids still to run */
static struct result *out_head, *out_tail;
static long backlog, backlog_max, written, deferrals, deferred_jobs;
static unsigned char *was_deferred; /* per job */
static int check, workers_left;
static long first_deferral_backlog = -1; /* under lock, as the rest */

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Takes the next job, or returns -1 when none is left. While memory is short the
 * job goes back to the end of the queue and the worker waits before asking again. */
static long take_job(void) {
    for (;;) {
        pthread_mutex_lock(&lock);
        if (head == tail) {
            pthread_mutex_unlock(&lock);
            return -1;
        }
        long job = jobs[head % njobs];
        head++;
        if (!(check && memlimit_reached())) {
            pthread_mutex_unlock(&lock);
            return job;
        }
        jobs[tail % njobs] = job; /* deferred: retried after the others */
        tail++;
        deferrals++;
        if (!was_deferred[job]) was_deferred[job] = 1, deferred_jobs++;
        if (first_deferral_backlog < 0) first_deferral_backlog = backlog;
        pthread_mutex_unlock(&lock);
        sleep_ms(1);
    }
}

static void *worker(void *arg) {
    (void)arg;
    long job;
    while ((job = take_job()) >= 0) {
        /* the job's input, read whole, and its result */
        unsigned char *in = malloc(RESULT_BYTES);
        struct result *r = malloc(sizeof *r);
        if (!in || !r) abort();
        for (size_t i = 0; i < RESULT_BYTES; i++)
            in[i] = (unsigned char)(i * 31 + job);
        for (size_t i = 0; i < RESULT_BYTES; i++)
            r->data[i] = in[RESULT_BYTES - 1 - i] ^ 0x5a;
        free(in);
        r->job = job;
        r->next = NULL;
        pthread_mutex_lock(&lock);
        if (out_tail)
            out_tail->next = r;
        else
            out_head = r;
        out_tail = r;
        if (++backlog > backlog_max) backlog_max = backlog;
        pthread_cond_signal(&more);
        pthread_mutex_unlock(&lock);
    }
    pthread_mutex_lock(&lock);
    workers_left--;
    pthread_cond_signal(&more);
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(int argc, char **argv) {
    int a = 1;
    if (argc > 1 && strcmp(argv[1], "--check") == 0) check = 1, a++;
    njobs = argc > a ? atol(argv[a]) : 600;
    int nworkers = argc > a + 1 ? atoi(argv[a + 1]) : 4;
    long writer_ms = argc > a + 2 ? atol(argv[a + 2]) : 2;
    if (njobs < 1 || nworkers < 1 || nworkers > 64 || writer_ms < 0) {
        fprintf(stderr, "usage: pool [--check] [jobs] [workers 1-64] [writer ms per result]\n");
        return 2;
    }
    if (check && !memlimit_available()) {
        fprintf(stderr, "pool: --check needs libmemlimit (LD_PRELOAD or -lmemlimit)\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress survives a kill */
    jobs = malloc((size_t)njobs * sizeof *jobs);
    if (!jobs) return 3;
    was_deferred = calloc((size_t)njobs, 1);
    if (!was_deferred) return 3;
    for (long i = 0; i < njobs; i++)
        jobs[i] = i;
    head = 0, tail = njobs;
    workers_left = nworkers;
    pthread_t t[64];
    for (int i = 0; i < nworkers; i++)
        pthread_create(&t[i], NULL, worker, NULL);

    /* the writer: ships one result every writer_ms, in order of completion */
    uint64_t sum = 0;
    unsigned char *seen = calloc((size_t)njobs, 1);
    if (!seen) return 3;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (!out_head && workers_left > 0)
            pthread_cond_wait(&more, &lock);
        struct result *r = out_head;
        if (r) {
            out_head = r->next;
            if (!out_head) out_tail = NULL;
            backlog--;
        }
        pthread_mutex_unlock(&lock);
        if (!r) break;
        for (size_t i = 0; i < RESULT_BYTES; i += 4096)
            sum += r->data[i];
        seen[r->job]++;
        free(r);
        sleep_ms(writer_ms);
        if (++written % 10 == 0) printf("written %ld results\n", written);
    }
    for (int i = 0; i < nworkers; i++)
        pthread_join(t[i], NULL);
    long missing = 0;
    for (long i = 0; i < njobs; i++)
        missing += seen[i] != 1;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("pool: %ld of %ld jobs done (%ld missing or repeated), %ld jobs deferred (%ld "
           "deferrals), longest backlog %ld MiB of results (first deferral at %ld), max RSS "
           "%.1f MiB (checksum %llu)\n",
           written, njobs, missing, deferred_jobs, deferrals, backlog_max, first_deferral_backlog,
           ru.ru_maxrss / 1024.0, (unsigned long long)(sum & 0xff));
    return missing ? 1 : 0;
}
