/* The memlimit thread's operations (struct ml_reclaim_ops): installed by the core
 * at start-up. */
#ifndef ML_THREADOPS_H
#define ML_THREADOPS_H

#include <stdbool.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* trace: one line per round that called someone (MEMLIMIT_TRACE) */
void ml_threadops_install(bool trace);

#pragma GCC visibility pop

#endif
