/* SPDX-License-Identifier: MIT */
/* The C side of the Go binding: libmemlimit's functions found with dlsym in the
 * process (preloaded, or linked with the memlimit_link build tag), and the
 * trampoline that turns a reclaim call into a call of the exported Go function. */
#ifndef MEMLIMIT_GO_BRIDGE_H
#define MEMLIMIT_GO_BRIDGE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <memlimit.h>

int ml_go_resolve(void); /* 1 when every function was found */
/* the word memlimit_level loads, when its code is just that load (x86-64), or NULL */
const int32_t *ml_go_level_word(void);
bool ml_go_reached(void);
int ml_go_level(void);
int64_t ml_go_set_limit(int64_t bytes);
int ml_go_stats(struct memlimit_stats *out);
int ml_go_register(uintptr_t handle, int priority);
int ml_go_unregister(int handle);
#endif
