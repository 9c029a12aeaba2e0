# SPDX-License-Identifier: MIT
# 16 threads allocating across threads while callbacks are registered and
# unregistered, another thread forks (each child must get its own memlimit thread
# and see its callback called) and a plugin registering in its constructor is loaded
# and unloaded, all in a real cgroup with a soft limit low enough that reclaim
# rounds never stop. glibc, and stacked on jemalloc.
. "$ROOT/tests/integration/lib.sh"
need_cgroup
gcc -shared -fPIC -I"$ROOT/src" -o "$ROOT/build/plugin.so" "$ROOT/tests/work/plugin/plugin.c" || fail "build plugin"
for a in glibc "jemalloc:$L/libjemalloc.so.2"; do
    name=$(alloc_name "$a"); path=$(alloc_path "$a")
    new_cgroup "stress-$name" $((512 << 20)); d=$CG_DIR
    out=$(cg_run "$d" timeout 60 env LD_PRELOAD="$LIB $path" MEMLIMIT=8MiB "$W/stress" 10 "$ROOT/build/plugin.so" 2>&1); rc=$?
    echo "$name: $(echo "$out" | tail -1)"
    [ $rc -eq 0 ] || fail "$name: exit $rc: $(echo "$out" | head -5)"
    echo "$out" | grep -q ", 0 failures" || fail "$name: $out"
    rounds=$(echo "$out" | tail -1 | sed -E 's/.* ([0-9]+) rounds.*/\1/')
    [ "$rounds" -ge 10 ] || fail "$name: only $rounds rounds: the test did not exercise reclaim"
    forks=$(echo "$out" | tail -1 | sed -E 's/.* ([0-9]+) forks.*/\1/')
    # every fork is checked by the workload (0 failures above); how many fit in 10 s
    # depends on the machine, so only that forks happened at all is required
    [ "$forks" -ge 1 ] || fail "$name: no fork happened"
    [ "$(cg_oom_kills "$d")" -eq 0 ] || fail "$name: OOM kill"
done

# Lifecycle (tests/work/churn, forkexit): thread churn with TLS destructors that allocate;
# exit() racing allocating threads, 30 times, with a profile and metrics to write at
# exit; signal handlers that allocate while the library's own code runs, with
# profiling (its table lock) and with a hard limit. Each bounded by timeout.
for a in glibc "jemalloc:$L/libjemalloc.so.2"; do
    name=$(alloc_name "$a"); path=$(alloc_path "$a")
    out=$(timeout 60 env LD_PRELOAD="$LIB $path" MEMLIMIT=8MiB "$W/churn" threads 4000 2>&1) ||
        fail "$name: thread churn: exit $?: $out"
    echo "$name: $out"
    P=$ROOT/build/churn; rm -rf "$P"; mkdir -p "$P"; bad=0
    for i in $(seq 30); do
        timeout 20 env LD_PRELOAD="$LIB $path" MEMLIMIT=8MiB MEMLIMIT_PROFILE="$P/exit.%p" \
            MEMLIMIT_METRICS="$P/m.%p" "$W/forkexit" exit > /dev/null 2>&1 || { bad=$((bad + 1)); echo "exit race run $i: status $?"; }
    done
    [ $bad = 0 ] || fail "$name: $bad of 30 exit races did not end with status 0"
    [ "$(ls "$P"/exit.*.exit 2> /dev/null | wc -l)" = 30 ] || fail "$name: not every exit wrote its profile"
    echo "$name: exit() racing 4 allocating threads, profile and metrics written at exit: 30 of 30 runs ended with status 0"
    for mode in "MEMLIMIT_PROFILE=$P/sig MEMLIMIT_PROFILE_RATE=4KiB CHURN_DUMP=$P/sig.dump" "MEMLIMIT_HARD=2GiB"; do
        out=$(timeout 30 env LD_PRELOAD="$LIB $path" MEMLIMIT=1GiB $mode "$W/churn" signal 3 2> /dev/null) ||
            fail "$name: allocating signal handlers ($mode): exit $? (124: a deadlock): $out"
        echo "$name: $out (${mode%% *})"
    done
done
