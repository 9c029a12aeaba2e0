# SPDX-License-Identifier: MIT
# Go programs get GOMEMLIMIT from the soft limit through memlimit-run (issue 25): the
# Go runtime takes its heap with its own mmap calls, and a static Go binary cannot
# be preloaded at all, so the runtime's own knob is what bounds it. A Go service
# (tests/work/go/heap.go: 96 MiB live, GOGC's default lets its heap reach twice
# that) is OOM-killed in a 192 MiB cgroup bare and completes under memlimit-run,
# idle, beside two busy loops and in a CPU quota of half a core, with debug.SetMemoryLimit reporting exactly 90% of
# the soft limit memlimit-show reports (the moderate watermark: at the soft limit
# itself the runtime, starved of CPU, peaked at 190 of 192 MiB). A GOMEMLIMIT the user set is left as it is;
# --show says which; a cgo (dynamic) Go program gets both GOMEMLIMIT and the
# library; with no soft limit nothing is set.
. "$ROOT/tests/integration/lib.sh"
need_cgroup
command -v go > /dev/null || fail "go missing (golang-go; make deps installs it)"
T=$ROOT/build/gomemlimit; rm -rf "$T"; mkdir -p "$T"
RUN=$ROOT/scripts/memlimit-run
CGO_ENABLED=0 go build -o "$T/heap" "$ROOT/tests/work/go/heap.go" || fail "cannot build heap.go"
CGO_ENABLED=1 go build -o "$T/gocgo" "$ROOT/tests/work/go/cgo.go" || fail "cannot build cgo.go"
LIMIT=$((192 << 20))
new_cgroup go-bare $LIMIT; d=$CG_DIR
cg_run "$d" "$T/heap" > /dev/null 2>&1; rc=$?
[ $rc = 137 ] || fail "heap.go bare: exit $rc, not an OOM kill: the test shows nothing"
echo "heap.go bare in $(mib $LIMIT): OOM-killed"

new_cgroup go-show $LIMIT; d=$CG_DIR
soft=$(cg_run "$d" "$ROOT/build/memlimit-show" --json | sed -n 's/.*"soft": \([0-9][0-9]*\),.*/\1/p')
[ -n "$soft" ] && [ "$soft" -gt 0 ] || fail "no soft limit from memlimit-show --json"
soft=$((soft / 10 * 9))
show=$(cg_run "$d" "$RUN" --show -- "$T/heap" 2>&1) || fail "--show with a Go program: $show"
echo "$show" | grep -q "^go: *GOMEMLIMIT=$soft (90% of the soft limit) would be set" || fail "--show: $(echo "$show" | tail -3)"
busy=""
trap '[ -z "$busy" ] || kill $busy 2> /dev/null; cleanup' EXIT
i=0
for cond in idle idle busy busy busy; do
    i=$((i + 1))
    if [ $cond = busy ] && [ -z "$busy" ]; then
        for _ in 1 2; do sh -c 'while :; do :; done' & busy="$busy $!"; done
    fi
    new_cgroup go-$cond-$i $LIMIT; d=$CG_DIR
    out=$(cg_run "$d" "$RUN" -- "$T/heap" 2> "$T/err"); rc=$?
    [ $rc = 0 ] || fail "memlimit-run heap.go, $cond: exit $rc, peak $(mib "$(cg_peak "$d")"): $(cat "$T/err")"
    [ "${out%% *}" = "$soft" ] || fail "$cond: the Go runtime's limit is '${out%% *}', not the soft limit $soft"
    echo "memlimit-run heap.go, $cond: completed, GOMEMLIMIT $soft, peak $(mib "$(cg_peak "$d")")"
done
kill $busy; wait $busy 2> /dev/null; busy=""
CPU=/sys/fs/cgroup/cpu/memlimit-go-$$
trap '[ -z "$busy" ] || kill $busy 2> /dev/null; cleanup; [ ! -d "$CPU" ] || rmdir "$CPU"' EXIT
mkdir "$CPU" && echo 100000 > "$CPU/cpu.cfs_period_us" && echo 50000 > "$CPU/cpu.cfs_quota_us" ||
    fail "cannot create a CPU cgroup with a quota at $CPU"
for i in 1 2; do
    new_cgroup go-quota-$i $LIMIT; d=$CG_DIR
    out=$(sh -c 'echo $$ > "$1/cgroup.procs" && echo $$ > "$2/cgroup.procs" || exit 99; shift 2; exec "$@"' \
        sh "$d" "$CPU" "$RUN" -- "$T/heap" 2> "$T/err"); rc=$?
    [ $rc = 0 ] || fail "memlimit-run heap.go in half a core: exit $rc, peak $(mib "$(cg_peak "$d")"): $(cat "$T/err")"
    echo "memlimit-run heap.go, in half a core: completed, peak $(mib "$(cg_peak "$d")")"
done

# the user's own GOMEMLIMIT stands (a static program needs --no-check: nothing to preload)
new_cgroup go-user $LIMIT; d=$CG_DIR
out=$(cg_run "$d" env GOMEMLIMIT=150MiB "$RUN" --no-check -- "$T/heap" 1 16 2>&1) || fail "GOMEMLIMIT=150MiB: $out"
[ "${out%% *}" = $((150 << 20)) ] || fail "GOMEMLIMIT=150MiB set by the user became '${out%% *}'"
show=$(cg_run "$d" env GOMEMLIMIT=150MiB "$RUN" --show -- "$T/heap" 2>&1)
echo "$show" | grep -q "^go: *GOMEMLIMIT=150MiB set already: left as it is" || fail "--show with GOMEMLIMIT set: $(echo "$show" | tail -2)"
echo "GOMEMLIMIT=150MiB set by the user: left as it is"

# cgo: dynamic, so the library too; the trace says both
out=$(cg_run "$d" env MEMLIMIT_TRACE=1 "$RUN" -- "$T/gocgo" 2>&1) || fail "cgo program: $out"
echo "$out" | grep -q "^memlimit-run: GOMEMLIMIT=$soft (90% of the soft limit) for the Go program" || fail "cgo: no GOMEMLIMIT line: $out"
echo "$out" | grep -q '^memlimit\[[0-9]* gocgo\]: soft ' || fail "cgo: the library did not start: $out"
echo "cgo program: GOMEMLIMIT set and the library preloaded"

# no soft limit (MEMLIMIT=off): nothing set, and a static program is refused as before
out=$(cg_run "$d" env MEMLIMIT=off "$RUN" -- "$T/heap" 1 16 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "statically linked" || fail "MEMLIMIT=off, static Go: exit $rc: $out"
echo "MEMLIMIT=off: GOMEMLIMIT left unset, the static program refused (exit 2) as any static one"
rm -rf "$T"
