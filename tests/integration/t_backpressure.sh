# SPDX-License-Identifier: MIT
# Back-pressure (tests/work/pool): workers that ask memlimit_reached() before taking
# a job finish every job in the cgroup (on glibc and on jemalloc); the same pool
# without the check is killed. First, with no cgroup needed (tests/work/busysampler):
# reached rises while the sampler is held by a stopped thread, and the sample that
# follows settles it from usage alone.
. "$ROOT/tests/integration/lib.sh"
for a in glibc "jemalloc:$L/libjemalloc.so.2"; do
    name=$(alloc_name "$a")
    out=$(MEMLIMIT=64MiB MEMLIMIT_SCOPE=process LD_PRELOAD="$LIB $(alloc_path "$a")" timeout 60 "$W/busysampler"); rc=$?
    echo "$out" | sed "s/^/$name: /"
    [ $rc -eq 0 ] || fail "$name: busysampler exit $rc"
done
need_cgroup
LIMIT=$((192 << 20))
JOBS=600
new_cgroup pool-plain $LIMIT; plain=$CG_DIR
cg_run "$plain" env LD_PRELOAD="$LIB" "$W/pool" $JOBS > "$ROOT/build/pool-plain.out" 2>/dev/null; rc_plain=$?
done_plain=$(grep -o '^written [0-9]*' "$ROOT/build/pool-plain.out" | tail -1 | grep -o '[0-9]*')
echo "without the check: exit $rc_plain after writing ${done_plain:-0} of $JOBS results, peak $(mib "$(cg_peak "$plain")"), oom_kill $(cg_oom_kills "$plain")"
[ $rc_plain -eq 137 ] || fail "expected an OOM kill without the check, got $rc_plain"
[ "${done_plain:-0}" -lt $JOBS ] || fail "the unchecked pool finished"
for a in glibc "jemalloc:$L/libjemalloc.so.2"; do
    name=$(alloc_name "$a")
    new_cgroup "pool-check-$name" $LIMIT; chk=$CG_DIR
    out=$ROOT/build/pool-check-$name.out
    cg_run "$chk" env LD_PRELOAD="$LIB $(alloc_path "$a")" "$W/pool" --check $JOBS > "$out"; rc=$?
    echo "with the check ($name): exit $rc, peak $(mib "$(cg_peak "$chk")") of $(mib $LIMIT), oom_kill $(cg_oom_kills "$chk")"
    echo "   $(tail -1 "$out")"
    [ $rc -eq 0 ] || fail "$name: exit $rc with the check"
    grep -q "^pool: $JOBS of $JOBS jobs done (0 missing" "$out" || fail "$name: not every job done exactly once"
    deferred=$(tail -1 "$out" | sed -E 's/.* ([0-9]+) jobs deferred.*/\1/')
    [ "$deferred" -ge 1 ] || fail "$name: no job was deferred"
    [ "$(cg_peak "$chk")" -lt $LIMIT ] || fail "$name: peak reached the limit"
    [ "$(cg_oom_kills "$chk")" -eq 0 ] || fail "$name: OOM kill with the check"
done
