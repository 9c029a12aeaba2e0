# SPDX-License-Identifier: MIT
# An in-place resize (as Kubernetes does) is followed: lowering the cgroup limit of a
# running process lowers its soft limit at the next re-read.
. "$ROOT/tests/integration/lib.sh"
need_cgroup
new_cgroup resize $((512 << 20)); d=$CG_DIR
log=$ROOT/build/resize.trace; rm -f "$log"
( cg_run "$d" env LD_PRELOAD="$LIB" MEMLIMIT_TRACE=1 MEMLIMIT_LOG="$log" MEMLIMIT_REFRESH=1 \
    "$W/forkexit" churn 4 > /dev/null ) &
pid=$!
# lowered once the start line shows the first limit, however long start-up takes
wait_for "$log" "soft 460.8MiB" || fail "no start line: $(cat "$log")"
if [ "$CG_VERSION" = 1 ]; then echo $((256 << 20)) > "$d/memory.limit_in_bytes"; else echo $((256 << 20)) > "$d/memory.max"; fi
wait $pid || fail "workload exit $?"
cat "$log"
grep -q "soft 460.8MiB" "$log" || fail "start line"
grep -q "limit changed: 256.0MiB at .*, soft 460.8MiB -> 230.4MiB" "$log" || fail "the new limit was not followed"
