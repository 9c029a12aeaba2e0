# SPDX-License-Identifier: MIT
# The callback example in README.md, compiled from the README itself: OOM-killed
# in a 256 MiB cgroup without memlimit, completes with it at default settings (MEMLIMIT
# unset): idle, beside two busy loops outside the cgroup, and in a CPU quota of half a
# core (a pod's cpu: 500m). Before rounds aimed at 90% of the soft limit and
# allocators waited for a thread that fell behind, 2 of 8 runs beside busy loops were
# killed (issue 23). A kill in any run is a failure.
. "$ROOT/tests/integration/lib.sh"
need_cgroup
src=$ROOT/build/readme_example.c
awk '/^```c$/ {inblock = 1; buf = ""; next} /^```$/ && inblock {if (buf ~ /memlimit_register\(evict/) {printf "%s", buf; exit} inblock = 0; next} inblock {buf = buf $0 "\n"}' \
    "$ROOT/README.md" > "$src"
grep -q "memlimit_register(evict" "$src" || fail "example not found in README.md"
gcc -Wall -Wextra -Werror -I"$ROOT/src" -o "$ROOT/build/readme_example" "$src" -lpthread || fail "the README example does not compile"
LIMIT=$((256 << 20))
new_cgroup readme-off $LIMIT; off=$CG_DIR
cg_run "$off" "$ROOT/build/readme_example" > /dev/null 2>&1; rc_off=$?
new_cgroup readme-on $LIMIT; on=$CG_DIR
out=$(cg_run "$on" env LD_PRELOAD="$LIB" "$ROOT/build/readme_example" 2>&1); rc_on=$?
echo "without memlimit: exit $rc_off; with: exit $rc_on, peak $(mib "$(cg_peak "$on")") of $(mib $LIMIT): $out"
[ $rc_off -eq 137 ] || fail "expected an OOM kill without memlimit"
[ $rc_on -eq 0 ] || fail "exit $rc_on with memlimit"
echo "$out" | grep -q "^done" || fail "output: $out"

busy=""
CPU=/sys/fs/cgroup/cpu/memlimit-readme-$$
trap '[ -z "$busy" ] || kill $busy 2> /dev/null; cleanup; [ ! -d "$CPU" ] || rmdir "$CPU"' EXIT
for i in 1 2; do sh -c 'while :; do :; done' & busy="$busy $!"; done
peaks=""
for i in 1 2 3; do
    new_cgroup readme-busy-$i $LIMIT; d=$CG_DIR
    out=$(cg_run "$d" env LD_PRELOAD="$LIB" "$ROOT/build/readme_example" 2>&1); rc=$?
    [ $rc -eq 0 ] || fail "beside two busy loops, run $i: exit $rc, peak $(mib "$(cg_peak "$d")"): $out"
    peaks="$peaks $(mib "$(cg_peak "$d")"),"
done
kill $busy; wait $busy 2> /dev/null; busy=""
echo "beside two busy loops: 3 of 3 completed, peaks$peaks"
mkdir "$CPU" && echo 100000 > "$CPU/cpu.cfs_period_us" && echo 50000 > "$CPU/cpu.cfs_quota_us" ||
    fail "cannot create a CPU cgroup with a quota at $CPU"
peaks=""
for i in 1 2 3; do
    new_cgroup readme-quota-$i $LIMIT; d=$CG_DIR
    out=$(sh -c 'echo $$ > "$1/cgroup.procs" && echo $$ > "$2/cgroup.procs" || exit 99; shift 2; exec "$@"' \
        sh "$d" "$CPU" env LD_PRELOAD="$LIB" "$ROOT/build/readme_example" 2>&1); rc=$?
    [ $rc -eq 0 ] || fail "in half a core, run $i: exit $rc, peak $(mib "$(cg_peak "$d")"): $out"
    peaks="$peaks $(mib "$(cg_peak "$d")"),"
done
echo "in a CPU quota of half a core: 3 of 3 completed, peaks$peaks"
