/* Whether a call that glibc before 2.34 keeps in libdl or libpthread is there: the
 * library references those weakly (src/glibc_floor.h), so each is NULL where a
 * program on such a glibc has not loaded them. With musl or a newer glibc, and in
 * builds without the floor, always there. */
#ifndef ML_HAVE_H
#define ML_HAVE_H

#include <stdbool.h>
#include <stddef.h>

static inline bool ml_have(const void *fn) {
    return fn != NULL;
}
#define ML_HAVE(fn) ml_have((const void *)(fn))

#endif
