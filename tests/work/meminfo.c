/* SPDX-License-Identifier: MIT */
/* What a program that sizes itself from the machine sees: the memory totals from
 * every call a program uses, in MiB, one line each, and how /proc/meminfo behaves as
 * a file (read twice after a seek, fstat, the opens that are not plain reads).
 * usage: meminfo */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

static long long field(const char *text, const char *name) {
    const char *p = strstr(text, name);
    return p ? atoll(p + strlen(name) + 1) : -1;
}

int main(void) {
    long page = sysconf(_SC_PAGESIZE);
    printf("sysconf total %lld\n", (long long)sysconf(_SC_PHYS_PAGES) * page >> 20);
    printf("sysconf avail %lld\n", (long long)sysconf(_SC_AVPHYS_PAGES) * page >> 20);
    printf("get_phys_pages %lld\n", (long long)get_phys_pages() * page >> 20);
    struct sysinfo si;
    if (sysinfo(&si) != 0) return perror("sysinfo"), 1;
    printf("sysinfo total %llu\n", (unsigned long long)si.totalram * si.mem_unit >> 20);
    printf("sysinfo free %llu\n", (unsigned long long)si.freeram * si.mem_unit >> 20);
    printf("sysinfo consistent %d\n", si.freeram <= si.totalram && si.sharedram <= si.totalram &&
                                          si.bufferram <= si.totalram - si.freeram);
    printf("sysinfo swap %llu %llu\n", (unsigned long long)si.totalswap * si.mem_unit >> 20,
           (unsigned long long)si.freeswap * si.mem_unit >> 20);

    char a[8192] = "", b[8192] = "";
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return perror("fopen"), 1;
    size_t n = fread(a, 1, sizeof a - 1, f);
    fclose(f);
    a[n] = '\0';
    printf("fopen MemTotal %lld\n", field(a, "MemTotal") >> 10);
    printf("fopen MemAvailable %lld\n", field(a, "MemAvailable") >> 10);
    printf("fopen swap %lld %lld\n", field(a, "SwapTotal") >> 10, field(a, "SwapFree") >> 10);

    int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return perror("open"), 1;
    ssize_t r = read(fd, b, sizeof b - 1);
    b[r > 0 ? r : 0] = '\0';
    printf("open MemTotal %lld\n", field(b, "MemTotal") >> 10);
    char c[8192] = "";
    lseek(fd, 0, SEEK_SET);
    ssize_t r2 = read(fd, c, sizeof c - 1);
    printf("read again after a seek: same first line %d\n",
           r2 > 0 && strncmp(b, c, (size_t)(strchr(b, '\n') - b)) == 0);
    struct stat st;
    printf("fstat %d, cloexec %d\n", fstat(fd, &st) == 0, (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    printf("close %d\n", close(fd));

    fd = openat(AT_FDCWD, "/proc/self/../meminfo", O_RDONLY);
    r = fd >= 0 ? read(fd, b, sizeof b - 1) : -1;
    b[r > 0 ? r : 0] = '\0';
    printf("openat /proc/self/../meminfo MemTotal %lld\n", field(b, "MemTotal") >> 10);
    if (fd >= 0) close(fd);

    /* not plain reads: the kernel's answers */
    fd = open("/proc/meminfo", O_PATH);
    printf("O_PATH: %s\n", fd >= 0 ? "opened" : strerror(errno));
    if (fd >= 0) {
        printf("O_PATH fstat size %lld\n", fstat(fd, &st) == 0 ? (long long)st.st_size : -1LL);
        close(fd);
    }
    errno = 0;
    fd = open("/proc/meminfo", O_WRONLY);
    printf("O_WRONLY: %s\n", fd >= 0 ? "opened" : strerror(errno));
    if (fd >= 0) close(fd);
    fd = open("/proc/meminfo", O_RDONLY | O_DIRECTORY);
    printf("O_DIRECTORY: %s\n", fd >= 0 ? "opened" : strerror(errno));
    if (fd >= 0) close(fd);
    f = fopen("/proc/meminfo", "r+");
    printf("fopen r+: %s\n", f ? "opened" : strerror(errno));
    if (f) fclose(f);
    return 0;
}
