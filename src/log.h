/* Allocation-free logging: a fixed stack buffer, a tiny formatter and write(2).
 * Safe to call from the allocation slow path; never calls malloc or stdio. */
#ifndef ML_LOG_H
#define ML_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* dest: "stderr" (or NULL) for fd 2, otherwise a path opened per line with
 * O_APPEND|O_CLOEXEC|O_NOFOLLOW|O_NONBLOCK, mode 0600, so no descriptor of ours stays
 * open for the application to close or reuse. Never waits: a FIFO without a reader
 * cannot be opened (ENXIO), and a line that does not fit at once (a full FIFO) is
 * dropped. A destination that cannot be opened is reported once on stderr, and the
 * lines go to stderr from then on (EMFILE, ENFILE and EINTR only send that line
 * there). The string must outlive the logger. */
void ml_log_set_dest(const char *dest);

/* From now on every line starts "memlimit: t=SECONDS " (milliseconds, since
 * start_ns on CLOCK_MONOTONIC); 0 turns it off. For MEMLIMIT_TRACE=2. */
void ml_log_set_clock(uint64_t start_ns);

/* One line: "memlimit: " + formatted text + "\n". Keeps errno. */
void ml_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The formatter behind ml_log: %s %c %d %i %u %x with l, ll, z modifiers and %%.
 * Always NUL-terminates; returns the length written (truncated to cap - 1). */
size_t ml_vfmt(char *buf, size_t cap, const char *fmt, va_list ap);
size_t ml_fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "460.8MiB", "512B", "1.5GiB": binary units, one decimal. buf needs 24 bytes. */
const char *ml_fmt_bytes(char *buf, uint64_t bytes);
/* "1.9ms", "850us", "2.3s". buf needs 24 bytes. */
const char *ml_fmt_ns(char *buf, uint64_t ns);

#pragma GCC visibility pop

#endif
