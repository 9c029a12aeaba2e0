/* SPDX-License-Identifier: MIT */
/* memlimit-run's check that the library can be preloaded into a command
 * (scripts/preflight.c; memlimit-show --preload-check LIB CMD). */
#ifndef ML_PREFLIGHT_H
#define ML_PREFLIGHT_H

#include <stddef.h>

/* 0 when the dynamic loader that starts cmd (found as execvp would; a #! script's
 * interpreter) can load lib, or when cmd cannot be judged (not found, not ELF:
 * exec reports those); 1 with one line in msg when it cannot. */
int ml_preflight(const char *lib, const char *cmd, char *msg, size_t cap);

#endif
