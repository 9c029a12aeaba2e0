/* SPDX-License-Identifier: MIT */
/* The user's path patterns (MEMLIMIT_METRICS, MEMLIMIT_PROFILE): "%p" is the pid, so
 * each process of a fork tree or a service's restarts writes its own file. */
#ifndef ML_PATHFMT_H
#define ML_PATHFMT_H

#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* out = pattern with every "%p" replaced by pid, then "." + ext when ext is not NULL
 * (the profile's "soft", "exit"...). Returns 0, or ENAMETOOLONG when that does not fit
 * in cap bytes (NUL included; out is then "", never a cut path), EINVAL for no
 * pattern. Allocation-free and async-signal-safe (a profile signal handler uses it). */
int ml_path_expand(char *out, size_t cap, const char *pattern, int pid, const char *ext);

/* Can a file be made beside path (an expanded pattern)? path becomes its directory
 * ("/a/b/p" -> "/a/b", "/p" -> "/", "p" -> "."), and that is checked for write and
 * search with the effective ids by one faccessat(2) of "DIR/.", so a missing
 * directory (ENOENT), a file in its place (ENOTDIR) and one we may not write
 * (EACCES, EROFS) are told apart. Returns 0 or that errno value (errno itself is
 * kept); ENAMETOOLONG, path untouched, when "/." does not fit in cap. Allocation-free. */
int ml_path_dir_check(char *path, size_t cap);

/* 64 unpredictable bits for a temporary file's name (created O_EXCL beside its
 * target, then renamed): getrandom(2) by syscall (old glibc has no wrapper), never
 * blocking; failing that (kernel < 3.17, no entropy yet), the clock, the pid and
 * addresses mixed: O_EXCL alone keeps our text out of other users' files, the
 * randomness only keeps them from making us fail by taking every name first. */
uint64_t ml_random64(void);

#pragma GCC visibility pop

#endif
