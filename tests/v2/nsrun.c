/* For the cgroup v2 VM (tests/v2): runs a command in a new cgroup namespace, as a
 * container runtime does. With -m it also takes a new mount namespace and mounts a
 * fresh cgroup2 over /sys/fs/cgroup, so the cgroup tree shows only the namespace's
 * own subtree (what a container sees); without -m the old mount stays visible and
 * /proc/self/cgroup says "/" while the mount is still the host's.
 * Built static by the Makefile (busybox has no `unshare -C`).
 * usage: nsrun [-m] COMMAND [ARGS...] */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int remount = 0, a = 1;
    if (a < argc && strcmp(argv[a], "-m") == 0) {
        remount = 1;
        a++;
    }
    if (a >= argc) {
        fprintf(stderr, "usage: nsrun [-m] COMMAND [ARGS...]\n");
        return 2;
    }
    if (unshare(CLONE_NEWCGROUP | (remount ? CLONE_NEWNS : 0)) != 0) {
        perror("nsrun: unshare");
        return 2;
    }
    if (remount) {
        /* keep our mounts to ourselves, then replace the cgroup2 mount */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
            perror("nsrun: make / private");
            return 2;
        }
        if (umount2("/sys/fs/cgroup", MNT_DETACH) != 0) {
            perror("nsrun: umount /sys/fs/cgroup");
            return 2;
        }
        if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL) != 0) {
            perror("nsrun: mount cgroup2");
            return 2;
        }
    }
    execvp(argv[a], argv + a);
    perror("nsrun: exec");
    return 127;
}
