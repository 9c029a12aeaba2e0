# SPDX-License-Identifier: MIT
# Where the lines go (MEMLIMIT_LOG, stderr) never hurts the host: a FIFO without a
# reader or with a reader that does not read never blocks it (the line is dropped);
# a log that cannot be opened is said once on stderr, where the lines then go; a
# stderr pipe whose reader is gone does not kill it with SIGPIPE; and a program that
# closed stderr and got descriptor 2 for its own data never finds our lines in it
# (tests/work/logdata, under MEMLIMIT=1MiB so it trims and traces).
. "$ROOT/tests/integration/lib.sh"
T=$ROOT/build/log
rm -rf "$T"; mkdir -p "$T"
ml() { timeout 20 env LD_PRELOAD="$LIB" MEMLIMIT=1MiB "$@"; } # exit 124: it hung

# the workload traces after start-up, so each case below has lines to misplace
ml MEMLIMIT_TRACE=1 "$W/logdata" churn 2> "$T/churn.err" || fail "logdata churn: exit $?"
n=$(grep -c "^${ML}trim #" "$T/churn.err")
[ "$n" -ge 1 ] || fail "logdata churn traced no trim: $(cat "$T/churn.err")"

# ---- every line names the process: its pid and its program (/proc/self/comm)
err=$(sh -c 'echo "pid $$" >&2; exec env LD_PRELOAD="$1" MEMLIMIT=1MiB MEMLIMIT_TRACE=1 /bin/true' sh "$LIB" 2>&1)
pid=$(echo "$err" | sed -n 's/^pid //p')
echo "$err" | grep -q "^memlimit\[$pid true\]: soft 1.0MiB (MEMLIMIT)" || fail "the start-up line does not name pid $pid and true: $err"
echo "prefix: $(echo "$err" | grep '^memlimit' | cut -c1-60)..."

# ---- MEMLIMIT_LOG_FORMAT=json: every line one JSON object with the same fields; the
# line about a bad value is JSON too (the format is read before the other options)
PY=$(command -v python3) || fail "python3 is needed to read JSON"
ml MEMLIMIT_TRACE=2 MEMLIMIT_LOG_FORMAT=json MEMLIMIT_LOG="$T/json.log" MEMLIMIT_SCOPE=heap "$W/logdata" churn ||
    fail "json: exit $?"
"$PY" - "$T/json.log" <<'PYCODE' || fail "json: $(head -3 "$T/json.log")"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
objs = [json.loads(l) for l in lines]
assert len(objs) >= 3, lines
for o in objs:
    # "t" (MEMLIMIT_TRACE=2) from start-up on: not on the configuration's line before it
    assert list(o) == ["ts", "pid", "prog"] + ["t"] * (o is not objs[0]) + ["msg"], o
    assert o["prog"] == "logdata" and o["pid"] == objs[0]["pid"] and o["ts"] > 1.6e9, o
assert "MEMLIMIT_SCOPE='heap' is not valid" in objs[0]["msg"], objs[0]
assert any(o["msg"].startswith("soft 1.0MiB") for o in objs), objs
assert any(o["msg"].startswith("trim #") for o in objs), objs
print(f"json: {len(objs)} lines, each an object; first: {lines[0][:110]}...")
PYCODE

# ---- a FIFO nobody reads: open(O_NONBLOCK) fails (ENXIO), said once
mkfifo "$T/fifo"
ml MEMLIMIT_TRACE=1 MEMLIMIT_LOG="$T/fifo" /bin/true 2> "$T/noreader.err"; rc=$?
[ $rc = 0 ] || fail "FIFO without a reader: exit $rc (124: it hung)"
[ "$(grep -c "^${ML}cannot open the log MEMLIMIT_LOG=$T/fifo: .*; logging to stderr from now on$" "$T/noreader.err")" = 1 ] ||
    fail "FIFO without a reader: expected one notice: $(cat "$T/noreader.err")"
grep -q "^${ML}soft 1.0MiB" "$T/noreader.err" || fail "the start-up line did not follow on stderr: $(cat "$T/noreader.err")"
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
head -1 "$T/noent.err" | grep -qx "${ML}cannot open the log MEMLIMIT_LOG=/nonexistent/dir/x: No such file or directory; logging to stderr from now on" ||
    fail "no such directory: the first line is not the notice: $(cat "$T/noent.err")"
[ "$(grep -c 'cannot open the log' "$T/noent.err")" = 1 ] || fail "no such directory: expected exactly one notice"
[ "$(grep -c "^${ML}trim #" "$T/noent.err")" -ge 1 ] || fail "no such directory: the trace did not follow on stderr"
echo "no such directory: one notice, then $(grep -c "^${ML}" "$T/noent.err") lines on stderr"

# ---- stderr a pipe whose reader exits at once; SIGPIPE at its default (death)
{ ml MEMLIMIT_TRACE=1 env --default-signal=PIPE "$W/logdata" churn 2>&1 > /dev/null; echo $? > "$T/pipe.rc"; } | true
[ "$(cat "$T/pipe.rc")" = 0 ] || fail "stderr without a reader: exit $(cat "$T/pipe.rc") (141: SIGPIPE)"
echo "stderr without a reader: exit 0"

# ---- descriptor 2 reused for the program's data
seq -f 'record %g' 0 39 > "$T/expect"
check_data() { # NAME: the data file holds the program's records only
    cmp -s "$T/$1.data" "$T/expect" || fail "$1: the program's file holds more than its records: $(grep -v '^record' "$T/$1.data" | head -3)"
}
ml MEMLIMIT_TRACE=1 "$W/logdata" swap "$T/trace.data" 2> "$T/trace.err" || fail "swap: exit $?"
check_data trace
ml MEMLIMIT_TRACE=1 "$W/logdata" swap "$T/closed.data" 2>&- || fail "swap, stderr closed at start: exit $?"
check_data closed
mkdir "$T/out"
ml MEMLIMIT_METRICS="$T/out/m.prom" MEMLIMIT_PROFILE="$T/out/prof" MEMLIMIT_PROFILE_RATE=16KiB \
    "$W/logdata" swap "$T/quiet.data" 2> "$T/quiet.err" || fail "swap, metrics and profile: exit $?"
check_data quiet
[ -s "$T/out/prof.soft" ] && [ -s "$T/out/m.prom" ] || fail "swap, metrics and profile: no profile or metrics: $(ls "$T/out")"
echo "descriptor 2 reused for data (trace; stderr closed at start; metrics and profile): only the program's records in it"
