# SPDX-License-Identifier: MIT
# When it cannot win: a program that holds 64 MiB live under MEMLIMIT=32MiB (a leak,
# or live data over the limit). Trims free nothing, so their back-off keeps their
# CPU small (measured: memlimit_trim_cpu_seconds_total against the time above the
# limit, at most 5%); with MEMLIMIT_GIVE_UP=2 the program writes its profile's
# .critical and one line, and exits with status 75 after 2 s above the soft limit,
# not before; without it, it runs to its end (status 0).
. "$ROOT/tests/integration/lib.sh"
T=$ROOT/build/giveup; rm -rf "$T"; mkdir -p "$T"

# grow to 64 MiB (1 MiB every 10 ms), hold 6 s, free, linger 0.2 s
out=$(LD_PRELOAD="$LIB" MEMLIMIT=32MiB MEMLIMIT_METRICS="$T/leak.prom" MEMLIMIT_METRICS_INTERVAL=1 \
    "$W/grow" 64 10 6000 200 2>&1); rc=$?
[ $rc = 0 ] || fail "without MEMLIMIT_GIVE_UP: exit $rc: $out"
cpu=$(sed -n 's/^memlimit_trim_cpu_seconds_total{[^}]*} //p' "$T/leak.prom")
trims=$(sed -n 's/^memlimit_trims_total{[^}]*} //p' "$T/leak.prom")
[ -n "$cpu" ] && [ -n "$trims" ] || fail "no trim figures in the metrics: $(cat "$T/leak.prom")"
awk -v c="$cpu" 'BEGIN { exit !(c <= 0.3) }' || fail "trims took $cpu s of CPU in 6 s above the limit (more than 5%)"
echo "a 64 MiB leak held 6 s under MEMLIMIT=32MiB: exit 0, $trims trims, $cpu s of trim CPU (cap: back-off from 100 ms to 2 s while trims free nothing)"

start=$(date +%s%N)
out=$(LD_PRELOAD="$LIB" MEMLIMIT=32MiB MEMLIMIT_GIVE_UP=2 MEMLIMIT_PROFILE="$T/p" "$W/grow" 64 10 20000 200 2>&1); rc=$?
took=$(( ($(date +%s%N) - start) / 1000000 ))
echo "$out" | grep "giving up"
[ $rc = 75 ] || fail "MEMLIMIT_GIVE_UP=2: exit $rc, not 75: $out"
echo "$out" | grep -q "${ML}giving up (MEMLIMIT_GIVE_UP=2s): usage .* has stayed above the soft limit 32.0MiB for 2" ||
    fail "no give-up line: $out"
[ "$(echo "$out" | grep -c 'giving up')" = 1 ] || fail "said more than once: $out"
ls "$T"/p.*critical* > /dev/null 2>&1 || fail "no .critical profile written: $(ls "$T")"
# grows past 32 MiB within ~0.35 s, then 2 s above it: never before 2.3 s in all
[ "$took" -ge 2300 ] || fail "gave up after $took ms: before 2 s above the soft limit"
echo "MEMLIMIT_GIVE_UP=2: exit 75 after $took ms, profile $(basename "$(ls "$T"/p.*critical* | head -1)") written"
