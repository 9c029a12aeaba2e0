# SPDX-License-Identifier: MIT
# The Python binding (bindings/python): installs offline with pip into a venv, its
# struct matches the C header, its unit tests pass against the library; the cache app
# is killed in a 256 MiB cgroup without its callback and completes with it, the pool
# is killed without memlimit.reached() and completes with it.
. "$ROOT/tests/integration/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: no $PY (scripts/deps installs python3)"; exit 77; }
"$PY" -c 'import venv, ensurepip' 2> /dev/null || { echo "SKIP: python3 has no venv/ensurepip (scripts/deps installs python3-venv)"; exit 77; }
B=$ROOT/build/bind-python; rm -rf "$B"; mkdir -p "$B"
"$PY" -m venv "$B/venv" || fail "cannot create a venv"
VPY=$B/venv/bin/python
PIP_NO_INDEX=1 "$VPY" -m pip install --no-cache-dir -q "$ROOT/bindings/python" > "$B/pip.log" 2>&1 || { cat "$B/pip.log"; fail "pip install ./bindings/python failed offline"; }
where=$(cd "$B" && "$VPY" -c 'import memlimit; print(memlimit.__file__)')
case $where in "$B"/venv/*) ;; *) fail "memlimit imported from $where, not from the venv";; esac
echo "pip install ./bindings/python: ok ($where)"

# struct memlimit_stats: ctypes' layout is the compiler's
cat > "$B/layout.c" << 'EOF'
#include <stddef.h>
#include <stdio.h>
#include "memlimit.h"
#define O(f) printf(#f " %zu\n", offsetof(struct memlimit_stats, f))
int main(void) { printf("size %zu\n", sizeof(struct memlimit_stats)); O(source); O(source_path); O(usage); O(level); O(samples); O(failed_allocs); return 0; }
EOF
cc -I"$ROOT/src" -o "$B/layout" "$B/layout.c" || fail "cannot build the layout check"
"$B/layout" > "$B/layout.c.out"
(cd "$B" && "$VPY" -c '
import ctypes, memlimit
S = memlimit._CStats
print("size", ctypes.sizeof(S))
for f in "source source_path usage level samples failed_allocs".split(): print(f, getattr(S, f).offset)') > "$B/layout.py.out"
cmp -s "$B/layout.c.out" "$B/layout.py.out" || { paste "$B/layout.c.out" "$B/layout.py.out"; fail "ctypes layout differs from struct memlimit_stats"; }

# unit tests (scope process: the limits they set are this process's own)
(cd "$B" && MEMLIMIT_SCOPE=process LD_PRELOAD="$LIB" timeout 120 "$VPY" -m unittest discover -s "$ROOT/bindings/python/tests" > "$B/unit.log" 2>&1); rc=$?
tail -3 "$B/unit.log"
[ $rc -eq 0 ] || { cat "$B/unit.log"; fail "python unit tests"; }
grep -q "^OK$" "$B/unit.log" || fail "unit tests did not report OK"
grep -q "skipped" "$B/unit.log" && fail "unit tests skipped with the library preloaded"

need_cgroup
EX=$ROOT/bindings/python/examples
. "$ROOT/tests/integration/bindings.sh"
bind_cacheapp py "$VPY" "$EX/cacheapp.py"
bind_pool py pool.py "$VPY" "$EX/pool.py"
