/* SPDX-License-Identifier: MIT */
// C++ operator new/delete under memlimit: every variant works and is freed by the
// allocator that made it, std::bad_alloc still reaches the caller, and C++
// allocations are accounted (the limiter samples as they grow).
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"

#include <dlfcn.h>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <vector>

#include "check.h"

struct alignas(256) Wide {
    char b[300];
};

// above PTRDIFF_MAX: no allocator can serve it, and every one must throw
static volatile size_t huge = (size_t)PTRDIFF_MAX + 1;

int main() {
    uint64_t samples0 = 0;
    struct memlimit_stats st;
    if (memlimit_available() && memlimit_stats(&st) == 0) samples0 = st.samples;

    for (int round = 0; round < 64; round++) {
        char *a = new char[1 << 20]; // 64 MiB in all: crosses the budget many times
        std::memset(a, round, 1 << 20);
        delete[] a;
        int *i = new int(7);
        CHECK(*i == 7, "new int");
        delete i;
        Wide *w = new Wide;
        CHECK(reinterpret_cast<uintptr_t>(w) % 256 == 0, "aligned new %p", (void *)w);
        delete w;
        Wide *wa = new Wide[3];
        CHECK(reinterpret_cast<uintptr_t>(wa) % 256 == 0, "aligned new[] %p", (void *)wa);
        delete[] wa;
        Wide *wn = new (std::nothrow) Wide;
        CHECK(wn && reinterpret_cast<uintptr_t>(wn) % 256 == 0, "aligned nothrow new");
        delete wn;
        char *n = new (std::nothrow) char[100];
        CHECK(n != nullptr, "nothrow new[]");
        delete[] n;
        void *raw = ::operator new(64);
        ::operator delete(raw, 64); // sized delete
        void *ral = ::operator new(64, std::align_val_t(128));
        CHECK(reinterpret_cast<uintptr_t>(ral) % 128 == 0, "operator new(align 128)");
        ::operator delete(ral, 64, std::align_val_t(128));
        std::vector<int> v(1000, round);
        CHECK(v[999] == round, "vector");
    }

    bool threw = false;
    try {
        char *p = new char[huge];
        p[0] = 1;
        delete[] p;
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw, "new of a huge size must throw std::bad_alloc");
    char *q = new (std::nothrow) char[huge];
    CHECK(q == nullptr, "nothrow new of a huge size must return nullptr");

    if (memlimit_available()) {
        CHECK(memlimit_stats(&st) == 0 && st.samples > samples0,
              "C++ allocations must be accounted (samples %llu -> %llu)",
              (unsigned long long)samples0, (unsigned long long)st.samples);
    }
    std::printf("c++ under %s%s: %d checks, %d failed\n",
                dlsym(RTLD_DEFAULT, "mallctl")                        ? "jemalloc"
                : dlsym(RTLD_DEFAULT, "MallocExtension_GetOwnership") ? "tcmalloc"
                : dlsym(RTLD_DEFAULT, "mi_collect")                   ? "mimalloc"
                                                                      : "glibc",
                memlimit_available() ? " with memlimit" : "", checks, failures);
    return failures ? 1 : 0;
}
