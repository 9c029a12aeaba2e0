/* SPDX-License-Identifier: MIT */
/* Reading kernel files without malloc and without keeping a descriptor:
 * every read is open-read-close with O_CLOEXEC, so an application that calls
 * close_range() or reuses descriptor numbers can never see one of ours. */
#ifndef ML_FILEIO_H
#define ML_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* Whole file into buf, NUL-terminated. Returns bytes read, or -1 if it cannot be
 * opened or read or does not fit (cap - 1 bytes at most). Keeps errno. */
ssize_t ml_read_file(const char *path, char *buf, size_t cap);
/* The same, and the cause of a failure in *err (errno itself is kept). */
ssize_t ml_read_file_err(const char *path, char *buf, size_t cap, int *err);

/* Calls fn for each line (without '\n', NUL-terminated) of a file of any size, read
 * through buf; lines longer than cap - 1 bytes are skipped. fn returns false to stop.
 * Returns 0, or -errno if the file cannot be opened. Keeps errno. */
int ml_for_each_line(const char *path, char *buf, size_t cap, bool (*fn)(char *line, void *arg),
                     void *arg);

/* The value of "key value" (memory.stat, meminfo) in a file of any size, read in small
 * pieces (a few hundred bytes of stack). Returns 1 with *out set, 0 if no such line,
 * -1 if the file cannot be read (the cause in *err if err; errno is kept). */
int ml_file_key_u64(const char *path, const char *key, uint64_t *out, int *err);

/* Strict decimal: optional surrounding whitespace (a trailing newline from sysfs),
 * digits only, no sign, no overflow. */
bool ml_parse_u64(const char *s, uint64_t *out);

/* "key value" lookup in a memory.stat- or meminfo-style text. Value in the file's unit. */
bool ml_find_key_u64(const char *text, const char *key, uint64_t *out);

#pragma GCC visibility pop

#endif
