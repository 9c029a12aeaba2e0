#include <criterion/criterion.h>
#include "meminfo.h"

#include <string.h>

static const char kernel[] = "MemTotal:       24683772 kB\n"
                             "MemFree:        23558692 kB\n"
                             "MemAvailable:   24032396 kB\n"
                             "Buffers:            9404 kB\n"
                             "SwapTotal:             0 kB\n"
                             "SwapFree:              0 kB\n"
                             "HugePages_Total:       0\n";

Test(meminfo, the_view_is_the_limit_and_the_room_under_it) {
    const uint64_t M = 1u << 20;
    struct ml_meminfo_view v = ml_meminfo_view(256 * M, 100 * M, 24000 * M);
    cr_expect_eq(v.total, 256 * M);
    cr_expect_eq(v.avail, 156 * M);
    v = ml_meminfo_view(256 * M, 300 * M, 24000 * M); /* over the limit: none left */
    cr_expect_eq(v.avail, 0);
    v = ml_meminfo_view(64000 * M, 100 * M, 24000 * M); /* a limit above the machine */
    cr_expect_eq(v.total, 24000 * M);
    cr_expect_eq(v.avail, 23900 * M);
}

Test(meminfo, rewrites_three_lines_in_the_kernels_format) {
    const uint64_t M = 1u << 20;
    struct ml_meminfo_view v = {.total = 256 * M, .avail = 156 * M};
    char out[512];
    size_t n = ml_meminfo_rewrite(kernel, sizeof kernel - 1, &v, out, sizeof out);
    out[n] = '\0';
    cr_expect_str_eq(out, "MemTotal:         262144 kB\n"
                          "MemFree:          159744 kB\n"
                          "MemAvailable:     159744 kB\n"
                          "Buffers:            9404 kB\n"
                          "SwapTotal:             0 kB\n"
                          "SwapFree:              0 kB\n"
                          "HugePages_Total:       0\n");
    /* each rewritten line as wide as the kernel's */
    cr_expect_eq(strchr(out, '\n') - out, strchr(kernel, '\n') - kernel);
    /* a number wider than 8 digits widens its line, as the kernel's does */
    v.total = 200000000ULL << 10;
    n = ml_meminfo_rewrite(kernel, sizeof kernel - 1, &v, out, sizeof out);
    out[n] = '\0';
    cr_expect(strncmp(out, "MemTotal:       200000000 kB\n", 29) == 0, "%.*s", 30, out);
    /* too small a buffer: 0, never a cut file */
    cr_expect_eq(ml_meminfo_rewrite(kernel, sizeof kernel - 1, &v, out, 40), 0);
}

Test(meminfo, swap_is_the_cgroups_where_it_limits_swap) {
    const uint64_t M = 1u << 20;
    static const char host[] = "MemTotal:       24683772 kB\n"
                               "SwapCached:            0 kB\n"
                               "SwapTotal:       1048572 kB\n"
                               "SwapFree:         1000000 kB\n"
                               "Zswap:                 0 kB\n";
    char out[512];
    struct ml_meminfo_view v = ml_meminfo_view(256 * M, 100 * M, 24000 * M);
    /* no swap limit: the machine's swap lines as they are */
    ml_meminfo_swap(&v, UINT64_MAX, 0, 1024 * M);
    cr_expect_not(v.swap);
    size_t n = ml_meminfo_rewrite(host, sizeof host - 1, &v, out, sizeof out);
    out[n] = '\0';
    cr_expect(strstr(out, "SwapTotal:       1048572 kB\nSwapFree:         1000000 kB\n"), "%s",
              out);
    /* a limit of 32 MiB, 8 used */
    ml_meminfo_swap(&v, 32 * M, 8 * M, 1024 * M);
    cr_expect(v.swap);
    cr_expect_eq(v.swap_total, 32 * M);
    cr_expect_eq(v.swap_free, 24 * M);
    n = ml_meminfo_rewrite(host, sizeof host - 1, &v, out, sizeof out);
    out[n] = '\0';
    cr_expect_str_eq(out, "MemTotal:         262144 kB\n"
                          "SwapCached:            0 kB\n"
                          "SwapTotal:         32768 kB\n"
                          "SwapFree:          24576 kB\n"
                          "Zswap:                 0 kB\n");
    /* a limit above the machine's swap: the machine's; use over it: none free */
    ml_meminfo_swap(&v, 4096 * M, 2048 * M, 1024 * M);
    cr_expect_eq(v.swap_total, 1024 * M);
    cr_expect_eq(v.swap_free, 0);
    /* no swap allowed (v1 memsw equal to the memory limit): none */
    ml_meminfo_swap(&v, 0, 0, 1024 * M);
    cr_expect(v.swap);
    cr_expect_eq(v.swap_total, 0);
}

Test(meminfo, knows_the_paths) {
    cr_expect(ml_meminfo_path("/proc/meminfo"));
    cr_expect(ml_meminfo_path("/proc/self/../meminfo"));
    cr_expect(ml_meminfo_path("/proc//meminfo"));
    cr_expect_not(ml_meminfo_path("/proc/meminfo2"));
    cr_expect_not(ml_meminfo_path("/proc/self/status"));
    cr_expect_not(ml_meminfo_path("meminfo"));
    cr_expect_not(ml_meminfo_path("/etc/passwd"));
    cr_expect_not(ml_meminfo_path(NULL));
}
