/* SPDX-License-Identifier: MIT */
/* Runs the tests shim/criterion/criterion.h registered, each in a forked child with
 * its suite's init and a timeout; prints Criterion-like totals; exit 1 on a failure. */
#include "criterion/criterion.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static struct {
    const char *suite, *name;
    void (*fn)(void);
    struct shim_opts o;
} tests[256];
static int ntests;
static struct {
    const char *suite;
    struct shim_opts o;
} suites[32];
static int nsuites, failed_checks;

void shim_register(const char *suite, const char *name, void (*fn)(void), struct shim_opts o) {
    if (ntests < 256)
        tests[ntests].suite = suite, tests[ntests].name = name, tests[ntests].fn = fn,
        tests[ntests++].o = o;
}
void shim_suite(const char *suite, struct shim_opts o) {
    if (nsuites < 32) suites[nsuites].suite = suite, suites[nsuites++].o = o;
}
void shim_fail(bool fatal, const char *what, const char *file, int line) {
    fprintf(stderr, "  %s:%d: failed: %s\n", file, line, what);
    failed_checks++;
    if (fatal) exit(1);
}

int main(int argc, char **argv) {
    int pass = 0, fail = 0;
    for (int i = 0; i < ntests; i++) {
        if (argc > 1 && !strstr(tests[i].suite, argv[1])) continue;
        pid_t pid = fork();
        if (pid == 0) {
            alarm(tests[i].o.timeout > 0 ? (unsigned)tests[i].o.timeout : 60);
            for (int s = 0; s < nsuites; s++)
                if (!strcmp(suites[s].suite, tests[i].suite) && suites[s].o.init)
                    suites[s].o.init();
            if (tests[i].o.init) tests[i].o.init();
            tests[i].fn();
            exit(failed_checks ? 1 : 0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (!ok)
            fprintf(stderr, "[FAIL] %s::%s (%s %d)\n", tests[i].suite, tests[i].name,
                    WIFEXITED(st) ? "exit" : "signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        ok ? pass++ : fail++;
    }
    printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d\n", pass + fail, pass, fail);
    return fail ? 1 : 0;
}
