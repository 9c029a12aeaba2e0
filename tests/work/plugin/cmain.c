/* SPDX-License-Identifier: MIT */
/* A C program (no C++ runtime of its own) that loads many libraries and then a C++
 * plugin with RTLD_LOCAL. usage: cmain PLUGIN LIB... */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv) {
    for (int i = 2; i < argc; i++)
        if (!dlopen(argv[i], RTLD_NOW | RTLD_LOCAL)) return fprintf(stderr, "%s\n", dlerror()), 3;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) return fprintf(stderr, "%s\n", dlerror()), 3;
    int (*run)(void) = (int (*)(void))dlsym(h, "plugin_run");
    int r = run ? run() : 4;
    printf("C++ plugin loaded RTLD_LOCAL after %d libraries: %s\n", argc - 2, r ? "FAILED" : "ok");
    return r;
}
