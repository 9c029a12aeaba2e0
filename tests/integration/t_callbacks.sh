# SPDX-License-Identifier: MIT
# An aware application with a droppable index (tests/work/cacheapp): killed part-way
# without its eviction callback, completes with it, peak below the cgroup limit.
. "$ROOT/tests/integration/lib.sh"
need_cgroup
LIMIT=$((256 << 20))
new_cgroup cache-plain $LIMIT; plain=$CG_DIR
cg_run "$plain" env LD_PRELOAD="$LIB" "$W/cacheapp" > "$ROOT/build/cache-plain.out" 2>/dev/null; rc_plain=$?
new_cgroup cache-cb $LIMIT; cb=$CG_DIR
log=$ROOT/build/cache.trace; rm -f "$log"
cg_run "$cb" env LD_PRELOAD="$LIB" MEMLIMIT_TRACE=1 MEMLIMIT_LOG="$log" "$W/cacheapp" --callback > "$ROOT/build/cache-cb.out"; rc_cb=$?
done_plain=$(tail -1 "$ROOT/build/cache-plain.out" | grep -o '^imported [0-9]*' | grep -o '[0-9]*')
echo "without the callback: exit $rc_plain after importing ${done_plain:-0} of 200000 records, peak $(mib "$(cg_peak "$plain")"), oom_kill $(cg_oom_kills "$plain")"
echo "with the callback:    exit $rc_cb, peak $(mib "$(cg_peak "$cb")") of $(mib $LIMIT), oom_kill $(cg_oom_kills "$cb")"
echo "   $(tail -1 "$ROOT/build/cache-cb.out")"
[ $rc_plain -eq 137 ] || fail "expected an OOM kill without the callback, got $rc_plain"
[ "${done_plain:-0}" -lt 200000 ] || fail "the plain run imported everything"
[ $rc_cb -eq 0 ] || fail "exit $rc_cb with the callback"
grep -q "imported 200000 of 200000 records" "$ROOT/build/cache-cb.out" || fail "incomplete import"
rounds=$(tail -1 "$ROOT/build/cache-cb.out" | sed -E 's/.* in ([0-9]+) callback rounds.*/\1/')
[ "$rounds" -ge 1 ] || fail "no callback round"
[ "$(cg_peak "$cb")" -lt $LIMIT ] || fail "peak reached the limit"
[ "$(cg_oom_kills "$cb")" -eq 0 ] || fail "OOM kill with the callback"
