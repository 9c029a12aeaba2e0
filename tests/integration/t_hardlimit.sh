# SPDX-License-Identifier: MIT
# MEMLIMIT_HARD: a program that keeps allocating gets NULL (malloc) or std::bad_alloc
# (new), writes its results and exits 0, where without memlimit it is killed (137).
# glibc, and stacked on jemalloc.
. "$ROOT/tests/integration/lib.sh"
need_cgroup
LIMIT=$((128 << 20))
new_cgroup hard-none $LIMIT; d=$CG_DIR
cg_run "$d" "$W/hardlimit" c "$ROOT/build/hard-none.out" > /dev/null 2>&1; rc=$?
echo "without memlimit: exit $rc, oom_kill $(cg_oom_kills "$d")"
[ $rc -eq 137 ] || fail "expected 137 without memlimit, got $rc"
for a in glibc "jemalloc:$L/libjemalloc.so.2"; do
    name=$(alloc_name "$a"); path=$(alloc_path "$a")
    for mode in c cxx; do
        new_cgroup "hard-$name-$mode" $LIMIT; d=$CG_DIR
        out=$ROOT/build/hard-$name-$mode.out; rm -f "$out"
        msg=$(cg_run "$d" env LD_PRELOAD="$LIB $path" MEMLIMIT_HARD=85% "$W/hardlimit" $mode "$out" 2>&1); rc=$?
        echo "$name $mode: exit $rc, peak $(mib "$(cg_peak "$d")") of $(mib $LIMIT): $(cat "$out" 2>/dev/null)"
        [ $rc -eq 0 ] || fail "$name $mode: exit $rc: $msg"
        grep -q "before $([ $mode = c ] && echo 'malloc returned NULL' || echo 'std::bad_alloc')" "$out" || fail "$name $mode: results file: $(cat "$out" 2>/dev/null)"
        echo "$msg" | grep -q "${ML}hard limit 108.8MiB: refused" || fail "no refusal line: $msg"
        [ "$(cg_oom_kills "$d")" -eq 0 ] || fail "$name $mode: OOM kill"
    done
done
