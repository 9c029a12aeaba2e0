#include "events.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int ml_events_eventfd(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

int ml_events_v1_threshold(const char *dir, int efd, uint64_t bytes) {
    char path[600], line[96];
    ml_fmt(path, sizeof path, "%s/memory.usage_in_bytes", dir);
    int ufd = open(path, O_RDONLY | O_CLOEXEC);
    if (ufd < 0) return errno;
    ml_fmt(path, sizeof path, "%s/cgroup.event_control", dir);
    int cfd = open(path, O_WRONLY | O_CLOEXEC);
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
