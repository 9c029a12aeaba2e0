# SPDX-License-Identifier: MIT
# What runs on an application's thread fits small stacks: four threads made with
# PTHREAD_STACK_MIN and a signal handler on an alternate stack of MINSIGSTKSZ bytes
# allocate 2 MiB every 20 ms near a small soft limit, with limits re-read every
# second (before: SIGSEGV once the periodic discovery ran on such a thread). Each
# stack is painted before and read after: how deep the program reached with the
# library, minus how deep it reached without it, is our share, at most 2 KiB (with
# jemalloc, whose purge runs deeper than glibc's trim and varies, 4.5 KiB), with tracing, the
# hard limit, the cgroup scope and metrics in turn. The heap profile is
# not held to it: libunwind takes a sampled allocation's stack trace on the
# allocating thread (about 5 KiB, printed).
. "$ROOT/tests/integration/lib.sh"
depth() { # "thread alt" from the workload's line
    echo "$1" | sed -nE 's/.*deepest use ([0-9]+) bytes of a PTHREAD_STACK_MIN thread stack, ([0-9]+) of a.*/\1 \2/p'
}
base=$(timeout 60 "$W/edges" smallstack 1) || fail "without memlimit: $base"
read -r bt ba <<< "$(depth "$base")"
echo "without memlimit: $bt bytes on the thread, $ba on the signal stack"
for a in glibc "jemalloc:$L/libjemalloc.so.2"; do
    name=$(alloc_name "$a"); path=$(alloc_path "$a")
    for cfg in "MEMLIMIT_TRACE=0" "MEMLIMIT_TRACE=2" "MEMLIMIT_HARD=64MiB" "MEMLIMIT_SCOPE=cgroup" \
        "MEMLIMIT_METRICS=$ROOT/build/smallstack.prom MEMLIMIT_METRICS_INTERVAL=1" \
        "MEMLIMIT_PROFILE=$ROOT/build/smallstack.prof MEMLIMIT_PROFILE_RATE=64KiB"; do
        out=$(timeout 60 env LD_PRELOAD="$LIB $path" MEMLIMIT=8MiB MEMLIMIT_REFRESH=1 $cfg MEMLIMIT_LOG="$ROOT/build/smallstack.log" \
            "$W/edges" smallstack 1 2>&1); rc=$?
        [ $rc -eq 0 ] || fail "$name $cfg: exit $rc (139: stack overflow): $out"
        read -r t s <<< "$(depth "$out")"
        [ -n "$t" ] && [ -n "$s" ] || fail "$name $cfg: no depth in the output: $out"
        echo "$name ${cfg%% *}: ours $((t - bt)) bytes on the thread, $((s - ba)) on the signal stack"
        case $cfg in MEMLIMIT_PROFILE=*) continue ;; esac
        # jemalloc's own purge (the trim, on the trimming thread) runs deeper than glibc's
        # malloc_trim, and how deep varies with what it frees: MEMLIMIT_TRACE=2 over 80
        # runs here (e59b912 and its successor alike) gave 1864-1912 of ours in 66, 2472 in 12,
        # 3896 in 2. It is allowed 2.5 KiB on top of our 2 KiB; glibc holds ours to 2 KiB.
        max=2048
        [ "$name" = jemalloc ] && max=$((2048 + 2560))
        [ $((t - bt)) -le $max ] && [ $((s - ba)) -le $max ] || fail "$name $cfg: more than $max bytes of stack: $out"
    done
done
