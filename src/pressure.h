/* SPDX-License-Identifier: MIT */
/* Parsers for what the kernel says about memory pressure: PSI lines ("some avg10=...
 * total=..."), cgroup v2 memory.events, PSI trigger strings, and the base64 of
 * systemd's $MEMORY_PRESSURE_WRITE. Pure functions of their input, no allocation,
 * so unit tests and fuzzers call them directly. */
#ifndef ML_PRESSURE_H
#define ML_PRESSURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* One line of a PSI file (/proc/pressure/memory, <cgroup>/memory.pressure). */
struct ml_psi_line {
    bool full;                     /* "full" (every non-idle task stalled), else "some" */
    uint32_t avg10, avg60, avg300; /* percent in hundredths: "12.34" -> 1234 */
    uint64_t total;                /* stall time since boot, microseconds */
};
/* True for a well-formed line (trailing newline allowed); nothing else is accepted. */
bool ml_parse_psi_line(const char *line, struct ml_psi_line *out);

/* cgroup v2 memory.events (and memory.events.local). Keys the kernel may add later
 * are skipped; a malformed line or a repeated key makes the whole text invalid. */
struct ml_memory_events {
    uint64_t low, high, max, oom, oom_kill, oom_group_kill;
};
/* The number of known keys read (0 if none), or -1 for a malformed text. */
int ml_parse_memory_events(const char *text, struct ml_memory_events *out);

/* What changed between two readings of memory.events. */
enum {
    ML_MEMEV_HIGH = 1, /* throttled at memory.high */
    ML_MEMEV_MAX = 2,  /* usage hit memory.max (reclaim at the limit) */
    ML_MEMEV_OOM = 4,  /* the OOM killer ran or was about to */
};
unsigned ml_memory_events_diff(const struct ml_memory_events *before,
                               const struct ml_memory_events *after);

/* A PSI trigger: "some|full <stall us> <window us>". The kernel takes windows of
 * 500 ms to 10 s and a stall of at most the window; unprivileged writers only
 * windows that are a multiple of 2 s. Returns true if the text is one the kernel
 * would take from an unprivileged writer (a trailing newline or NUL is allowed). */
bool ml_psi_trigger_valid(const char *text, size_t len, bool *full);

/* Standard base64 (RFC 4648, '=' padding optional, no whitespace). Returns the
 * decoded length, or -1 if the input is not base64 or does not fit in cap. */
long ml_base64_decode(const char *in, unsigned char *out, size_t cap);

#pragma GCC visibility pop

#endif
