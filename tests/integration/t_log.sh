# Where the lines go (MEMLIMIT_LOG, stderr) never hurts the host: a FIFO without a
# reader or with a reader that does not read never blocks it (the line is dropped);
# a log that cannot be opened is said once on stderr, where the lines then go; a
# stderr pipe whose reader is gone does not kill it with SIGPIPE (tests/work/logdata,
# under MEMLIMIT=1MiB so it trims and traces).
. "$ROOT/tests/integration/lib.sh"
T=$ROOT/build/log
rm -rf "$T"; mkdir -p "$T"
ml() { timeout 20 env LD_PRELOAD="$LIB" MEMLIMIT=1MiB "$@"; } # exit 124: it hung

# the workload traces after start-up, so each case below has lines to misplace
ml MEMLIMIT_TRACE=1 "$W/logdata" churn 2> "$T/churn.err" || fail "logdata churn: exit $?"
n=$(grep -c '^memlimit: trim #' "$T/churn.err")
[ "$n" -ge 1 ] || fail "logdata churn traced no trim: $(cat "$T/churn.err")"

# ---- a FIFO nobody reads: open(O_NONBLOCK) fails (ENXIO), said once
mkfifo "$T/fifo"
ml MEMLIMIT_TRACE=1 MEMLIMIT_LOG="$T/fifo" /bin/true 2> "$T/noreader.err"; rc=$?
[ $rc = 0 ] || fail "FIFO without a reader: exit $rc (124: it hung)"
[ "$(grep -c "^memlimit: cannot open the log MEMLIMIT_LOG=$T/fifo: .*; logging to stderr from now on$" "$T/noreader.err")" = 1 ] ||
    fail "FIFO without a reader: expected one notice: $(cat "$T/noreader.err")"
grep -q '^memlimit: soft 1.0MiB' "$T/noreader.err" || fail "the start-up line did not follow on stderr: $(cat "$T/noreader.err")"
echo "FIFO without a reader: exit 0 at once; $(head -1 "$T/noreader.err")"

# ---- a FIFO whose reader (this shell) never reads, filled up: lines are dropped
exec 3<> "$T/fifo"
dd if=/dev/zero of="$T/fifo" bs=4096 count=4096 oflag=nonblock 2> /dev/null # stops at EAGAIN
ml MEMLIMIT_TRACE=1 MEMLIMIT_LOG="$T/fifo" "$W/logdata" churn 2> "$T/full.err"; rc=$?
exec 3<&-
[ $rc = 0 ] || fail "full FIFO: exit $rc (124: it hung)"
[ -s "$T/full.err" ] && fail "full FIFO: lines went to stderr: $(cat "$T/full.err")"
echo "full FIFO: exit 0, lines dropped"

# ---- a log in a directory that does not exist
ml MEMLIMIT_TRACE=1 MEMLIMIT_LOG=/nonexistent/dir/x "$W/logdata" churn 2> "$T/noent.err" || fail "no such directory: exit $?"
head -1 "$T/noent.err" | grep -qx 'memlimit: cannot open the log MEMLIMIT_LOG=/nonexistent/dir/x: No such file or directory; logging to stderr from now on' ||
    fail "no such directory: the first line is not the notice: $(cat "$T/noent.err")"
[ "$(grep -c 'cannot open the log' "$T/noent.err")" = 1 ] || fail "no such directory: expected exactly one notice"
[ "$(grep -c '^memlimit: trim #' "$T/noent.err")" -ge 1 ] || fail "no such directory: the trace did not follow on stderr"
echo "no such directory: one notice, then $(grep -c '^memlimit: ' "$T/noent.err") lines on stderr"

# ---- stderr a pipe whose reader exits at once; SIGPIPE at its default (death)
{ ml MEMLIMIT_TRACE=1 env --default-signal=PIPE "$W/logdata" churn 2>&1 > /dev/null; echo $? > "$T/pipe.rc"; } | true
[ "$(cat "$T/pipe.rc")" = 0 ] || fail "stderr without a reader: exit $(cat "$T/pipe.rc") (141: SIGPIPE)"
echo "stderr without a reader: exit 0"
