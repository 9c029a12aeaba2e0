# SPDX-License-Identifier: MIT
# MEMLIMIT_SCOPE=cgroup: two different processes (tests/work/cacheapp), each with an
# eviction callback, fill one 256 MiB cgroup together; each alone would fit. Without
# the library the cgroup OOMs; with it both are called back and both complete.
. "$ROOT/tests/integration/lib.sh"
need_cgroup
LIMIT=$((256 << 20)) RECORDS=100000 # 200 MiB of index each
run_pair() { # DIR PRELOAD: runs two importers at once, prints their exit statuses
    local d=$1 pre=$2
    cg_run "$d" env LD_PRELOAD="$pre" MEMLIMIT_SCOPE=cgroup MEMLIMIT_TRACE=1 MEMLIMIT_LOG="$ROOT/build/scope-a.trace" \
        "$W/cacheapp" ${pre:+--callback} $RECORDS > "$ROOT/build/scope-a.out" 2>&1 & local a=$!
    cg_run "$d" env LD_PRELOAD="$pre" MEMLIMIT_SCOPE=cgroup MEMLIMIT_TRACE=1 MEMLIMIT_LOG="$ROOT/build/scope-b.trace" \
        "$W/cacheapp" ${pre:+--callback} $RECORDS > "$ROOT/build/scope-b.out" 2>&1 & local b=$!
    wait $a; local ra=$?
    wait $b; local rb=$?
    echo "$ra $rb"
}
new_cgroup scope-plain $LIMIT; plain=$CG_DIR
rm -f "$ROOT"/build/scope-?.trace
set -- $(run_pair "$plain" "")
echo "without the library: exits $1 and $2, peak $(mib "$(cg_peak "$plain")"), oom_kill $(cg_oom_kills "$plain")"
[ "$(cg_oom_kills "$plain")" -ge 1 ] || fail "no OOM kill without the library"
new_cgroup scope-lib $LIMIT; lib=$CG_DIR
rm -f "$ROOT"/build/scope-?.trace
set -- $(run_pair "$lib" "$LIB")
echo "with MEMLIMIT_SCOPE=cgroup: exits $1 and $2, peak $(mib "$(cg_peak "$lib")") of $(mib $LIMIT), oom_kill $(cg_oom_kills "$lib")"
for p in a b; do
    echo "   $p: $(tail -1 "$ROOT/build/scope-$p.out")"
    grep -q "imported $RECORDS of $RECORDS records" "$ROOT/build/scope-$p.out" || fail "process $p did not complete"
    rounds=$(tail -1 "$ROOT/build/scope-$p.out" | sed -E 's/.* in ([0-9]+) callback rounds.*/\1/')
    [ "$rounds" -ge 1 ] || fail "process $p was never called back"
done
[ "$1" -eq 0 ] && [ "$2" -eq 0 ] || fail "exit statuses $1 $2"
[ "$(cg_oom_kills "$lib")" -eq 0 ] || fail "OOM kill with the library"
grep -q 'scope cgroup' "$ROOT/build/scope-a.trace" || fail "process a did not use scope cgroup"
