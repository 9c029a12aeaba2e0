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
