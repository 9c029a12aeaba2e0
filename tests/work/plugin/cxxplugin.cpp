/* SPDX-License-Identifier: MIT */
// A C++ plugin that a C program loads with RTLD_LOCAL: its libstdc++ is then not in
// the global scope, where our operator new is; memlimit must still find the
// runtime's operator new, and std::bad_alloc must still reach this code.
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <vector>

static volatile size_t huge = (size_t)PTRDIFF_MAX + 1;
static char *volatile sink; // the allocation escapes: the compiler may not elide it

extern "C" int plugin_run(void) {
    std::vector<std::string> v;
    for (int i = 0; i < 10000; i++)
        v.push_back(std::string(100, 'x') + std::to_string(i));
    if (v[9999].size() != 104) return 1;
    try {
        sink = new char[huge];
        return 2; // must not get here
    } catch (const std::bad_alloc &) {
    }
    return 0;
}

// Every operator new variant once, as a process's first calls of each: for the fork
// race (forkmain.c). 0 when each returned memory.
extern "C" int plugin_first_news(void) {
    void *p[8];
    p[0] = ::operator new(32);
    p[1] = ::operator new[](32);
    p[2] = ::operator new(32, std::nothrow);
    p[3] = ::operator new[](32, std::nothrow);
    p[4] = ::operator new(64, std::align_val_t(64));
    p[5] = ::operator new[](64, std::align_val_t(64));
    p[6] = ::operator new(64, std::align_val_t(64), std::nothrow);
    p[7] = ::operator new[](64, std::align_val_t(64), std::nothrow);
    for (void *q : p)
        if (!q) return 1;
    ::operator delete(p[0]);
    ::operator delete[](p[1]);
    ::operator delete(p[2]);
    ::operator delete[](p[3]);
    ::operator delete(p[4], std::align_val_t(64));
    ::operator delete[](p[5], std::align_val_t(64));
    ::operator delete(p[6], std::align_val_t(64));
    ::operator delete[](p[7], std::align_val_t(64));
    return 0;
}
