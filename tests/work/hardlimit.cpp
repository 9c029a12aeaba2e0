/* SPDX-License-Identifier: MIT */
// The opt-in hard limit: a program that keeps allocating gets NULL (malloc) or
// std::bad_alloc (new) at MEMLIMIT_HARD, writes its results to a file and exits 0,
// instead of being killed by the kernel with 137.
// usage: hardlimit c|cxx OUTFILE
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

int main(int argc, char **argv) {
    bool cxx = argc > 1 && std::strcmp(argv[1], "cxx") == 0;
    const char *out = argc > 2 ? argv[2] : "/tmp/hardlimit.out";
    const size_t block = 1 << 20;
    std::vector<void *> kept;
    kept.reserve(1 << 16);
    std::vector<std::unique_ptr<char[]>> owned;
    owned.reserve(1 << 16);
    size_t blocks = 0;
    int err = 0;
    for (;;) {
        if (cxx) {
            try {
                std::unique_ptr<char[]> p(new char[block]);
                std::memset(p.get(), 1, block);
                owned.push_back(std::move(p));
            } catch (const std::bad_alloc &) {
                err = ENOMEM;
                break;
            }
        } else {
            void *p = std::malloc(block);
            if (!p) {
                err = errno;
                break;
            }
            std::memset(p, 1, block);
            kept.push_back(p);
        }
        blocks++;
    }
    // results first, then let go: this needs small allocations (stdio)
    FILE *f = std::fopen(out, "w");
    if (!f) return 5;
    std::fprintf(f, "allocated %zu MiB before %s (%s)\n", blocks,
                 cxx ? "std::bad_alloc" : "malloc returned NULL", std::strerror(err));
    std::fclose(f);
    for (void *p : kept)
        std::free(p);
    std::printf("hardlimit: %zu MiB, then %s; results written to %s\n", blocks,
                cxx ? "std::bad_alloc" : "NULL/ENOMEM", out);
    return err == ENOMEM ? 0 : 6;
}
