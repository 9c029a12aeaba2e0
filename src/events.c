/* SPDX-License-Identifier: MIT */
#include "sysio.h"
#include "events.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int ml_events_eventfd(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

int ml_events_v1_threshold(const char *dir, int efd, uint64_t bytes) {
    char path[600], line[96];
    ml_fmt(path, sizeof path, "%s/memory.usage_in_bytes", dir);
    int ufd = ml_open(path, O_RDONLY | O_CLOEXEC);
    if (ufd < 0) return errno;
    ml_fmt(path, sizeof path, "%s/cgroup.event_control", dir);
    int cfd = ml_open(path, O_WRONLY | O_CLOEXEC);
    if (cfd < 0) {
        int e = errno;
        close(ufd);
        return e;
    }
    /* "<event fd> <fd of memory.usage_in_bytes> <threshold>"; the kernel takes its
     * own references, so both files may be closed afterwards */
    size_t n = ml_fmt(line, sizeof line, "%d %d %llu", efd, ufd, (unsigned long long)bytes);
    ssize_t w;
    do
        w = write(cfd, line, n);
    while (w < 0 && errno == EINTR);
    int e = w == (ssize_t)n ? 0 : w < 0 ? errno : EIO;
    close(cfd);
    close(ufd);
    return e;
}

int ml_events_psi_open(const char *path, const void *trigger, size_t len) {
    /* O_NONBLOCK: a FIFO with no writer must not block the open */
    int fd = ml_open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -errno;
    ssize_t w;
    do
        w = write(fd, trigger, len);
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)len) {
        int e = w < 0 ? errno : EIO;
        close(fd);
        return -e;
    }
    return fd;
}

int ml_events_watch_open(const char *path, const void *w, size_t wlen, short *events) {
    struct stat st;
    if (stat(path, &st) != 0) return -errno;
    if (S_ISFIFO(st.st_mode)) {
        /* systemd: a FIFO is readable when there is pressure */
        int fd = ml_open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) return -errno;
        *events = POLLIN;
        return fd;
    }
    if (S_ISSOCK(st.st_mode)) {
        /* systemd: connect, send the trigger, readable when there is pressure */
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof sa.sun_path) return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
            (wlen && send(fd, w, wlen, MSG_NOSIGNAL) != (ssize_t)wlen)) {
            int e = errno;
            close(fd);
            return -e;
        }
        *events = POLLIN;
        return fd;
    }
    if (!S_ISREG(st.st_mode)) return -EINVAL;
    /* a PSI file (proc and cgroupfs files are regular): the trigger, then POLLPRI */
    *events = POLLPRI;
    if (wlen) return ml_events_psi_open(path, w, wlen);
    int fd = ml_open(path, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int ml_events_memevents_read(int fd, struct ml_memory_events *out) {
    char buf[512];
    ssize_t n;
    do
        n = pread(fd, buf, sizeof buf - 1, 0); /* reading re-arms POLLPRI */
    while (n < 0 && errno == EINTR);
    if (n < 0) return errno;
    buf[n] = '\0';
    return ml_parse_memory_events(buf, out) > 0 ? 0 : EINVAL;
}

int ml_events_memevents_open(const char *dir, struct ml_memory_events *now) {
    char path[600];
    ml_fmt(path, sizeof path, "%s/memory.events", dir);
    int fd = ml_open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int e = ml_events_memevents_read(fd, now);
    if (e) {
        close(fd);
        return -e;
    }
    return fd;
}

void ml_events_psi_path(char *out, size_t cap, const char *v2dir, const char *root) {
    ml_fmt(out, cap, "%s/memory.pressure", v2dir);
    if (!v2dir[0] || access(out, R_OK) != 0) ml_fmt(out, cap, "%s/proc/pressure/memory", root);
}
