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
LIMIT=$((256 << 20))
new_cgroup py-cache-plain $LIMIT; plain=$CG_DIR
cg_run "$plain" env LD_PRELOAD="$LIB" "$VPY" "$EX/cacheapp.py" > "$B/cache-plain.out" 2>/dev/null; rc_plain=$?
new_cgroup py-cache-cb $LIMIT; cb=$CG_DIR
cg_run "$cb" env LD_PRELOAD="$LIB" "$VPY" "$EX/cacheapp.py" --callback > "$B/cache-cb.out"; rc_cb=$?
done_plain=$(grep -o '^imported [0-9]*' "$B/cache-plain.out" | tail -1 | grep -o '[0-9]*')
echo "cache app without the callback: exit $rc_plain after importing ${done_plain:-0} of 200000 records, peak $(mib "$(cg_peak "$plain")"), oom_kill $(cg_oom_kills "$plain")"
echo "cache app with the callback:    exit $rc_cb, peak $(mib "$(cg_peak "$cb")") of $(mib $LIMIT), oom_kill $(cg_oom_kills "$cb")"
echo "   $(tail -1 "$B/cache-cb.out")"
[ $rc_plain -eq 137 ] || fail "expected an OOM kill without the callback, got $rc_plain"
[ "$(cg_oom_kills "$plain")" -ge 1 ] || fail "no oom_kill counted without the callback"
[ "${done_plain:-0}" -lt 200000 ] || fail "the plain run imported everything"
[ $rc_cb -eq 0 ] || fail "exit $rc_cb with the callback"
grep -q "imported 200000 of 200000 records" "$B/cache-cb.out" || fail "incomplete import"
rounds=$(tail -1 "$B/cache-cb.out" | sed -E 's/.* in ([0-9]+) callback rounds.*/\1/')
[ "${rounds:-0}" -ge 1 ] 2> /dev/null || fail "no callback round"
[ "$(cg_peak "$cb")" -lt $LIMIT ] || fail "peak reached the limit"
[ "$(cg_oom_kills "$cb")" -eq 0 ] || fail "OOM kill with the callback"

PLIMIT=$((192 << 20)); JOBS=600
new_cgroup py-pool-plain $PLIMIT; pp=$CG_DIR
cg_run "$pp" env LD_PRELOAD="$LIB" "$VPY" "$EX/pool.py" $JOBS > "$B/pool-plain.out" 2>/dev/null; rc_pp=$?
new_cgroup py-pool-check $PLIMIT; pc=$CG_DIR
cg_run "$pc" env LD_PRELOAD="$LIB" "$VPY" "$EX/pool.py" --check $JOBS > "$B/pool-check.out"; rc_pc=$?
done_pp=$(grep -o '^written [0-9]*' "$B/pool-plain.out" | tail -1 | grep -o '[0-9]*')
echo "pool without the check: exit $rc_pp after writing ${done_pp:-0} of $JOBS results, peak $(mib "$(cg_peak "$pp")"), oom_kill $(cg_oom_kills "$pp")"
echo "pool with the check:    exit $rc_pc, peak $(mib "$(cg_peak "$pc")") of $(mib $PLIMIT), oom_kill $(cg_oom_kills "$pc")"
echo "   $(tail -1 "$B/pool-check.out")"
[ $rc_pp -eq 137 ] || fail "expected an OOM kill of the unchecked pool, got $rc_pp"
[ "${done_pp:-0}" -lt $JOBS ] || fail "the unchecked pool finished"
[ $rc_pc -eq 0 ] || fail "exit $rc_pc with the check"
grep -q "^pool.py: $JOBS of $JOBS jobs done (0 missing" "$B/pool-check.out" || fail "not every job done exactly once"
deferred=$(tail -1 "$B/pool-check.out" | sed -E 's/.* ([0-9]+) jobs deferred.*/\1/')
[ "${deferred:-0}" -ge 1 ] 2> /dev/null || fail "no job was deferred"
[ "$(cg_peak "$pc")" -lt $PLIMIT ] || fail "pool peak reached the limit"
[ "$(cg_oom_kills "$pc")" -eq 0 ] || fail "OOM kill with the check"
