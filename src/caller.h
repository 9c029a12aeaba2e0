/* SPDX-License-Identifier: MIT */
/* Who is allocating: the dynamic loader, the language runtime (the C library,
 * libstdc++, libgcc_s) or the application, told from a return address. Asked only
 * where the hard limit would refuse, so its cost (a walk of the loaded objects,
 * no symbol lookup, no allocation) never reaches a normal allocation. */
#ifndef ML_CALLER_H
#define ML_CALLER_H

#include <stdbool.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

enum ml_caller { ML_CALLER_APP, ML_CALLER_RUNTIME, ML_CALLER_LOADER };

/* The kind of the object that contains code address pc (APP if none does). */
enum ml_caller ml_caller_of(const void *pc);

/* The kind a loaded object's file name means: "ld-linux-x86-64.so.2" is the loader,
 * "libc.so.6" the runtime, anything else the application. */
enum ml_caller ml_caller_kind(const char *name);

/* The kind of the code that asked for an allocation whose entry point was called
 * from runtime code (ml_caller_of said RUNTIME): the runtime's own needs (stdio's
 * buffers, a thrown exception) stay the runtime's, but memory the runtime hands to
 * its caller (operator new, strdup, getline, fopen: the functions of
 * ml_caller_is_entry) is classed by the code that called that outermost entry point.
 * Walks the stack (glibc's backtrace); APP, RUNTIME or LOADER. For the hard limit's
 * slow path alone. */
enum ml_caller ml_caller_outer(void);

/* Is this exported name a runtime function that returns memory to its caller
 * (operator new, strdup, getline, fopen, ...)? */
bool ml_caller_is_entry(const char *name);

#pragma GCC visibility pop

#endif
