# SPDX-License-Identifier: MIT
# Reclaim that frees nothing backs off, and comes back when there is something to
# free. (1) A callback that frees nothing, with the live set stuck at 125% of the soft
# limit: at most 40 calls in 4 s (before: ~190 a second), and called again at once
# when usage grows. (2) A heap stuck above the limit (trims back off to 2 s) whose
# program then frees 15/16 of it: the next trim comes because the allocator holds the
# freed memory (the trace says so) and resident memory halves. glibc (inline) and
# jemalloc (on the memlimit thread).
. "$ROOT/tests/integration/lib.sh"
for a in glibc "jemalloc:$L/libjemalloc.so.2"; do
    name=$(alloc_name "$a"); path=$(alloc_path "$a")
    out=$(timeout 60 env LD_PRELOAD="$LIB $path" MEMLIMIT=64MiB "$W/edges" stuckcb 2>&1); rc=$?
    echo "$name: $out"
    [ $rc -eq 0 ] || fail "$name stuckcb: exit $rc: $out"
    log=$ROOT/build/backoff-$name.log; rm -f "$log"
    # glibc: trimmed inline on the slow path; jemalloc: by the memlimit thread (its
    # statistics take too much stack to be read on application threads); jemalloc's
    # own decay is off, or it may return the pages first and leave no trim to see
    ev=off conf=
    [ $name = jemalloc ] && ev=on conf=dirty_decay_ms:-1,muzzy_decay_ms:-1
    out=$(timeout 60 env LD_PRELOAD="$LIB $path" MALLOC_CONF=$conf MEMLIMIT=64MiB MEMLIMIT_EVENTS=$ev \
        MEMLIMIT_TRACE=1 MEMLIMIT_LOG="$log" "$W/edges" freeback 2>&1); rc=$?
    echo "$name: $out"
    [ $rc -eq 0 ] || fail "$name freeback: exit $rc: $out $(tail -5 "$log")"
    grep -q 'trim #.*(the allocator held .* more free)' "$log" || fail "$name freeback: no trim for the freed memory: $(grep trim "$log" | tail -5)"
    echo "$name: $(grep 'the allocator held' "$log" | head -1)"
done
