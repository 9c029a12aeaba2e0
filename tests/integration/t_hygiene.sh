# SPDX-License-Identifier: MIT
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
# profiling: libunwind's own pipe is made at start-up near the descriptor limit, not
# at the low numbers a program that closes what it did not open would reuse
rm -f "$ROOT"/build/hygiene-prof.*
LD_PRELOAD="$LIB" MEMLIMIT=1MiB MEMLIMIT_PROFILE="$ROOT/build/hygiene-prof" MEMLIMIT_PROFILE_RATE=16KiB \
    "$W/hygiene" "$ROOT/build/hygiene.out" > /dev/null 2>&1 || fail "hygiene checks with profiling on"
base=$(sh -c 'ls /proc/$$/fd' | sort -n | tr '\n' ' ')
fds=$(LD_PRELOAD="$LIB" MEMLIMIT_PROFILE="$ROOT/build/hygiene-prof" sh -c 'ls /proc/$$/fd' | sort -n | tr '\n' ' ')
new=$(for f in $fds; do case " $base " in *" $f "*) ;; *) echo "$f";; esac; done | tr '\n' ' ')
[ "$(echo $new | wc -w)" = 2 ] || fail "profiling: expected libunwind's 2 descriptors, found '$new' ($fds)"
for f in $new; do [ "$f" -ge 900 ] || fail "profiling left a descriptor at $f: $fds"; done
echo "profiling: no descriptor appears during the run; libunwind's pipe sits at $new"
