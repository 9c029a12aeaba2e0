# SPDX-License-Identifier: MIT
# Bad configuration: one clear line naming the variable, value and what is accepted;
# the program runs unharmed with the setting ignored.
. "$ROOT/tests/integration/lib.sh"
want=$(printf '3\n2\n1\n' )
for v in 12XB -5MiB 150% "" 1e9 99999999999999999999999 0.0.1GiB; do
    out=$(printf '3\n1\n2\n' | LD_PRELOAD="$LIB" MEMLIMIT="$v" sort -r 2>/tmp/ml-err.$$); rc=$?
    err=$(cat /tmp/ml-err.$$); rm -f /tmp/ml-err.$$
    [ $rc -eq 0 ] && [ "$out" = "$want" ] || fail "MEMLIMIT='$v' harmed the program (status $rc)"
    [ "$(echo "$err" | wc -l)" -eq 1 ] || fail "MEMLIMIT='$v': expected one line, got: $err"
    echo "$err" | grep -q "MEMLIMIT='$v' is not valid (expected .*MiB.*%.*off); ignoring it" || fail "message: $err"
done
echo "example: $err"
err=$(LD_PRELOAD="$LIB" MEMLIMIT_SCOPE=container MEMLIMIT_TRACE=yes /bin/true 2>&1)
[ "$(echo "$err" | wc -l)" -eq 2 ] || fail "two bad variables, two lines: $err"
echo "$err"
# good values are silent without tracing, and traced with it
[ -z "$(LD_PRELOAD="$LIB" MEMLIMIT=512MiB /bin/true 2>&1)" ] || fail "a good value printed something"
out=$(LD_PRELOAD="$LIB" MEMLIMIT=1.5GiB MEMLIMIT_TRACE=1 /bin/true 2>&1)
echo "$out" | grep -q "soft 1.5GiB (MEMLIMIT)" || fail "trace: $out"
out=$(LD_PRELOAD="$LIB" MEMLIMIT=off MEMLIMIT_TRACE=1 /bin/true 2>&1)
echo "$out" | grep -q "soft off" || fail "trace: $out"
echo "good values: silent, and traced as asked"

# ---- configuration that cannot silently go wrong (each case: the line, and the
# program unharmed)
one_line() { # NAME PATTERN ENV...: runs sort under ENV; exactly one line, matching
    local name=$1 pat=$2; shift 2
    out=$(printf '3\n1\n2\n' | env LD_PRELOAD="$LIB" "$@" sort -r 2>/tmp/ml-err.$$); rc=$?
    err=$(cat /tmp/ml-err.$$); rm -f /tmp/ml-err.$$
    [ $rc -eq 0 ] && [ "$out" = "$want" ] || fail "$name harmed the program (status $rc)"
    [ "$(echo "$err" | wc -l)" -eq 1 ] || fail "$name: expected one line, got: $err"
    echo "$err" | grep -q -- "$pat" || fail "$name: $err"
    echo "$name: $err"
}
# a plain number below 1 MiB is bytes: surely a unit was forgotten
one_line "MEMLIMIT=512" "MEMLIMIT='512' is not valid (a number without a unit is bytes, and 512 bytes is below 1MiB: add a unit, like 512MiB, or a share, like 80%); ignoring it" MEMLIMIT=512
one_line "MEMLIMIT_HARD=64000" "MEMLIMIT_HARD='64000' is not valid (.*add a unit" MEMLIMIT_HARD=64000
[ -z "$(LD_PRELOAD="$LIB" MEMLIMIT=1073741824 /bin/true 2>&1)" ] || fail "MEMLIMIT=1073741824 (bytes, 1 GiB) was refused"
# a hard limit at or below the soft limit
one_line "hard below soft" "the hard limit 256.0MiB (MEMLIMIT_HARD) is below the soft limit 512.0MiB: .*ENOMEM" \
    MEMLIMIT=512MiB MEMLIMIT_HARD=256MiB
[ -z "$(LD_PRELOAD="$LIB" MEMLIMIT=256MiB MEMLIMIT_HARD=512MiB /bin/true 2>&1)" ] || fail "a hard limit above the soft one was warned about"
# unknown MEMLIMIT_* names, with the nearest known one
one_line "MEMLIMIT_TRCE" "MEMLIMIT_TRCE is not a memlimit variable (did you mean MEMLIMIT_TRACE?); ignoring it" MEMLIMIT_TRCE=1
one_line "MEMLIMIT_PROFILE_SIGNALS" "did you mean MEMLIMIT_PROFILE_SIGNAL?" MEMLIMIT_PROFILE_SIGNALS=USR2
# a log that cannot be opened: said once on stderr, where the lines then go
err=$(LD_PRELOAD="$LIB" MEMLIMIT_LOG=/nonexistent/dir/log MEMLIMIT=12XB /bin/true 2>&1)
[ "$(echo "$err" | wc -l)" -eq 2 ] && echo "$err" | head -1 | grep -q "cannot open the log MEMLIMIT_LOG=/nonexistent/dir/log: .*; logging to stderr from now on" &&
    echo "$err" | tail -1 | grep -q "MEMLIMIT='12XB' is not valid" || fail "unopenable log: $err"
echo "unopenable log: $(echo "$err" | head -1)"
# each option's error says what that option takes: the profile rate is a size in bytes
one_line "MEMLIMIT_PROFILE_RATE=80%" "MEMLIMIT_PROFILE_RATE='80%' is not valid (expected a size in bytes like 512KiB" MEMLIMIT_PROFILE_RATE=80%
echo "$err" | grep -q "share\|off" && fail "MEMLIMIT_PROFILE_RATE's error offers what it does not take: $err"
one_line "MEMLIMIT_PROFILE_SIGNAL=TERM" "expected one of off, SIGUSR1, SIGUSR2, SIGPWR, SIGURG (SIGUSR2 or USR2)" MEMLIMIT_PROFILE_SIGNAL=TERM
# signal names with or without SIG: USR2 writes the profile on SIGUSR2
P=$ROOT/build/config-prof; rm -f "$P".*
for sig in USR2 SIGUSR2; do
    LD_PRELOAD="$LIB" MEMLIMIT_PROFILE="$P" MEMLIMIT_PROFILE_SIGNAL=$sig sleep 2 2> "$P.err" & pid=$!
    for _ in $(seq 50); do # until the handler is in (SigCgt bit 12 - 1: SIGUSR2)
        caught=$(awk '/^SigCgt/ {print $2}' "/proc/$pid/status" 2>/dev/null)
        [ -n "$caught" ] && [ $(( 0x$caught >> 11 & 1 )) = 1 ] && break
        sleep 0.05
    done
    kill -USR2 $pid; wait $pid; rc=$?
    [ $rc -eq 0 ] && [ -s "$P.signal" ] && [ ! -s "$P.err" ] || fail "MEMLIMIT_PROFILE_SIGNAL=$sig: exit $rc, $(ls "$P".* 2>&1) $(cat "$P.err")"
    echo "MEMLIMIT_PROFILE_SIGNAL=$sig: SIGUSR2 wrote $(basename "$P").signal"
    rm -f "$P".*
done
