/* Formatting without allocation: a printf subset into a buffer; bytes and
 * durations in human units. */
#ifndef ML_FMT_H
#define ML_FMT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* The formatter behind ml_log and every path the library builds: %s %c %d %i %u %x with l, ll, z
 * modifiers and %%. Always NUL-terminates; returns the length written (truncated to cap - 1). */
size_t ml_vfmt(char *buf, size_t cap, const char *fmt, va_list ap);
size_t ml_fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "460.8MiB", "512B", "1.5GiB": binary units, one decimal. buf needs 24 bytes. */
const char *ml_fmt_bytes(char *buf, uint64_t bytes);
/* "1.9ms", "850us", "2.3s". buf needs 24 bytes. */
const char *ml_fmt_ns(char *buf, uint64_t ns);

#pragma GCC visibility pop

#endif
