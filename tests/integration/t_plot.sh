# SPDX-License-Identifier: MIT
# memlimit-plot: a PNG of sane size from a recorded trace (tests/data/cacheapp.trace)
# and from one recorded now with MEMLIMIT_TRACE=2, whose lines are checked against
# the documented format; a log without sample lines is refused.
. "$ROOT/tests/integration/lib.sh"
PLOT=$ROOT/scripts/memlimit-plot
PY=$(command -v python3) || fail "python3 is needed to read the PNG header"
png_check() { # FILE: prints "WxH bytes"; non-zero unless a PNG of the chart's size
    "$PY" - "$1" <<'PYCODE'
import struct, sys, os
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n", "no PNG signature"
assert d[12:16] == b"IHDR", "no IHDR"
w, h = struct.unpack(">II", d[16:24])
assert (w, h) == (1000, 560), (w, h)
assert 15000 < len(d) < 1000000, len(d)
print(f"{w}x{h} {len(d)} bytes")
PYCODE
}
out=$ROOT/build/plot-recorded.png; rm -f "$out"
"$PLOT" -o "$out" -t "recorded" -l "cacheapp" "$ROOT/tests/data/cacheapp.trace" > /dev/null || fail "plot of the recorded trace"
info=$(png_check "$out") || fail "$out is not a sane PNG: $info"
echo "recorded trace: $info"
png_check "$ROOT/tests/data/cacheapp.trace" > /dev/null 2>&1 && fail "png_check accepted a text file"
# the same trace with today's prefix ("memlimit[PID NAME]: ", the recording has the
# older "memlimit: ") and as JSON lines (MEMLIMIT_LOG_FORMAT=json): the same chart
"$PY" - "$ROOT/tests/data/cacheapp.trace" "$ROOT/build/plot-recorded" <<'PYCODE'
import json, re, sys
with open(sys.argv[2] + ".txt", "w") as t, open(sys.argv[2] + ".json", "w") as j:
    for line in open(sys.argv[1]):
        m = re.match(r"memlimit: t=([0-9.]+) (.*)$", line.rstrip("\n"))
        t.write(f"memlimit[4242 cache app]: t={m.group(1)} {m.group(2)}\n")
        j.write(json.dumps({"ts": 1.7e9, "pid": 4242, "prog": "cache app", "t": float(m.group(1)),
                            "msg": m.group(2)}, separators=(",", ":")) + "\n")
PYCODE
for f in txt json; do
    "$PLOT" -o "$ROOT/build/plot-recorded-$f.png" -t "recorded" -l "cacheapp" "$ROOT/build/plot-recorded.$f" > /dev/null ||
        fail "plot of the recorded trace as $f"
    cmp -s "$out" "$ROOT/build/plot-recorded-$f.png" || fail "the recorded trace as $f does not draw the same chart"
done
echo "the same trace with the PID and program in the prefix, and as JSON lines: the same chart"

# a log with no sample lines: one line, exit 2
printf 'memlimit[7 app]: soft 1.0MiB\nmemlimit[7 app]: trim #1 at 2.0MiB -> 1.0MiB in 1ms (cpu 1ms)\n' > "$ROOT/build/plot-empty.log"
err=$("$PLOT" -o "$ROOT/build/plot-empty.png" "$ROOT/build/plot-empty.log" 2>&1); rc=$?
[ $rc -eq 2 ] || fail "a log without samples: exit $rc"
echo "a log without samples: $err"
"$PLOT" -o x.png /nonexistent 2>/dev/null; [ $? -eq 2 ] || fail "a missing log was not an error"

# a live trace in a cgroup, with and without callbacks, on one chart
need_cgroup
new_cgroup plot $((256 << 20))
live=$ROOT/build/plot-live.trace; rm -f "$live"
cg_run "$CG_DIR" env LD_PRELOAD="$LIB" MEMLIMIT_TRACE=2 MEMLIMIT_TRACE_INTERVAL=50 MEMLIMIT_LOG="$live" \
    "$W/cacheapp" --callback > /dev/null || fail "cacheapp failed"
samples=$(grep -c ' sample ' "$live")
bad=$(grep -v -E "^${ML}t=[0-9]+\.[0-9]{3} " "$live" | head -1)
[ -z "$bad" ] || fail "a line without its time: $bad"
bad=$(grep ' sample ' "$live" | grep -v -E "^${ML}"'t=[0-9]+\.[0-9]{3} sample usage=[0-9]+ soft=[0-9]+ hard=[0-9]+ limit=268435456 level=(none|moderate|soft|critical) trims=[0-9]+ rounds=[0-9]+ failed=[0-9]+$' | head -1)
[ -z "$bad" ] || fail "a sample line off the documented format: $bad"
[ "$samples" -ge 5 ] || fail "only $samples sample lines"
grep -q ' round #[0-9]* (soft) at ' "$live" || fail "no callback round in the trace"
echo "live trace: $samples sample lines, $(grep -c ' round #' "$live") rounds, $(grep -c ' trim #' "$live") trims"
out=$ROOT/build/plot-two.png; rm -f "$out"
"$PLOT" -o "$out" -l recorded -l live "$ROOT/tests/data/cacheapp.trace" "$live" > /dev/null || fail "plot of two logs"
info=$(png_check "$out") || fail "$out is not a sane PNG: $info"
echo "two logs on one chart: $info"
