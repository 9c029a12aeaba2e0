// SPDX-License-Identifier: MIT

package memlimit

// Helpers for memlimit_test.go, which cannot use cgo itself.

// #include <stdlib.h>
// #include <string.h>
// #include "bridge.h"
// static void ml_go_churn(void) { char *p = malloc(1 << 20); if (p) { memset(p, 1, 1 << 20); free(p); } }
import "C"

// cChurn allocates, touches and frees 1 MiB with C's malloc.
func cChurn() { C.ml_go_churn() }

// cLevel is memlimit_level through cgo, to check the assembly fast path against.
func cLevel() Level { return Level(C.ml_go_level()) }
