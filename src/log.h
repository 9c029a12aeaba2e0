/* SPDX-License-Identifier: MIT */
/* Allocation-free logging: a fixed stack buffer, a tiny formatter and write(2).
 * Safe to call from the allocation slow path; never calls malloc or stdio. */
#ifndef ML_LOG_H
#define ML_LOG_H

#include "fmt.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* Records which file descriptor 2 is (st_dev, st_ino), or that it is closed. Lines
 * go to fd 2 only while it is still that file: a program that closed stderr and got
 * number 2 for a data file of its own must never find our lines in it (one that
 * puts another file at 2 on purpose does not get them either: MEMLIMIT_LOG is for
 * that). Call once at start-up, before the program runs; ml_log_set_dest and the
 * first line call it if nobody has, and start-up always sets the destination. */
void ml_log_init(void);

/* dest: "stderr" (or NULL) for fd 2, otherwise a path opened per line with
 * O_APPEND|O_CLOEXEC|O_NOFOLLOW|O_NONBLOCK, mode 0600, so no descriptor of ours stays
 * open for the application to close or reuse. Never waits: a FIFO without a reader
 * cannot be opened (ENXIO), and a line that does not fit at once (a full FIFO) is
 * dropped. A destination that cannot be opened is reported once on stderr, and the
 * lines go to stderr from then on (EMFILE, ENFILE and EINTR only send that line
 * there). The string must outlive the logger. */
void ml_log_set_dest(const char *dest);

/* From now on every line carries the time since start_ns on CLOCK_MONOTONIC, in
 * seconds with milliseconds ("t=1.234 " after the prefix; "t":1.234 in JSON); 0 turns
 * it off. For MEMLIMIT_TRACE=2. */
void ml_log_set_clock(uint64_t start_ns);

/* MEMLIMIT_LOG_FORMAT: false (text, the default) or true: each line one JSON object,
 * {"ts":UNIX_SECONDS,"pid":PID,"prog":"NAME"[,"t":SECONDS],"msg":"TEXT"}, escaped
 * (invalid UTF-8 becomes U+FFFD). */
void ml_log_set_json(bool on);

/* Whether ml_log_info lines go out (tracing, or an explicit log file); off at first. */
void ml_log_set_verbose(bool on);

/* One line: "memlimit[PID NAME]: " + formatted text + "\n", NAME the program's
 * (/proc/self/comm), control characters in the text shown as '?' so a line stays one
 * line; or the JSON object above. Keeps errno. Warnings: always out. */
void ml_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for informational lines, only when ml_log_set_verbose(true). */
void ml_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#pragma GCC visibility pop

#endif
