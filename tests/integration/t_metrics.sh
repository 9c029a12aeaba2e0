# SPDX-License-Identifier: MIT
# MEMLIMIT_METRICS: the file is valid Prometheus text (tests/integration/promcheck.py,
# a strict reader that is first shown to reject malformed files), "%p" becomes the
# pid, it is replaced atomically, and its values follow usage as it rises and falls.
# The figures that depend on the scope (usage, peak, level, reached) carry the scope
# measured, scope="cgroup" under a cgroup limit with scope auto, scope="process" with
# MEMLIMIT_SCOPE=process or an explicit MEMLIMIT, and their HELP says the same.
# A long path is written whole or refused, never cut; the temporary file never
# reuses a name someone else made in a shared directory.
. "$ROOT/tests/integration/lib.sh"
PY=$(command -v python3) || fail "python3 is needed for the format checker"
CHECK="$PY $ROOT/tests/integration/promcheck.py"
d=$ROOT/build/metrics; rm -rf "$d"; mkdir -p "$d"
# the checker rejects what it must
n=0
while IFS= read -r bad; do
    printf "$bad" > "$d/bad.prom"
    $CHECK "$d/bad.prom" > /dev/null 2>&1 && fail "promcheck accepted: $bad"
    n=$((n + 1))
done <<'BAD'
# TYPE a gauge\na 1
# TYPE a gauge\na{x="1"} one\n
# TYPE a gauge\na{x=1} 1\n
# TYPE a_total counter\na_total 1\n# TYPE a_total counter\n
# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x="2"} 1\n
b 1\n
# TYPE a gauge\na 1\na 2\n
# TYPE c counter\nc 1\n
# TYPE 1a gauge\n1a 1\n
BAD
printf '# HELP a x\n# TYPE a gauge\na{pid="1"} 1.5e3\n' > "$d/good.prom"
$CHECK "$d/good.prom" > /dev/null || fail "promcheck refused a valid file"
echo "promcheck: rejects $n malformed files, accepts a valid one"

# a 600-character path is written where it says (it was cut at ~488 characters and
# the file landed in a parent directory under the cut name); one longer than
# PATH_MAX once "%p" is the pid is refused with one line, nothing written
deep=$d/long
for c in a b c d e f; do deep=$deep/$(printf "$c%.0s" $(seq 99)); done
mkdir -p "$deep"
env LD_PRELOAD="$LIB" MEMLIMIT=1MiB MEMLIMIT_METRICS="$deep/m-%p.prom" "$W/logdata" churn 5 ||
    fail "long path: exit $?"
ls "$deep"/m-*.prom > /dev/null 2>&1 && [ "$(find "$d/long" -type f | wc -l)" = 1 ] ||
    fail "long path: not written where it says: $(find "$d/long" -type f)"
pat=$d/long/$(printf '%%p%.0s' $(seq 2000)) # 4000 characters; 6000 or more expanded
env LD_PRELOAD="$LIB" MEMLIMIT=1MiB MEMLIMIT_METRICS="$pat" "$W/logdata" churn 5 2> "$d/toolong.err" ||
    fail "too long a path: exit $?"
[ "$(grep -c "^${ML}cannot write metrics " "$d/toolong.err")" = 1 ] && [ "$(find "$d/long" -type f | wc -l)" = 1 ] ||
    fail "too long a path: expected one line and no file: $(cut -c1-200 "$d/toolong.err")"
echo "metrics path of ${#deep} characters written where it says; one of ${#pat} (longer than PATH_MAX with the pid) refused in one line"

# a shared directory (1777) where another user made the temporary names it used to
# pick (".NAME.tmp.PID"; in a new pid namespace the program is pid 1): our text never
# goes into their files, and the file left is ours
s=$d/shared
mkdir -m 1777 "$s"
for n in .m-1.prom.tmp.1 .m-1.prom.tmp.2 .m-1.prom.tmp; do
    printf 'decoy\n' > "$s/$n"; chmod 666 "$s/$n"; chown 65534:65534 "$s/$n" 2> /dev/null
done
if unshare -pf --mount-proc true 2> /dev/null; then
    unshare -pf --mount-proc env LD_PRELOAD="$LIB" MEMLIMIT=1MiB MEMLIMIT_METRICS="$s/m-%p.prom" "$W/logdata" churn 5 ||
        fail "shared directory: exit $?"
    for n in .m-1.prom.tmp.1 .m-1.prom.tmp.2 .m-1.prom.tmp; do
        [ "$(cat "$s/$n" 2> /dev/null)" = decoy ] || fail "shared directory: $n now holds: $(cat "$s/$n" 2>&1 | head -3)"
    done
    [ "$(stat -c %u "$s/m-1.prom")" = "$(id -u)" ] || fail "shared directory: m-1.prom is owned by $(stat -c %U "$s/m-1.prom")"
    [ "$(ls -A "$s" | wc -l)" = 4 ] || fail "shared directory: $(ls -A "$s")"
    echo "shared directory with the old temporary names taken by $(stat -c %U "$s/.m-1.prom.tmp.1"): untouched, m-1.prom is ours"
else
    echo "shared directory: no pid namespace here (unshare -p); the unit test metrics/never_writes_into_a_file_someone_else_made covers it"
fi

# ---- at exit: the file is written a last time, so it holds the process's peak. grow
# takes 40 MiB in 1 MiB steps, 12 ms apart, frees it all at once and exits well
# before the next interval (5 s): without the last write the file holds the first
# sample only. Usage is sampled on allocation (here every second step: the thread's
# budget is 1 MiB; at most every 10 ms without a limit), so the peak sampled is within
# 2 MiB of the 40 MiB held, the block being allocated not touched yet (3 MiB allowed).
# prom FILE: "usage peak samples trims trim_cpu_seconds pid" from the file
prom() {
    j=$($CHECK "$1") || fail "invalid: $1: $(cat "$1")"
    echo "$j" | "$PY" -c '
import json, sys
d = {k.split("{")[0]: (v, k) for k, v in json.load(sys.stdin).items()}
pid = d["memlimit_usage_bytes"][1].split("\"")[1]
print(*(int(d[n][0]) for n in ("memlimit_usage_bytes", "memlimit_peak_usage_bytes", "memlimit_samples_total", "memlimit_trims_total")),
      d["memlimit_trim_cpu_seconds_total"][0], pid)'
}
env LD_PRELOAD="$LIB" MEMLIMIT_METRICS="$d/exit.prom" "$W/grow" 40 12 0 0 || fail "grow: exit $?"
read -r usage peak samples _ _ _ <<< "$(prom "$d/exit.prom")"
echo "grow 40 MiB, freed, exit: peak $(mib "$peak"), usage at exit $(mib "$usage"), $samples samples"
[ "$peak" -ge $((37 << 20)) ] || fail "the peak after exit is $(mib "$peak"), not within 3 MiB of the 40 MiB it held"
[ "$samples" -gt 1 ] && [ "$usage" -lt $((8 << 20)) ] || fail "not the last sample at exit: $samples samples, usage $usage"
# trims' CPU time: a workload that trims (under a 1 MiB limit) has spent some
env LD_PRELOAD="$LIB" MEMLIMIT=1MiB MEMLIMIT_METRICS="$d/trim.prom" "$W/logdata" churn 20 || fail "logdata: exit $?"
read -r _ _ _ trims cpu _ <<< "$(prom "$d/trim.prom")"
echo "20 rounds under MEMLIMIT=1MiB: $trims trims, memlimit_trim_cpu_seconds_total $cpu"
[ "$trims" -ge 1 ] && "$PY" -c "import sys; sys.exit(not 0 < float('$cpu') < 10)" || fail "trims $trims, cpu $cpu"
# exit while four threads allocate (and an atexit handler allocates): thirty times
for i in $(seq 30); do
    env LD_PRELOAD="$LIB" MEMLIMIT=8MiB MEMLIMIT_METRICS="$d/race.prom" "$W/forkexit" exit || fail "exit race, run $i: status $?"
    prom "$d/race.prom" > /dev/null
done
echo "30 exits while threads allocate: status 0, the file valid each time"
# a fork child that exits after its parent: without %p the file stays the parent's;
# with %p each writes its own (the interpreter itself: python3 can be a shim script
# whose processes would write files of their own)
REALPY=$("$PY" -c 'import sys; print(sys.executable)')
for pat in fork.prom fork-%p.prom; do
    rm -f "$d"/fork*.prom
    out=$(env LD_PRELOAD="$LIB" MEMLIMIT_METRICS="$d/$pat" "$REALPY" -c '
import os, sys, time
child = os.fork()
if child == 0:
    x = b"y" * (16 << 20)
    time.sleep(0.5)
    sys.exit(0)  # exit(), so destructors run, after the parent is gone
print(os.getpid(), child)') || fail "fork child: $out"
    read -r parent child <<< "$out"
    while kill -0 "$child" 2> /dev/null; do sleep 0.05; done
    if [ $pat = fork.prom ]; then
        read -r _ _ _ _ _ pid <<< "$(prom "$d/fork.prom")"
        [ "$pid" = "$parent" ] || fail "without %p the child ($child) wrote over its parent's ($parent) file: pid $pid"
    else
        read -r _ _ _ _ _ pid <<< "$(prom "$d/fork-$child.prom")"
        [ "$pid" = "$child" ] && [ -s "$d/fork-$parent.prom" ] && [ "$(ls "$d" | grep -c '^fork')" = 2 ] ||
            fail "with %p: $(ls "$d"/fork*): child's pid $pid"
    fi
    echo "a fork child exiting after its parent, $pat: $(ls "$d" | grep '^fork' | tr '\n' ' ')"
done

# scopes FILE: the scope label of usage, peak, level and limit_reached: one word when
# all four say the same in their label and HELP, else what each said
scopes() {
    "$PY" - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
got = set()
for m in ("memlimit_usage_bytes", "memlimit_peak_usage_bytes", "memlimit_level", "memlimit_limit_reached"):
    label = re.findall(rf'^{m}{{pid="[0-9]+",scope="([a-z]+)"}} ', text, re.M)
    help = re.findall(rf'^# HELP {m} .*[(]scope ([a-z]+): ', text, re.M)
    got.add(label[0] if len(label) == 1 and label == help else f"{m}: label {label}, HELP {help}")
print(" / ".join(sorted(got)))
PY
}

need_cgroup
new_cgroup metrics $((512 << 20))
cg_run "$CG_DIR" env LD_PRELOAD="$LIB" MEMLIMIT_METRICS="$d/memlimit-%p.prom" MEMLIMIT_METRICS_INTERVAL=1 \
    "$W/grow" 150 15 1500 2500 & job=$!
# snapshots every 0.25 s while it runs; the file's name carries the program's pid,
# which must be the process in the cgroup
i=0 pid="" f=""
while kill -0 $job 2>/dev/null; do
    if [ -z "$pid" ]; then
        f=$(ls "$d"/memlimit-*.prom 2>/dev/null | head -1)
        if [ -n "$f" ]; then
            pid=${f##*/memlimit-}; pid=${pid%.prom}
            grep -qx "$pid" "$CG_DIR/cgroup.procs" || fail "$f: $pid is not the process in the cgroup ($(cat "$CG_DIR/cgroup.procs"))"
        fi
    fi
    [ -n "$f" ] && cp "$f" "$d/snap-$(printf %03d $i).prom" && i=$((i + 1))
    sleep 0.25
done
wait $job; rc=$?
[ $rc -eq 0 ] || fail "grow exited $rc"
[ -n "$pid" ] || fail "no metrics file memlimit-<pid>.prom in $d"
ls -a "$d" | grep -q '\.tmp\.' && fail "a temporary file was left: $(ls -a "$d")"
[ "$(stat -c %a "$f")" = 644 ] || fail "mode $(stat -c %a "$f")"
[ $i -ge 8 ] || fail "only $i snapshots"
usages=""
for s in "$d"/snap-*.prom; do
    j=$($CHECK "$s") || fail "invalid: $s: $(cat "$s")"
    # scope auto under a cgroup limit measures the cgroup's working set
    sc=$(scopes "$s")
    [ "$sc" = cgroup ] || fail "$s: scope auto under a 512 MiB cgroup limit: not labelled scope=\"cgroup\": $sc"
    u=$(echo "$j" | "$PY" -c "import json,sys; d=json.load(sys.stdin); print(int(d['memlimit_usage_bytes{pid=\"$pid\",scope=\"cgroup\"}']), int(d['memlimit_samples_total{pid=\"$pid\"}']), int(d['memlimit_soft_limit_bytes{pid=\"$pid\"}']))")
    usages="$usages $u"
done
echo "$i snapshots, all valid; (usage samples soft) per snapshot:$usages" | fold -w 200
# usage rose above 100 MiB, fell back under 50 MiB; samples never went backwards;
# the soft limit is 90% of 512 MiB
echo "$usages" | "$PY" -c '
import sys
v = list(map(int, sys.stdin.read().split()))
u, s, soft = v[0::3], v[1::3], v[2::3]
mx = max(u); i = u.index(mx)
assert mx > 100 << 20, f"usage never above 100 MiB: {mx}"
assert min(u[i:]) < 50 << 20, f"usage never fell back: {u[i:]}"
assert all(a <= b for a, b in zip(s, s[1:])), f"samples went backwards: {s}"
assert set(soft) == {int(512 * 2**20 * 0.9)}, f"soft limit {set(soft)}"
print(f"usage rose to {mx / 2**20:.1f} MiB and fell to {min(u[i:]) / 2**20:.1f} MiB")
' || fail "metrics did not follow usage"
echo "scope auto under the cgroup limit: every snapshot labelled scope=\"cgroup\""
# the same cgroup limit, measuring this process: MEMLIMIT_SCOPE=process, and scope auto
# with an explicit MEMLIMIT (the cgroup limit is then not the effective one)
for how in MEMLIMIT_SCOPE=process MEMLIMIT=200MiB; do
    cg_run "$CG_DIR" env LD_PRELOAD="$LIB" "$how" MEMLIMIT_METRICS="$d/process.prom" "$W/grow" 40 5 0 0 ||
        fail "$how: grow exited $?"
    $CHECK "$d/process.prom" > /dev/null || fail "$how: invalid: $(cat "$d/process.prom")"
    sc=$(scopes "$d/process.prom")
    [ "$sc" = process ] || fail "$how under a 512 MiB cgroup limit: not labelled scope=\"process\": $sc"
    echo "$how under the cgroup limit: labelled scope=\"process\": $(grep '^memlimit_peak_usage_bytes' "$d/process.prom")"
done
