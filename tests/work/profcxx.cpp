/* SPDX-License-Identifier: MIT */
// C++ blocks in the heap profile, whatever allocator serves them: 4000 arrays of 16 KiB
// (62.5 MiB) kept by keep_objects, and 20000 more made and deleted by churn, which must
// hold nothing. usage: profcxx PROFILE_OUT (with MEMLIMIT_PROFILE set)
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

__attribute__((noinline)) void keep_objects(std::vector<std::unique_ptr<char[]>> &v) {
    for (int i = 0; i < 4000; i++) {
        v.emplace_back(new char[16384]);
        std::memset(v.back().get(), 1, 16384);
    }
}

__attribute__((noinline)) void churn() {
    for (int i = 0; i < 20000; i++) {
        char *p = new char[16384];
        p[0] = 1;
        delete[] p;
    }
}

int main(int argc, char **argv) {
    if (argc < 2 || !memlimit_available()) return 2;
    std::vector<std::unique_ptr<char[]>> v;
    churn();
    keep_objects(v);
    churn();
    if (memlimit_profile_dump(argv[1]) != 0) {
        std::fprintf(stderr, "profcxx: %s\n", std::strerror(errno));
        return 1;
    }
    return 0;
}
