# SPDX-License-Identifier: MIT
# Kernel events (cgroup v1 usage thresholds): an idle preloaded process holding a
# cache (tests/work/holder, MEMLIMIT_SCOPE=cgroup) while another process grows by
# raw mmap (tests/work/rawgrow, no library, no malloc) in the same cgroup until the
# cgroup's usage crosses the soft limit, then pauses there and waits for someone to
# give memory back. Only the holder's memlimit thread can see that growth: with
# events the kernel's threshold must wake it (its trace says so) and its callback be
# called at SOFT in every trial, and the usage fall back below the soft limit; with
# MEMLIMIT_EVENTS=off (as on cgroup v2, which has no usage thresholds) the thread's
# own look must find it too, and no threshold wakes it. The grower pauses so that the
# verdict does not depend on how fast this machine schedules the thread: whether the
# answer comes before a grower that does not pause reaches the limit is a race, and
# its OOM-kill counts are measured by scripts/bench (the events race), not here.
. "$ROOT/tests/integration/lib.sh"
need_cgroup
LIMIT=$((256 << 20)) SOFT=241591910 # 90% of it
new_cgroup events $LIMIT; D=$CG_DIR
trial() { # MODE: sets LAT (us from the crossing to the callback) or fails the test
    local out=$ROOT/build/events-holder.out gro=$ROOT/build/events-grow.out before after c b rg
    local trace=$ROOT/build/events-$1.trace wakes0 wakes1
    wakes0=$(grep -c 'woken by a kernel threshold' "$trace" 2> /dev/null)
    before=$(cg_oom_kills "$D")
    rm -f "$out" "$gro" # a stale "ready" would start the grower before the holder
    cg_run "$D" env LD_PRELOAD="$LIB" MEMLIMIT_SCOPE=cgroup MEMLIMIT_EVENTS=$1 MEMLIMIT_TRACE=1 \
        MEMLIMIT_LOG="$ROOT/build/events-$1.trace" "$W/holder" 120 60 > "$out" 2>&1 & local hp=$!
    # how soon it is ready depends on the machine: wait up to 30 s
    wait_for "$out" ready || fail "holder did not start: $(cat "$out")"
    # grows to the soft limit (about 109 MiB here) and 4 MiB past it (the library weighs
    # the working set, a little below the usage the grower reads), waits up to 20 s for a drop
    cg_run "$D" "$W/rawgrow" "$D/memory.usage_in_bytes" $SOFT 160 100 20 4 > "$gro" 2>&1; rg=$?
    end_holder "$out"; wait $hp
    after=$(cg_oom_kills "$D")
    c=$(awk '/^crossed at/ {print $3}' "$gro")
    b=$(awk '/^callback at/ {print $3}' "$out")
    [ $((after - before)) -eq 0 ] || fail "trial $2 ($1): OOM kill; grower: $(cat "$gro"); holder: $(cat "$out")"
    [ -n "$b" ] || fail "trial $2 ($1): no callback at SOFT; grower (exit $rg): $(tr '\n' ' ' < "$gro"); trace: $(tail -3 "$ROOT/build/events-$1.trace")"
    [ $rg -eq 0 ] || fail "trial $2 ($1): the usage did not fall below the soft limit: $(cat "$gro")"
    # with events, the kernel's threshold itself woke the thread (not only its own look)
    wakes1=$(grep -c 'woken by a kernel threshold' "$trace" 2> /dev/null)
    if [ "$1" = auto ]; then
        [ "${wakes1:-0}" -gt "${wakes0:-0}" ] || fail "trial $2 (auto): no wake by the kernel's threshold: $(tail -3 "$trace")"
    else
        [ "${wakes1:-0}" -eq 0 ] || fail "trial $2 (off): woken by a kernel threshold"
    fi
    if [ -n "$c" ]; then
        grep -q '^dropped at' "$gro" || fail "trial $2 ($1): no drop after the crossing: $(cat "$gro")"
        LAT=$(( (b - c) / 1000 ))
    else
        LAT=0 # the callback freed memory before the grower looked at the usage again
    fi
}
stats() { echo "$@" | tr ' ' '\n' | sort -n | awk '{a[NR] = $1} END {printf "min %d, median %d, max %d", a[1], a[int((NR + 1) / 2)], a[NR]}'; }
rm -f "$ROOT"/build/events-auto.trace "$ROOT"/build/events-off.trace
lat=""
for i in $(seq 10); do
    trial auto $i # not in $(...): a fail inside must end the test
    lat="$lat $LAT"
done
grep -q 'events: cgroup v1 usage threshold at 230.4MiB' "$ROOT/build/events-auto.trace" || fail "no threshold in the trace"
echo "events on (10 trials): woken by the kernel's threshold and called back at SOFT in each, 0 OOM kills; us from the crossing to the callback: $(stats $lat)"
off=""
for i in $(seq 5); do
    trial off $i
    off="$off $LAT"
done
[ -s "$ROOT/build/events-off.trace" ] || fail "no trace with MEMLIMIT_EVENTS=off"
! grep -q 'usage threshold' "$ROOT/build/events-off.trace" || fail "MEMLIMIT_EVENTS=off registered thresholds"
echo "events off, the thread's own look only (5 trials): called back in each, 0 OOM kills; us: $(stats $off)"

# a program that closes every descriptor it did not open and reuses the numbers for
# pipes: memlimit notices, says so once, and writes nothing into the pipes
new_cgroup events-fd $((128 << 20))
log=$ROOT/build/events-fdclose.trace; rm -f "$log"
out=$(cg_run "$CG_DIR" env LD_PRELOAD="$LIB" MEMLIMIT_TRACE=1 MEMLIMIT_LOG="$log" "$W/fdclose" 110); rc=$?
echo "close_range then 32 pipes: $out (exit $rc); $(grep -o 'events: the event descriptor was closed by the application' "$log")"
[ $rc -eq 0 ] && [ "$out" = "pipes clean" ] || fail "fdclose: $out (exit $rc)"
grep -q 'events: cgroup v1 usage threshold' "$log" || fail "events were never on in fdclose"
[ "$(grep -c 'closed by the application' "$log")" -eq 1 ] || fail "the lost descriptor was not reported exactly once"

# a lowered limit adds thresholds at the new watermarks (MEMLIMIT_REFRESH=1)
new_cgroup events-resize $((256 << 20)); R=$CG_DIR
log=$ROOT/build/events-resize.trace; rm -f "$log"
out=$ROOT/build/events-resize.out; rm -f "$out"
cg_run "$R" env LD_PRELOAD="$LIB" MEMLIMIT_SCOPE=cgroup MEMLIMIT_REFRESH=1 MEMLIMIT_TRACE=1 MEMLIMIT_LOG="$log" \
    "$W/holder" 20 60 > "$out" 2>&1 & hp=$!
# lowered once the first thresholds are set; the holder is ended once the new ones are
wait_for "$log" 'usage threshold at 230.4MiB' || fail "no first thresholds: $(cat "$log")"
echo $((200 << 20)) > "$R/memory.limit_in_bytes"
# one threshold a pass (soft, critical, moderate): all three before the holder ends
for t in 180.0MiB 194.0MiB 162.0MiB; do
    wait_for "$log" "usage threshold at $t" || fail "no threshold at $t at the lowered limit: $(cat "$log")"
done
end_holder "$out"
wait $hp
echo "after lowering the limit to 200 MiB: $(grep -c 'usage threshold at' "$log") thresholds registered in all"
grep -q 'limit changed: 200.0MiB' "$log" || fail "the lowered limit was not seen"
for t in 162.0MiB 180.0MiB 194.0MiB; do
    grep -q "usage threshold at $t " "$log" || fail "no threshold at $t after the limit was lowered"
done
