/* SPDX-License-Identifier: MIT */
/* events.c: the descriptors, on real files, FIFOs and sockets: memory.events, PSI
 * triggers and systemd's watch. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "events.h"
#include "fileio.h"
#include "pressure.h"

#define FIX "tests/fixtures/pressure/"

Test(events, memory_events_open_and_reread) {
    struct ml_memory_events ev;
    int fd = ml_events_memevents_open(FIX "v2", &ev);
    cr_assert_geq(fd, 0);
    cr_expect_eq(ev.max, 17);
    cr_expect_eq(ml_events_memevents_read(fd, &ev), 0);
    cr_expect_eq(ev.max, 17);
    close(fd);
    cr_expect_eq(ml_events_memevents_open(FIX "no-such-dir", &ev), -ENOENT);
    /* a file that is not memory.events */
    char dir[] = "/tmp/memlimit-ev-XXXXXX", path[64];
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/memory.events", dir);
    FILE *f = fopen(path, "w");
    fputs("max lots\n", f);
    fclose(f);
    cr_expect_eq(ml_events_memevents_open(dir, &ev), -EINVAL);
    unlink(path);
    rmdir(dir);
}

Test(events, psi_trigger_is_written_whole) {
    char path[] = "/tmp/memlimit-psi-XXXXXX";
    int tmp = mkstemp(path);
    cr_assert_geq(tmp, 0);
    close(tmp);
    const char trig[] = "some 100000 2000000";
    int fd = ml_events_psi_open(path, trig, sizeof trig);
    cr_assert_geq(fd, 0);
    cr_expect(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
    char back[64];
    cr_assert_eq(ml_read_file(path, back, sizeof back), (long)sizeof trig);
    cr_expect_str_eq(back, trig);
    short ev = 0;
    fd = ml_events_watch_open(path, "full 1 2000000", 14, &ev);
    cr_assert_geq(fd, 0);
    cr_expect_eq(ev, POLLPRI);
    close(fd);
    unlink(path);
    cr_expect_eq(ml_events_psi_open("/no/such/file", trig, sizeof trig), -ENOENT);
    /* the real kernel, where it lets us: a trigger it refuses is an error, not a crash */
    fd = ml_events_psi_open("/proc/pressure/memory", "some 1 1", 9);
    cr_expect_lt(fd, 0);
}

Test(events, watch_fifo_and_socket) {
    char dir[] = "/tmp/memlimit-watch-XXXXXX", fifo[64], sock[64];
    cr_assert(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    short ev = 0;
    int fd = ml_events_watch_open(fifo, NULL, 0, &ev);
    cr_assert_geq(fd, 0, "opening a FIFO without a writer must not block");
    cr_expect_eq(ev, POLLIN);
    struct pollfd p = {.fd = fd, .events = ev};
    cr_expect_eq(poll(&p, 1, 0), 0, "no pressure yet");
    int w = open(fifo, O_WRONLY | O_NONBLOCK);
    cr_assert_geq(w, 0);
    cr_assert_eq(write(w, "x", 1), 1);
    cr_expect_eq(poll(&p, 1, 1000), 1);
    cr_expect(p.revents & POLLIN);
    close(w);
    close(fd);

    snprintf(sock, sizeof sock, "%s/sock", dir);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, sock);
    cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(l, 1), 0);
    const char trig[] = "some 200000 2000000";
    fd = ml_events_watch_open(sock, trig, sizeof trig, &ev);
    cr_assert_geq(fd, 0);
    cr_expect_eq(ev, POLLIN);
    int c = accept(l, NULL, NULL);
    char got[64] = "";
    cr_expect_eq(read(c, got, sizeof got), (ssize_t)sizeof trig, "the trigger is sent on connect");
    cr_expect_str_eq(got, trig);
    close(c);
    close(l);
    close(fd);
    cr_expect_eq(ml_events_watch_open(dir, NULL, 0, &ev), -EINVAL, "a directory");
    unlink(fifo);
    unlink(sock);
    rmdir(dir);
}
