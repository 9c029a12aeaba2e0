# SPDX-License-Identifier: MIT
# Protection that does not wait to be asked: a ProcessPoolExecutor ETL (three forked
# workers parse a batch, keep one record in 50, then fill a fresh 80 MiB buffer page
# by page, with no allocation call while it becomes resident) in a 512 MiB cgroup,
# at default settings (MEMLIMIT unset). Without the library, and with
# MALLOC_ARENA_MAX=2, the kernel kills a worker; with it, each worker's memlimit
# thread sees the cgroup's charge rise and trims the parsed records' holes. Saved on
# an idle machine, beside two busy loops outside the cgroup (noisy neighbours), and
# in a CPU quota of half a core (a pod's cpu: 500m): a kill is a failure in any run.
. "$ROOT/tests/integration/lib.sh"
need_cgroup
command -v python3 > /dev/null || fail "python3 missing"
PY=$(python3 -c 'import sys; print(sys.executable)') # the interpreter, not a shim script
busy=""
stop_busy() { [ -z "$busy" ] || kill $busy 2> /dev/null; wait $busy 2> /dev/null; busy=""; }
CPU=/sys/fs/cgroup/cpu/memlimit-etl-$$
CPUDIR=""
trap 'stop_busy; cleanup; [ ! -d "$CPU" ] || rmdir "$CPU"' EXIT

run() { # NAME ENV...: one run in a fresh 512 MiB cgroup; sets rc, peak, kills, out
    local name=$1; shift
    new_cgroup "etl-$name" $((512 << 20)); local d=$CG_DIR
    out=$(sh -c 'echo $$ > "$1/cgroup.procs" && { [ -z "$2" ] || echo $$ > "$2/cgroup.procs"; } || exit 99
        shift 2; exec "$@"' sh "$d" "$CPUDIR" env "$@" timeout 300 "$PY" "$ROOT/tests/work/etlpool.py" 120 80 3 2>&1); rc=$?
    peak=$(cg_peak "$d"); kills=$(cg_oom_kills "$d")
    echo "   $name: exit $rc, peak $(mib "$peak") of 512 MiB, oom_kill $kills"
}

# the workload needs saving: without the library a worker is killed
run bare MEMLIMIT_UNUSED=1
[ "$kills" -ge 1 ] || fail "without the library nothing was killed: the workload no longer needs saving ($out)"
run arena MALLOC_ARENA_MAX=2
[ "$kills" -ge 1 ] || fail "MALLOC_ARENA_MAX=2 alone saved it: the test shows nothing memlimit adds ($out)"

for cond in idle busy quota; do
    if [ $cond = busy ]; then
        for i in 1 2; do sh -c 'while :; do :; done' & busy="$busy $!"; done
    fi
    if [ $cond = quota ]; then
        mkdir "$CPU" && echo 100000 > "$CPU/cpu.cfs_period_us" && echo 50000 > "$CPU/cpu.cfs_quota_us" ||
            fail "cannot create a CPU cgroup with a quota at $CPU"
        CPUDIR=$CPU
    fi
    for i in 1 2 3; do
        run "$cond-$i" LD_PRELOAD="$LIB"
        [ $rc = 0 ] && [ "$kills" = 0 ] || fail "$cond, run $i: killed or failed at default settings: $out"
    done
    stop_busy
done
echo "the process pool completed at default settings: 3 of 3 idle, 3 of 3 beside two busy loops, 3 of 3 in half a core"
