# 8 threads allocating across threads while callbacks are registered and
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
    out=$(cg_run "$d" timeout 60 env LD_PRELOAD="$LIB $path" MEMLIMIT=8MiB "$W/stress" 5 "$ROOT/build/plugin.so" 2>&1); rc=$?
    echo "$name: $(echo "$out" | tail -1)"
    [ $rc -eq 0 ] || fail "$name: exit $rc: $(echo "$out" | head -5)"
    echo "$out" | grep -q ", 0 failures" || fail "$name: $out"
    rounds=$(echo "$out" | tail -1 | sed -E 's/.* ([0-9]+) rounds.*/\1/')
    [ "$rounds" -ge 10 ] || fail "$name: only $rounds rounds: the test did not exercise reclaim"
    [ "$(cg_oom_kills "$d")" -eq 0 ] || fail "$name: OOM kill"
done
