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

# what the chart shows, checked in its pixels (tests/integration/pngcheck.py maps seconds
# and MiB to pixels with the axes that memlimit-plot -v reports)
RED=d62728 # the first log's colour
pix() { # CHART CHECK...: the chart was drawn with -v into CHART.v
    local png=$1; shift
    "$PY" "$ROOT/tests/integration/pngcheck.py" "$png" "$png.v" "$@"
}
s=$ROOT/build/plot-steps.trace
cat > "$s" <<'TRACE'
memlimit[1 synth]: t=0.000 sample usage=20971520 soft=94371840 hard=0 limit=104857600 level=none trims=0 rounds=0 failed=0
memlimit[1 synth]: t=1.000 sample usage=83886080 soft=94371840 hard=0 limit=104857600 level=moderate trims=0 rounds=0 failed=0
TRACE
for end in killed exit none; do
    c=$ROOT/build/plot-steps-$end.png
    "$PLOT" -v -o "$c" --title "two samples, end $end" -l synth --end $end "$s" > "$c.v" || fail "plot with --end $end"
done
c=$ROOT/build/plot-steps-killed.png
grep -q '2 samples from t=0.000 to t=1.000 s, usage up to 80.0 MiB, soft 90.0 MiB, hard off, limit 100.0 MiB' "$c.v" ||
    fail "-v does not tell the two samples: $(head -1 "$c.v")"
grep -q 'bands from log 1: moderate 81.0, soft 90.0, critical 97.0 to 100.0 MiB' "$c.v" || fail "bands: $(grep bands "$c.v")"
# two samples draw a step (20 MiB held until t=1), not a ramp through (0.5 s, 50 MiB)
pix "$c" "has $RED 0.5 20 2" "lacks $RED 0.5 50 4" || fail "two samples are not drawn as a step"
# the levels as bands (moderate from 90% of the soft limit, soft, critical from 97% of
# the cgroup limit), nothing below them, the cgroup limit in black, the soft limit dashed
pix "$c" "fill fff2b3 0.3 85.5" "fill ffd8a8 0.3 93.5" "fill ffb8b8 0.3 98.5" "fill ffffff 0.3 65" \
    "has 000000 0.3 100 2" "has $RED 0.3 90 8" || fail "levels or limits not drawn"
# the end of the run: a large X when killed, a small one at exit, none by default
pix "$c" "has $RED 1.0 80 1 8 8" "has $RED 1.0 80 1 -8 -8" || fail "no large X where the killed run ended"
pix "$ROOT/build/plot-steps-exit.png" "has $RED 1.0 80 1 4 4" "lacks $RED 1.0 80 1 8 8" "lacks $RED 1.0 80 1 -8 -8" ||
    fail "the end of an exited run is not a small X"
pix "$ROOT/build/plot-steps-none.png" "lacks $RED 1.0 80 1 4 4" "lacks $RED 1.0 80 1 -4 -4" || fail "an X with --end none"
# the legend right of the plot, never below it on the x label; the title above it
pix "$c" "has-region $RED right" "lacks-region $RED below" "has-region 000000 above" || fail "legend or title misplaced"
"$PLOT" -v -o "$ROOT/build/plot-notitle.png" -t "" "$s" > "$ROOT/build/plot-notitle.png.v" || fail "plot with an empty title"
pix "$ROOT/build/plot-notitle.png" "lacks-region 000000 above" || fail "an empty title drew something"
"$PLOT" -o "$ROOT/build/plot-title2.png" --title='a "quoted" \ title' --label=synth --end=killed "$s" > /dev/null ||
    fail "a title with quotes and a backslash"
cmp -s "$c" "$ROOT/build/plot-title2.png" && fail "another title drew the same chart"
echo "steps, bands, limits, end marks, legend and title: as drawn"

# a hard limit and a refusal at it: the hard limit dash-dotted, the refusal a small X,
# the critical band from the hard limit
h=$ROOT/build/plot-hard.trace
cat > "$h" <<'TRACE'
memlimit[2 synth]: t=0.000 sample usage=10485760 soft=52428800 hard=62914560 limit=104857600 level=none trims=0 rounds=0 failed=0
memlimit[2 synth]: t=0.500 sample usage=62390272 soft=52428800 hard=62914560 limit=104857600 level=soft trims=0 rounds=0 failed=0
memlimit[2 synth]: t=0.600 hard limit 60.0MiB: refused 1.0MiB at 59.5MiB (ENOMEM), level critical, from fill+0x2c (x) <- main+0x61 (x)
memlimit[2 synth]: t=1.000 sample usage=62390272 soft=52428800 hard=62914560 limit=104857600 level=soft trims=0 rounds=1 failed=1
TRACE
grep -v refused "$h" > "$h.none"
c=$ROOT/build/plot-hard.png
"$PLOT" -v -o "$c" -l synth "$h" > "$c.v" || fail "plot of a hard limit"
grep -q 'hard 60.0 MiB, limit 100.0 MiB; 0 trims, 0 rounds, 1 refusals' "$c.v" || fail "-v: $(head -1 "$c.v")"
pix "$c" "has 7b1010 0.3 60 6" "fill ffb8b8 0.3 80" "fill ffd8a8 0.3 55" "has $RED 0.6 59.5 1 3 3" \
    "has $RED 0.6 59.5 1 -3 -3" || fail "hard limit, its band or the refusal not drawn"
"$PLOT" -v -o "$c.none.png" -l synth "$h.none" > "$c.none.png.v" || fail "plot of a hard limit without refusal"
pix "$c.none.png" "lacks $RED 0.6 59.5 1 3 3" "lacks $RED 0.6 59.5 1 -3 -3" || fail "an X without a refusal"
"$PLOT" -v -o "$ROOT/build/plot-nohard.png" "$s" > "$ROOT/build/plot-nohard.png.v" || fail "plot without a hard limit"
pix "$ROOT/build/plot-nohard.png" "lacks 7b1010 0.3 60 6" || fail "a hard limit drawn where there is none"
echo "hard limit, its band and a refusal: as drawn"

# options: wrong ends are refused, the n-th -l and -e go with the n-th log wherever it is
for bad in "--end maybe" "-e 256" "-e" "--bogus"; do
    # shellcheck disable=SC2086
    "$PLOT" -o "$ROOT/build/plot-bad.png" $bad "$s" 2> /dev/null; rc=$?
    [ $rc -eq 2 ] || fail "memlimit-plot $bad: exit $rc, not 2"
done
"$PLOT" -o "$ROOT/build/plot-bad.png" -e 0 -e 137 "$s" 2> /dev/null && fail "two ends for one log were accepted"
"$PLOT" -v -o "$ROOT/build/plot-order.png" -l first -e 0 "$s" -l second -e 137 "$h" > "$ROOT/build/plot-order.v" ||
    fail "options between the logs"
grep -q '^log 1 "first": .* end exit at t=1.000 s' "$ROOT/build/plot-order.v" &&
    grep -q '^log 2 "second": .* end killed at t=1.000 s' "$ROOT/build/plot-order.v" ||
    fail "labels and ends went to the wrong logs: $(cat "$ROOT/build/plot-order.v")"
echo "options: bad ends refused, labels and ends follow their logs"
