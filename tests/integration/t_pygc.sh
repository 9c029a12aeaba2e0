# SPDX-License-Identifier: MIT
# A Python program whose garbage only the cycle collector can free (tests/apps/
# pycycles.py: pairs of objects that refer to each other, one holding a 1 MiB
# buffer; CPython collects them after 700 container allocations, about 350 MiB
# here): OOM-killed in a 128 MiB cgroup bare and with MEMLIMIT_GC=off, completes at
# default settings, where the library has the interpreter collect at the moderate
# level (MEMLIMIT_GC, src/rtgc.c): idle, beside two busy loops outside the cgroup,
# and in a CPU quota of half a core. A kill in any run is a failure. Also: the trace
# says each collection; a program that calls gc.disable() is left as it asked.
. "$ROOT/tests/integration/lib.sh"
need_cgroup
PY=/usr/bin/python3
APP=$ROOT/tests/apps/pycycles.py LIMIT=$((128 << 20))
want=$($PY "$APP") || fail "pycycles without a limit: $want"
new_cgroup pygc-bare $LIMIT; d=$CG_DIR
cg_run "$d" "$PY" "$APP" > /dev/null 2>&1; rc=$?
[ $rc = 137 ] || fail "bare: exit $rc, not an OOM kill: the test shows nothing"
new_cgroup pygc-off $LIMIT; d=$CG_DIR
cg_run "$d" env LD_PRELOAD="$LIB" MEMLIMIT_GC=off "$PY" "$APP" > /dev/null 2>&1; rc=$?
[ $rc = 137 ] || fail "MEMLIMIT_GC=off: exit $rc, not an OOM kill (trims alone do not free garbage)"
echo "bare and MEMLIMIT_GC=off: OOM-killed in $(mib $LIMIT)"

# run NAME [CPUDIR]: one run at default settings, with the trace
run() {
    new_cgroup "pygc-$1" $LIMIT; local d=$CG_DIR
    out=$(sh -c 'echo $$ > "$1/cgroup.procs" && { [ -z "$2" ] || echo $$ > "$2/cgroup.procs"; } || exit 99
        shift 2; exec "$@"' sh "$d" "${2:-}" env LD_PRELOAD="$LIB" MEMLIMIT_TRACE=1 "$PY" "$APP" 2> "$T/trace"); rc=$?
    [ $rc = 0 ] && [ "$out" = "$want" ] ||
        fail "$1: exit $rc, peak $(mib "$(cg_peak "$d")"), output '$out': $(grep -v events: "$T/trace" | tail -5)"
    peaks="$peaks $(mib "$(cg_peak "$d")"),"
}
T=$ROOT/build/pygc; mkdir -p "$T"
peaks=""
run idle
n=$(grep -c "python gc #" "$T/trace")
[ "$n" -ge 1 ] || fail "no collection in the trace: $(cat "$T/trace")"
echo "default settings, idle: completed, peak$peaks $n collections: $(grep -m1 "python gc #" "$T/trace")"

busy=""
CPU=/sys/fs/cgroup/cpu/memlimit-pygc-$$
trap '[ -z "$busy" ] || kill $busy 2> /dev/null; cleanup; [ ! -d "$CPU" ] || rmdir "$CPU"' EXIT
for _ in 1 2; do sh -c 'while :; do :; done' & busy="$busy $!"; done
peaks=""
for i in 1 2 3; do run busy-$i; done
kill $busy; wait $busy 2> /dev/null; busy=""
echo "beside two busy loops: 3 of 3 completed, peaks$peaks"
mkdir "$CPU" && echo 100000 > "$CPU/cpu.cfs_period_us" && echo 50000 > "$CPU/cpu.cfs_quota_us" ||
    fail "cannot create a CPU cgroup with a quota at $CPU"
peaks=""
for i in 1 2 3; do run quota-$i "$CPU"; done
echo "in a CPU quota of half a core: 3 of 3 completed, peaks$peaks"

# gc.disable(): the program's choice stands (PyGC_Collect does nothing then)
new_cgroup pygc-disabled $LIMIT; d=$CG_DIR
cg_run "$d" env LD_PRELOAD="$LIB" MEMLIMIT_TRACE=1 "$PY" -c "import gc, runpy, sys; gc.disable(); sys.argv = ['x', '100']; runpy.run_path('$APP')" > /dev/null 2> "$T/trace"; rc=$?
[ $rc = 0 ] || fail "gc.disable(), 100 MiB of garbage: exit $rc"
grep -q "python gc #" "$T/trace" || fail "gc.disable(): no collection asked at 100 MiB of 128: the check shows nothing"
if grep "python gc #" "$T/trace" | grep -qv "collected 0 objects"; then
    fail "gc.disable(): a collection freed objects: $(grep "python gc #" "$T/trace" | head -3)"
fi
echo "gc.disable(): no object collected ($(grep -c "python gc #" "$T/trace") requests, each 0 objects)"
rm -rf "$T"
