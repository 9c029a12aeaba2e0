# The host is not disturbed: descriptors, errno, threads, and the log file is
# created 0600 and receives the trace (never the application's reused descriptor).
. "$ROOT/tests/integration/lib.sh"
log=$ROOT/build/hygiene.trace; rm -f "$log"
LD_PRELOAD="$LIB" MEMLIMIT=1MiB MEMLIMIT_TRACE=1 MEMLIMIT_LOG="$log" "$W/hygiene" "$ROOT/build/hygiene.out" || fail "hygiene checks"
n=$(grep -c ' trim #' "$log")
echo "$n trims traced to the log file"
[ "$n" -ge 1 ] || fail "no trim happened: the test did not exercise the slow path"
[ "$(stat -c %a "$log")" = 600 ] || fail "log mode $(stat -c %a "$log")"
[ -L "$log" ] && fail "log is a symlink"
# a symlink at the log path is not followed
ln -sf "$ROOT/build/hygiene.victim" "$ROOT/build/hygiene.link"; rm -f "$ROOT/build/hygiene.victim"
LD_PRELOAD="$LIB" MEMLIMIT=1MiB MEMLIMIT_TRACE=1 MEMLIMIT_LOG="$ROOT/build/hygiene.link" true 2>/dev/null
[ -e "$ROOT/build/hygiene.victim" ] && fail "the log followed a symlink"
echo "log file: mode 600, symlinks not followed"
