/* SPDX-License-Identifier: MIT */
/* Discovery end to end on a file tree made from the input: the part before the
 * first "\n--\n" is proc/self/mountinfo, the rest proc/self/cgroup (and the same
 * text as memory.max and memory.limit_in_bytes where they point). */
#include "cgroup.h"
#include "fuzz.h"

#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static void put(const char *rel, const char *text, size_t n) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    if (!f) abort();
    fwrite(text, 1, n, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    if (!root[0]) {
        snprintf(root, sizeof root, "/tmp/memlimit-fuzz-%d", (int)getpid());
        char p[128];
        mkdir(root, 0700);
        snprintf(p, sizeof p, "%s/proc", root), mkdir(p, 0700);
        snprintf(p, sizeof p, "%s/proc/self", root), mkdir(p, 0700);
        snprintf(p, sizeof p, "%s/sys", root), mkdir(p, 0700);
        snprintf(p, sizeof p, "%s/sys/fs", root), mkdir(p, 0700);
        snprintf(p, sizeof p, "%s/sys/fs/cgroup", root), mkdir(p, 0700);
        put("proc/meminfo", "MemTotal: 1000000 kB\n", 21);
    }
    char *s = fuzz_str(d, n);
    char *sep = strstr(s, "\n--\n");
    const char *cg = sep ? sep + 4 : "";
    size_t mlen = sep ? (size_t)(sep - s) + 1 : strlen(s);
    put("proc/self/mountinfo", s, mlen);
    put("proc/self/cgroup", cg, strlen(cg));
    put("sys/fs/cgroup/memory.max", cg, strlen(cg));
    struct ml_cgroup out;
    ml_cgroup_discover(root, &out);
    FUZZ_CHECK(strnlen(out.dir, sizeof out.dir) < sizeof out.dir);
    FUZZ_CHECK(strnlen(out.source, sizeof out.source) < sizeof out.source);
    free(s);
    return 0;
}
