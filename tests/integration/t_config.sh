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
