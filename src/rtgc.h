/* SPDX-License-Identifier: MIT */
/* Garbage a runtime has not collected yet, collected at pressure without code
 * changes (MEMLIMIT_GC): in a Python interpreter, a full collection scheduled on its
 * own main thread through Py_AddPendingCall, the entry point CPython documents as
 * callable from any thread without the GIL. Cycles that hold large buffers otherwise
 * wait for the next generation-0 collection, counted in objects, not bytes. Node and
 * Ruby offer no such entry point to a foreign thread (docs/languages). */
#ifndef ML_RTGC_H
#define ML_RTGC_H

#include <stdbool.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

/* Looks the interpreter up (dlsym), on the memlimit thread's first pass: never on an
 * application thread (dlsym may take the loader's lock and allocate) nor at
 * start-up. enabled: MEMLIMIT_GC is on. */
void ml_rtgc_find(bool enabled, bool trace);
/* The memlimit thread asks the interpreter for a collection, if this process is one,
 * none is pending and the last ended long enough ago (ml_rtgc_due with duty).
 * Returns true when a collection was asked for; with trace (ml_rtgc_find), the
 * collection says itself in one line. */
bool ml_rtgc_request(uint64_t now, unsigned duty);
/* An allocation's slow path, any thread: on the main thread, queues the collection
 * asked for, or one that is due (duty: the level's, 0 below moderate), so that a
 * fast-growing interpreter does not wait for the memlimit thread's next pass
 * (rtgc.c says why the main thread). One relaxed load in any other process. */
void ml_rtgc_poll(unsigned duty, uint64_t now);
#define ML_RTGC_HANDOVER_NS (100ULL * 1000000)
/* Collections run so far. */
uint64_t ml_rtgc_collections(void);
/* In a fork child: no collection is pending there. */
void ml_rtgc_forked(void);

/* The rate rule, pure for tests: none while one is pending; after one that ended at
 * last_ns and took took_ns of wall time, the next waits duty times as long, at least
 * ML_RTGC_EVERY_NS: a full collection of a large heap takes long, and at most
 * 1/(1+duty) of the interpreter's time goes to ours. The duties are the trims':
 * ML_TRIM_DUTY_MODERATE (5%) at moderate, ML_TRIM_DUTY_SOFT (50%, Go's cap for
 * collections at its memory limit) at soft and above. */
bool ml_rtgc_due(bool pending, uint64_t last_ns, uint64_t took_ns, uint64_t now, unsigned duty);
#define ML_RTGC_EVERY_NS (10ULL * 1000000)

#pragma GCC visibility pop

#endif
