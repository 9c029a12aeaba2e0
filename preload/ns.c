/* SPDX-License-Identifier: MIT */
/* unshare and setns: the namespace changes the kernel refuses to a threaded process
 * (a new user namespace; setns into a user or mount namespace; unsharing the thread
 * group's own state) would be refused because of the memlimit thread. For those the
 * thread is parked around the call and started again after it, in whatever namespace
 * the process is then in. The caller gets the kernel's answer unchanged: a program
 * whose own threads make the call fail gets EINVAL, as without memlimit. */
#include "../src/reclaim.h"
#include "next.h"

#include <errno.h>
#include <sched.h>
#include <sys/syscall.h>
#include <grp.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* a callback may be waiting for a lock this caller holds: then at most this long */
#define PARK_TIMEOUT_NS (2000ULL * 1000000)

static bool needs_single_thread_unshare(int flags) {
    /* CLONE_NEWNS too: the kernel allows it, but only the calling thread moves; the
     * thread is started again in the new mount namespace, where the process now looks */
    return flags & (CLONE_NEWUSER | CLONE_NEWNS | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM);
}

static bool needs_single_thread_setns(int nstype) {
    /* 0: any type (the descriptor says which); a pidfd's mask may name both */
    return nstype == 0 || (nstype & (CLONE_NEWUSER | CLONE_NEWNS));
}

EXPORT int unshare(int flags) {
    static int (*next)(int);
    if (!next) next = (int (*)(int))ml_next_sym("unshare");
    bool park = needs_single_thread_unshare(flags);
    if (park) ml_reclaim_park(PARK_TIMEOUT_NS);
    int r = next ? next(flags) : (int)syscall(SYS_unshare, flags);
    if (park) {
        int saved = errno;
        ml_reclaim_unpark();
        errno = saved;
    }
    return r;
}

EXPORT int setns(int fd, int nstype) {
    static int (*next)(int, int);
    if (!next) next = (int (*)(int, int))ml_next_sym("setns");
    bool park = needs_single_thread_setns(nstype);
    if (park) ml_reclaim_park(PARK_TIMEOUT_NS);
    int r = next ? next(fd, nstype) : (int)syscall(SYS_setns, fd, nstype);
    if (park) {
        int saved = errno;
        ml_reclaim_unpark();
        errno = saved;
    }
    return r;
}

/* The set*id family: glibc runs the call on every thread of the process (its SIGSETXID
 * broadcast) and aborts the process when their answers differ. Capabilities and
 * PR_SET_KEEPCAPS are per thread, so a program that keeps its capabilities on the
 * calling thread across a setresuid (setpriv --reuid --init-groups: PR_SET_KEEPCAPS,
 * setresuid, capset, setresgid) left the memlimit thread without CAP_SETGID: its
 * setresgid failed where the caller's succeeded, and glibc aborted the program. The
 * thread is parked around these calls, as around unshare. */
#define PARKED_CALL(ret, name, params, args)                                                       \
    EXPORT ret name params {                                                                       \
        static ret(*next) params;                                                                  \
        if (!next) next = (ret(*) params)ml_next_sym(#name);                                       \
        if (!next) {                                                                               \
            errno = ENOSYS;                                                                        \
            return -1;                                                                             \
        }                                                                                          \
        ml_reclaim_park(PARK_TIMEOUT_NS);                                                          \
        ret res = next args;                                                                       \
        int saved = errno;                                                                         \
        ml_reclaim_unpark();                                                                       \
        errno = saved;                                                                             \
        return res;                                                                                \
    }

PARKED_CALL(int, setuid, (uid_t u), (u))
PARKED_CALL(int, setgid, (gid_t g), (g))
PARKED_CALL(int, seteuid, (uid_t u), (u))
PARKED_CALL(int, setegid, (gid_t g), (g))
PARKED_CALL(int, setreuid, (uid_t r, uid_t e), (r, e))
PARKED_CALL(int, setregid, (gid_t r, gid_t e), (r, e))
PARKED_CALL(int, setresuid, (uid_t r, uid_t e, uid_t s), (r, e, s))
PARKED_CALL(int, setresgid, (gid_t r, gid_t e, gid_t s), (r, e, s))
PARKED_CALL(int, setgroups, (size_t n, const gid_t *l), (n, l))
PARKED_CALL(int, initgroups, (const char *user, gid_t g), (user, g))
