# The cases of `make check-v2`, sourced by the VM's /init (tests/v2/init, busybox sh)
# on a real cgroup v2 kernel. Each case is one shell function case_NAME that runs
# workloads in child cgroups of the root and prints one line per outcome:
#
#   ML-RESULT case=<name> thp=<always|madvise> lib=<with|without> rep=<i> exit=<rc>
#     peak_mib=<n> oom_kills=<n> secs=<n> verdict=<pass|fail> expect=<pass|known-fail>
#     outcome=<ok|FAIL|known-fail|XPASS|flaky-fail> note=<free text to the end of the line>
#
# verdict is what happened against what the case asserts; expect comes from the
# table KNOWN below; outcome is ok (pass as expected), FAIL (an unexpected failure:
# the suite fails), known-fail (failed as the table says) or XPASS (passed although
# listed: reported, does not fail the suite) or flaky-fail (a timing-dependent
# baseline that did not show its point this time). ML-INFO lines carry details.
#
# Everything below in capitals can be set from the host: scripts/check-v2 packs every
# V2_* variable of its environment into /ml/params.sh, e.g.
#   V2_CASES="fragment events" V2_REPS_fragment=5 V2_EVENTS_TRIALS=10 make check-v2
# Times are of a guest under QEMU without KVM, 8-20 times slower than native: the
# cases assert exit statuses, peaks and OOM-kill counts, never latencies.

# ---- parameters ------------------------------------------------------------------
: "${V2_CASES:=discovery resize fragment cache hard scope events psi readonly cgroupns}"
: "${V2_REPS:=1}"             # repetitions of every case; V2_REPS_<case>=N for one case
: "${V2_TIMEOUT:=600}"        # seconds any one run may take before it is killed
: "${V2_FRAG_ARGS:=8 40 32 2}" # build/work/fragment: threads rounds MiB-per-request in-flight
: "${V2_FRAG_ALLOCS:=glibc jemalloc}"
: "${V2_FRAG_LIMIT_MIB:=192}"
: "${V2_FRAG_BASELINE_TRIES:=2}" # the run without the library: tries until it is killed
: "${V2_CACHE_LIMIT_MIB:=256}"
: "${V2_CACHE_RECORDS:=200000}"
: "${V2_HARD_LIMIT_MIB:=128}"
: "${V2_HARD:=85%}"
: "${V2_HARD_RUNS:=glibc:c glibc:cxx jemalloc:c jemalloc:cxx}"
: "${V2_SCOPE_PROCS:=2}"       # importers sharing one cgroup, each fits alone
: "${V2_SCOPE_RECORDS:=100000}" # 2 KiB records: ~200 MiB of index each
: "${V2_SCOPE_LIMIT_MIB:=256}"
: "${V2_EVENTS_TRIALS:=10}"     # trials with kernel events on (the default, auto)
: "${V2_EVENTS_OFF_TRIALS:=10}" # trials with MEMLIMIT_EVENTS=off (the thread's own look)
: "${V2_EVENTS_LIMIT_MIB:=256}"
: "${V2_EVENTS_HOLD_MIB:=120}" # the idle holder's cache
: "${V2_EVENTS_GROW_MIB:=140}" # the sibling's raw mmap growth
: "${V2_EVENTS_WAIT_S:=10}"    # how long the holder stays (it must outlive the grower)
: "${V2_PSI_LIMIT_MIB:=128}"   # memory.max of the PSI case's cgroup
: "${V2_PSI_HIGH_MIB:=64}"     # memory.high: growth past it is throttled (PSI stalls)
: "${V2_PSI_GROW_MIB:=40}"     # raw mmap growth of the staller beside a 40 MiB holder

# The environment of each case's runs with the library (word-split, no spaces in values).
: "${V2_ENV_DISCOVERY:=MEMLIMIT_TRACE=1}"
: "${V2_ENV_RESIZE:=MEMLIMIT_TRACE=1 MEMLIMIT_REFRESH=1}"
: "${V2_ENV_FRAG:=MEMLIMIT_TRACE=1}"
: "${V2_ENV_CACHE:=MEMLIMIT_TRACE=1}"
: "${V2_ENV_HARD:=MEMLIMIT_TRACE=1}"
: "${V2_ENV_SCOPE_CGROUP:=MEMLIMIT_TRACE=1 MEMLIMIT_SCOPE=cgroup}"
: "${V2_ENV_SCOPE_DEFAULT:=MEMLIMIT_TRACE=1}" # the default scope, auto (the cgroup's charge)
: "${V2_ENV_EVENTS:=MEMLIMIT_TRACE=1 MEMLIMIT_SCOPE=cgroup}"
: "${V2_ENV_PSI:=MEMLIMIT_TRACE=1 MEMLIMIT=44MiB MEMLIMIT_EVENTS=on}"
: "${V2_ENV_READONLY:=MEMLIMIT_TRACE=1 MEMLIMIT_EVENTS=on}"
: "${V2_ENV_CGROUPNS:=MEMLIMIT_TRACE=1}"

# Expected outcomes other than pass, one line each: "case:lib thp expect why", thp
# one of always, madvise, *. known-fail: the lead is still fixing it (or this harness
# found it and it is reported); a listed case that fails is known-fail, one that
# passes is XPASS. flaky: a baseline whose outcome depends on timing; a failure is
# flaky-fail. None of these fails the suite; FAIL (an unlisted case failing) does.
: "${V2_KNOWN:=
}"

# ---- helpers ---------------------------------------------------------------------
ML=/ml
LIB=$ML/build/libmemlimit.so
SHOW=$ML/build/memlimit-show
W=$ML/build/work
NSRUN=$ML/build/v2/nsrun
TRUE=$ML/bin/true
JE=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
CG=/sys/fs/cgroup
O=/tmp/ml
mkdir -p $O
ML_NRESULTS=0 ML_NUNEXPECTED=0
THP=$(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled)
REP=1

now() { cut -d' ' -f1 /proc/uptime; }
mib_of() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
info() { echo "ML-INFO case=$CASE thp=$THP rep=$REP $*"; }
# info_file TAG FILE: the file's lines as ML-INFO (at most 12, the last ones)
info_file() { [ -f "$2" ] && tail -n 12 "$2" | while IFS= read -r l; do info "$1: $l"; done; }

# cg_new NAME MAX_MIB [HIGH_MIB]: a fresh child of the root (or of $CG_PARENT) with
# memory.max (and memory.high), no swap; sets D
cg_new() {
    D=${CG_PARENT:-$CG}/ml-$1
    cg_rm "$D"
    mkdir "$D" || { info "cannot create $D"; return 1; }
    [ "$2" = max ] && echo max > "$D/memory.max" || echo $(($2 << 20)) > "$D/memory.max"
    [ -n "${3:-}" ] && echo $(($3 << 20)) > "$D/memory.high"
    echo 0 > "$D/memory.swap.max" 2>/dev/null
    return 0
}
cg_rm() {
    local c p
    [ -d "$1" ] || return 0
    for c in "$1"/*/; do [ -d "$c" ] && [ -f "$c/cgroup.procs" ] && cg_rm "${c%/}"; done
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        rmdir "$1" 2>/dev/null && return 0
        for p in $(cat "$1/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        sleep 0.3
    done
    info "could not remove $1"
}
# run_in DIR CMD...: CMD inside the cgroup, killed after V2_TIMEOUT s; returns its status
run_in() {
    _d=$1; shift
    timeout -s KILL "$V2_TIMEOUT" sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$_d" "$@"
}
peak_mib() { mib_of "$(cat "$1/memory.peak" 2>/dev/null || echo 0)"; }
peak_bytes() { cat "$1/memory.peak" 2>/dev/null || echo 0; }
ooms() { awk '$1 == "oom_kill" {print $2}' "$1/memory.events"; }
wait_ready() { # FILE: up to 120 s for "ready"
    for _ in $(seq 600); do grep -q ready "$1" 2>/dev/null && return 0; sleep 0.2; done
    return 1
}
expect_of() { # CASE LIB: pass, known-fail or flaky
    echo "$V2_KNOWN" | awk -v c="$1:$2" -v t="$THP" '
        $1 == c && ($2 == t || $2 == "*") {e = $3} END {print e ? e : "pass"}'
}
# result CASE LIB EXIT PEAK_MIB OOMS VERDICT NOTE...
result() {
    _c=$1 _l=$2 _e=$3 _p=$4 _k=$5 _v=$6; shift 6
    _x=$(expect_of "$_c" "$_l")
    if [ "$_v" = pass ] && [ "$_x" = pass ]; then _o=ok
    elif [ "$_v" = pass ]; then [ "$_x" = flaky ] && _o=ok || _o=XPASS
    elif [ "$_x" = known-fail ]; then _o=known-fail
    elif [ "$_x" = flaky ]; then _o=flaky-fail
    else _o=FAIL; ML_NUNEXPECTED=$((ML_NUNEXPECTED + 1)); fi
    _s=$(awk -v a="$T0" -v b="$(now)" 'BEGIN {printf "%.0f", b - a}')
    ML_NRESULTS=$((ML_NRESULTS + 1))
    echo "ML-RESULT case=$_c thp=$THP lib=$_l rep=$REP exit=$_e peak_mib=$_p oom_kills=$_k secs=$_s verdict=$_v expect=$_x outcome=$_o note=$*"
    T0=$(now)
}
# check COND-STATUS MESSAGE: collects why a verdict fails (WHY), in the current shell
WHY=""
check() { [ "$1" -eq 0 ] || WHY="${WHY:+$WHY; }$2"; }
verdict() { [ -z "$WHY" ] && echo pass || echo fail; }
# the start-up line (soft ..., hard ..., scope ..., allocator ...)
# every line starts "memlimit[PID PROGRAM]: "
ML_PFX='memlimit\[[0-9]* [^]]*\]: '
start_line() { grep -m1 "${ML_PFX}soft .*, hard .*, scope " "$1" 2>/dev/null | sed "s/^.*$ML_PFX//"; }

# ---- 1. discovery ----------------------------------------------------------------
# memory.max on the own cgroup, on an ancestor only, and memory.high below memory.max:
# the start-up line and memlimit-show name the right file and limit.
disc_one() { # NAME DIR EXPECT_LIMIT_MIB EXPECT_KIND EXPECT_FILE
    local name=$1 d=$2 lim=$3 file=$4 path=$5 tr=$O/disc-$1.trace sh=$O/disc-$1.show
    WHY=""
    run_in "$d" env LD_PRELOAD=$LIB $V2_ENV_DISCOVERY "$TRUE" 2> "$tr"; local rc=$?
    run_in "$d" "$SHOW" > "$sh" 2>&1; local rs=$?
    local soft
    soft=$(awk -v l="$lim" 'BEGIN {printf "%.1fMiB", l * 0.9}')
    check $rc "exit $rc"
    check $rs "memlimit-show exit $rs"
    grep -q "${ML_PFX}soft $soft (90% of cgroup v2 $file ${lim}.0MiB at $path)" "$tr"; check $? "start line: $(start_line "$tr")"
    grep -q "^effective limit: *${lim}.0MiB ($file at $path)" "$sh"; check $? "memlimit-show: $(grep '^effective' "$sh")"
    result "discovery-$name" with $rc - - "$(verdict)" "${WHY:-$(start_line "$tr")}"
    [ -z "$WHY" ] || { info_file trace "$tr"; info_file show "$sh"; }
}
case_discovery() {
    cg_new disc-own 200 && disc_one own "$D" 200 memory.max "$D/memory.max"
    if cg_new disc-anc 300 && echo +memory > "$D/cgroup.subtree_control"; then
        CG_PARENT=$D
        cg_new child max && disc_one ancestor "$D" 300 memory.max "$CG_PARENT/memory.max"
        CG_PARENT=""
    fi
    cg_rm "$CG/ml-disc-anc"
    cg_new disc-high 400 250 && disc_one high "$D" 250 memory.high "$D/memory.high"
    cg_rm "$CG/ml-disc-own"; cg_rm "$CG/ml-disc-high"
}

# ---- 2. resize -------------------------------------------------------------------
# memory.max lowered from 512 to 256 MiB while an allocating process runs.
case_resize() {
    local tr=$O/resize.trace rc
    WHY=""
    cg_new resize 512 || return
    run_in "$D" env LD_PRELOAD=$LIB $V2_ENV_RESIZE MEMLIMIT_LOG=$tr "$W/forkexit" churn 8 > /dev/null 2>&1 &
    local pid=$!
    # lowered once it runs with the first limit (start-up is slow under emulation)
    for _ in $(seq 600); do [ -n "$(start_line "$tr")" ] && break; sleep 0.2; done
    sleep 1
    echo $((256 << 20)) > "$D/memory.max"
    wait $pid; rc=$?
    check $rc "exit $rc"
    grep -q "soft 460.8MiB" "$tr"; check $? "start line: $(start_line "$tr")"
    grep -q "limit changed: 256.0MiB at .*, soft 460.8MiB -> 230.4MiB" "$tr"; check $? "no 'limit changed: 256.0MiB' line"
    result resize with $rc "$(peak_mib "$D")" "$(ooms "$D")" "$(verdict)" \
        "${WHY:-$(grep -m1 -o 'limit changed: 256.*' "$tr")}"
    [ -z "$WHY" ] || info_file trace "$tr"
    cg_rm "$D"
}

# ---- 3. fragmentation ------------------------------------------------------------
# build/work/fragment (8 threads) in a 192 MiB cgroup: OOM-killed without the
# library, completes with it, on glibc and on jemalloc (preloaded after memlimit).
case_fragment() {
    local a pre rc tries peak k tr lim=$((V2_FRAG_LIMIT_MIB << 20))
    for a in $V2_FRAG_ALLOCS; do
        pre=""; [ "$a" = jemalloc ] && pre=$JE
        tries=0
        while [ $tries -lt "$V2_FRAG_BASELINE_TRIES" ]; do
            tries=$((tries + 1))
            cg_new frag-$a-off $V2_FRAG_LIMIT_MIB || return
            run_in "$D" env LD_PRELOAD="$pre" "$W/fragment" $V2_FRAG_ARGS > /dev/null 2>&1; rc=$?
            [ $rc -eq 137 ] && break
            info "$a without the library, try $tries: exit $rc, peak $(peak_mib "$D") MiB: not killed"
        done
        WHY=""; k=$(ooms "$D")
        [ $rc -eq 137 ]; check $? "expected an OOM kill (137), got $rc"
        [ "$k" -ge 1 ]; check $? "oom_kill not counted"
        result fragment-$a without $rc "$(peak_mib "$D")" "$k" "$(verdict)" "${WHY:-killed after $tries tries}"
        cg_rm "$D"

        cg_new frag-$a-on $V2_FRAG_LIMIT_MIB || return
        tr=$O/frag-$a.trace; rm -f "$tr"
        run_in "$D" env LD_PRELOAD="$LIB $pre" $V2_ENV_FRAG MEMLIMIT_LOG=$tr "$W/fragment" $V2_FRAG_ARGS > $O/frag.out 2>&1; rc=$?
        WHY=""; k=$(ooms "$D"); peak=$(peak_bytes "$D")
        check $rc "exit $rc"
        [ "$k" -eq 0 ]; check $? "OOM kill"
        [ "$peak" -lt $lim ]; check $? "peak reached the limit"
        grep -q "soft $(awk -v l=$V2_FRAG_LIMIT_MIB 'BEGIN {printf "%.1f", l * 0.9}')MiB (90% of cgroup v2 memory.max" "$tr"
        check $? "start line: $(start_line "$tr")"
        result fragment-$a with $rc "$(mib_of "$peak")" "$k" "$(verdict)" \
            "${WHY:+$WHY; }$(grep -c ' trim #' "$tr") trims; $(start_line "$tr" | sed 's/ at [^)]*//')"
        [ -z "$WHY" ] && [ "${V2_VERBOSE:-0}" = 0 ] || { info_file trace "$tr"; info_file out $O/frag.out; }
        cg_rm "$D"
    done
}

# ---- 4. cache application with callbacks -----------------------------------------
case_cache() {
    local rc n rounds out=$O/cache.out tr=$O/cache.trace lim=$((V2_CACHE_LIMIT_MIB << 20))
    cg_new cache-plain $V2_CACHE_LIMIT_MIB || return
    run_in "$D" env LD_PRELOAD=$LIB "$W/cacheapp" $V2_CACHE_RECORDS > $out 2>/dev/null; rc=$?
    n=$(grep -o '^imported [0-9]*' $out | tail -1 | grep -o '[0-9]*')
    WHY=""
    [ $rc -eq 137 ]; check $? "expected an OOM kill (137) without the callback, got $rc"
    [ "$(ooms "$D")" -ge 1 ]; check $? "oom_kill not counted"
    result cache-nocallback with $rc "$(peak_mib "$D")" "$(ooms "$D")" "$(verdict)" \
        "${WHY:+$WHY; }imported ${n:-0} of $V2_CACHE_RECORDS"
    cg_rm "$D"
    cg_new cache-cb $V2_CACHE_LIMIT_MIB || return
    rm -f $tr
    run_in "$D" env LD_PRELOAD=$LIB $V2_ENV_CACHE MEMLIMIT_LOG=$tr "$W/cacheapp" --callback $V2_CACHE_RECORDS > $out 2>&1; rc=$?
    WHY=""
    check $rc "exit $rc"
    grep -q "imported $V2_CACHE_RECORDS of $V2_CACHE_RECORDS records" $out; check $? "incomplete import"
    rounds=$(tail -1 $out | sed -n 's/.* in \([0-9]*\) callback rounds.*/\1/p')
    [ "${rounds:-0}" -ge 1 ]; check $? "no callback round"
    [ "$(peak_bytes "$D")" -lt $lim ]; check $? "peak reached the limit"
    [ "$(ooms "$D")" -eq 0 ]; check $? "OOM kill"
    result cache-callback with $rc "$(peak_mib "$D")" "$(ooms "$D")" "$(verdict)" \
        "${WHY:+$WHY; }${rounds:-0} callback rounds; $(tail -1 $out | sed 's/.*; the index/the index/; s/ (checksum.*//')"
    [ -z "$WHY" ] || { info_file trace "$tr"; info_file out $out; }
    cg_rm "$D"
}

# ---- 5. hard limit ---------------------------------------------------------------
case_hard() {
    local r a mode pre rc out=$O/hard.res err=$O/hard.err hard what
    cg_new hard-none $V2_HARD_LIMIT_MIB || return
    run_in "$D" "$W/hardlimit" c $out > /dev/null 2>&1; rc=$?
    WHY=""
    [ $rc -eq 137 ]; check $? "expected an OOM kill (137), got $rc"
    result hard without $rc "$(peak_mib "$D")" "$(ooms "$D")" "$(verdict)" "${WHY:-killed}"
    cg_rm "$D"
    hard=$(awk -v l=$V2_HARD_LIMIT_MIB -v p="${V2_HARD%\%}" 'BEGIN {printf "%.1fMiB", l * p / 100}')
    for r in $V2_HARD_RUNS; do
        a=${r%%:*} mode=${r#*:}; pre=""; [ "$a" = jemalloc ] && pre=$JE
        cg_new hard-$a-$mode $V2_HARD_LIMIT_MIB || return
        rm -f $out
        run_in "$D" env LD_PRELOAD="$LIB $pre" $V2_ENV_HARD MEMLIMIT_HARD=$V2_HARD "$W/hardlimit" $mode $out > /dev/null 2> $err; rc=$?
        [ $mode = c ] && what='malloc returned NULL' || what='std::bad_alloc'
        WHY=""
        check $rc "exit $rc"
        grep -q "before $what" $out 2>/dev/null; check $? "results file: $(cat $out 2>/dev/null)"
        grep -q "${ML_PFX}hard limit $hard: refused" $err; check $? "no 'hard limit $hard: refused' line"
        [ "$(ooms "$D")" -eq 0 ]; check $? "OOM kill"
        result hard-$a-$mode with $rc "$(peak_mib "$D")" "$(ooms "$D")" "$(verdict)" "${WHY:-$(cat $out)}"
        [ -z "$WHY" ] || info_file stderr $err
        cg_rm "$D"
    done
}

# ---- 6. scope: several processes in one cgroup -----------------------------------
# V2_SCOPE_PROCS importers (cacheapp, V2_SCOPE_RECORDS records each, each would fit
# alone) share one cgroup: without the library it is OOM-killed; with
# MEMLIMIT_SCOPE=cgroup all complete; the same with the default scope.
scope_run() { # NAME LIB(with|without) ENV...: runs the importers at once
    local name=$1 lib=$2 i pids="" rcs="" rc bad=0 done=0 calledback=0 out r
    shift 2
    cg_new scope-$name $V2_SCOPE_LIMIT_MIB || return
    for i in $(seq $V2_SCOPE_PROCS); do
        out=$O/scope-$name-$i
        rm -f $out.out $out.trace
        if [ $lib = with ]; then
            run_in "$D" env LD_PRELOAD=$LIB "$@" MEMLIMIT_LOG=$out.trace "$W/cacheapp" --callback $V2_SCOPE_RECORDS > $out.out 2>&1 &
        else
            run_in "$D" "$W/cacheapp" $V2_SCOPE_RECORDS > $out.out 2>&1 &
        fi
        pids="$pids $!"
    done
    for i in $pids; do wait $i; rc=$?; rcs="$rcs${rcs:+,}$rc"; [ $rc -eq 0 ] || bad=$((bad + 1)); done
    for i in $(seq $V2_SCOPE_PROCS); do
        out=$O/scope-$name-$i
        grep -q "imported $V2_SCOPE_RECORDS of $V2_SCOPE_RECORDS records" $out.out && done=$((done + 1))
        r=$(tail -1 $out.out | sed -n 's/.* in \([0-9]*\) callback rounds.*/\1/p')
        [ "${r:-0}" -ge 1 ] && calledback=$((calledback + 1))
    done
    local k
    k=$(ooms "$D")
    WHY=""
    if [ $lib = without ]; then
        [ "$k" -ge 1 ]; check $? "no OOM kill without the library"
    else
        [ $bad -eq 0 ]; check $? "exits $rcs"
        [ $done -eq $V2_SCOPE_PROCS ]; check $? "$done of $V2_SCOPE_PROCS completed"
        [ "$k" -eq 0 ]; check $? "$k OOM kills"
    fi
    local scope
    scope=$(grep -ho 'scope [a-z]*' $O/scope-$name-1.trace 2>/dev/null | head -1)
    result scope-$name $lib "$rcs" "$(peak_mib "$D")" "$k" "$(verdict)" \
        "${WHY:+$WHY; }$V2_SCOPE_PROCS procs x $V2_SCOPE_RECORDS records: $done completed, $calledback called back${scope:+, $scope}"
    [ -z "$WHY" ] || [ $lib = without ] || { info_file trace-1 $O/scope-$name-1.trace; info_file out-1 $O/scope-$name-1.out; }
    cg_rm "$D"
}
case_scope() {
    scope_run plain without
    scope_run cgroup with $V2_ENV_SCOPE_CGROUP
    scope_run default with $V2_ENV_SCOPE_DEFAULT
}

# ---- 7. kernel events and PSI ----------------------------------------------------
# An idle holder of a cache with a callback beside a sibling growing by raw mmap
# without the library, in one cgroup; K trials each with events on (auto) and off.
events_trials() { # NAME TRIALS ENV...
    local name=$1 n=$2 i kills=0 called=0 rcs="" rc peak=0 p k out=$O/events.out gro=$O/events-grow.out tr
    shift 2
    local soft=$((V2_EVENTS_LIMIT_MIB * 1048576 * 9 / 10))
    for i in $(seq $n); do
        cg_new events-$name $V2_EVENTS_LIMIT_MIB || return
        tr=$O/events-$name-$i.trace; rm -f $out $gro $tr
        run_in "$D" env LD_PRELOAD=$LIB "$@" MEMLIMIT_LOG=$tr "$W/holder" $V2_EVENTS_HOLD_MIB $V2_EVENTS_WAIT_S > $out 2>&1 &
        local hp=$!
        wait_ready $out || info "trial $i: holder not ready: $(cat $out)"
        run_in "$D" "$W/rawgrow" "$D/memory.current" $soft $V2_EVENTS_GROW_MIB 500 > $gro 2>&1; local rg=$?
        wait $hp; rc=$?
        k=$(ooms "$D"); p=$(peak_bytes "$D")
        [ "$p" -gt "$peak" ] && peak=$p
        [ "$k" -ge 1 ] && kills=$((kills + 1))
        grep -q '^callback at' $out && called=$((called + 1))
        rcs="$rcs${rcs:+,}$rc"
        info "trial $i ($name): holder exit $rc, grower exit $rg, oom_kill $k, peak $(mib_of "$p") MiB, $(grep -m1 '^holder:\|^callback' $out | tr '\n' ' ')$(grep -m1 -o 'crossed at [0-9]* usage [0-9]*' $gro)"
        cg_rm "$D"
    done
    WHY=""
    # events off leaves the thread's own look, which is all v2 has before the limit
    [ $kills -eq 0 ]; check $? "OOM kills in $kills of $n trials"
    [ $called -eq $n ]; check $? "callback at SOFT in $called of $n trials"
    result events-$name with "$rcs" "$(mib_of $peak)" $kills "$(verdict)" \
        "${WHY:+$WHY; }$n trials: $kills with an OOM kill, $called called back at SOFT; sources: $(grep -h 'events: watching\|events: cannot' $O/events-$name-1.trace | sed 's/^.*events: //; s/ on \/sys[^ ]*//; s/\/sys.*\///' | tr '\n' ';')"
}
case_events() {
    events_trials on "$V2_EVENTS_TRIALS" $V2_ENV_EVENTS
    events_trials off "$V2_EVENTS_OFF_TRIALS" $V2_ENV_EVENTS MEMLIMIT_EVENTS=off
}
# PSI: a holder of 40 MiB (soft 44 MiB, so at MODERATE on its own) with events on;
# a sibling grows past the cgroup's memory.high, where the kernel throttles it: those
# are memory stalls, PSI's "some" and "full" triggers on the cgroup's memory.pressure
# fire, and the holder's callback is called CRITICAL.
case_psi() {
    local out=$O/psi.out tr=$O/psi.trace rc rg
    cg_new psi $V2_PSI_LIMIT_MIB $V2_PSI_HIGH_MIB || return
    rm -f $out $tr
    run_in "$D" env LD_PRELOAD=$LIB $V2_ENV_PSI MEMLIMIT_LOG=$tr "$W/holder" 40 20 > $out 2>&1 &
    local hp=$!
    wait_ready $out || info "holder not ready: $(cat $out)"
    local t1; t1=$(now)
    run_in "$D" "$W/rawgrow" "$D/memory.current" $((V2_PSI_HIGH_MIB << 20)) $V2_PSI_GROW_MIB 3000 > $O/psi-grow.out 2>&1; rg=$?
    local t2; t2=$(now)
    wait $hp; rc=$?
    local stall; stall=$(awk '/^full/ {sub(/total=/, "", $5); printf "%.0f", $5 / 1000}' "$D/memory.pressure")
    local some; some=$(awk '/^some/ {sub(/total=/, "", $5); printf "%.0f", $5 / 1000}' "$D/memory.pressure")
    WHY=""
    check $rc "holder exit $rc"
    grep -q "events: watching PSI 'some [0-9 ]*' on $D/memory.pressure" $tr; check $? "no PSI trigger on $D/memory.pressure"
    grep -q 'events: pressure from PSI' $tr; check $? "no PSI event"
    grep -q 'callback at .* level 3' $out; check $? "no CRITICAL callback"
    result psi with $rc "$(peak_mib "$D")" "$(ooms "$D")" "$(verdict)" \
        "${WHY:+$WHY; }stalls some ${some} ms full ${stall} ms while the grower ran $(awk -v a=$t1 -v b=$t2 'BEGIN {printf "%.1f", b - a}') s (exit $rg); $(grep -c 'events: pressure from PSI' $tr) PSI events; $(grep -m1 'callback at' $out | sed 's/callback at [0-9]* //')"
    [ -z "$WHY" ] || { info_file trace "$tr"; info_file out $out; }
    cg_rm "$D"
}

# ---- 8. /sys/fs/cgroup read-only -------------------------------------------------
# As in a container: the cgroup mount bind-mounted read-only in a mount namespace.
# The library finds the limit and the cache application completes with its
# callback; PSI triggers cannot be written; memory.events can be read.
case_readonly() {
    local out=$O/ro.out tr=$O/ro.trace rc lim=$((V2_CACHE_LIMIT_MIB << 20))
    cg_new ro $V2_CACHE_LIMIT_MIB || return
    rm -f $tr
    run_in "$D" unshare -m sh -c 'mount --bind /sys/fs/cgroup /sys/fs/cgroup &&
        mount -o remount,bind,ro /sys/fs/cgroup && ! touch /sys/fs/cgroup/ml-ro/x 2>/dev/null && exec "$@"' \
        sh env LD_PRELOAD=$LIB $V2_ENV_READONLY MEMLIMIT_LOG=$tr "$W/cacheapp" --callback $V2_CACHE_RECORDS > $out 2>&1; rc=$?
    local soft; soft=$(awk -v l=$V2_CACHE_LIMIT_MIB 'BEGIN {printf "%.1fMiB", l * 0.9}')
    WHY=""
    check $rc "exit $rc"
    grep -q "imported $V2_CACHE_RECORDS of $V2_CACHE_RECORDS records" $out; check $? "incomplete import"
    grep -q "soft $soft (90% of cgroup v2 memory.max" $tr; check $? "start line: $(start_line $tr)"
    grep -q "events: watching PSI" $tr; [ $? -ne 0 ]; check $? "a PSI trigger was set on a read-only mount?"
    grep -q "events: watching .*/memory.events" $tr; check $? "memory.events not watched"
    [ "$(ooms "$D")" -eq 0 ]; check $? "OOM kill"
    result readonly with $rc "$(peak_mib "$D")" "$(ooms "$D")" "$(verdict)" \
        "${WHY:+$WHY; }$(grep -h 'events: ' $tr | sed 's/^.*events: //; s/ on \/sys[^:;]*//' | sort -u | tr '\n' ';')"
    [ -z "$WHY" ] || { info_file trace "$tr"; info_file out $out; }
    cg_rm "$D"
}

# ---- 9. cgroup namespace ---------------------------------------------------------
# tests/v2/nsrun: unshare(CLONE_NEWCGROUP) and exec; with -m it also mounts a fresh
# cgroup2 over /sys/fs/cgroup in a new mount namespace, as a container runtime does.
# ancestor: ml-ns (300 MiB) / child (max). The child's discovery cannot see the
# ancestor's limit once the namespace hides it: what it reports is recorded, and
# the case asserts only a clean run with a start line.
# own: ml-ns (300 MiB) / child (250 MiB). With the remount the own limit must be
# found; without it the mount starts above the namespace ("/../.."), the process's
# cgroup cannot be located, and it must say so rather than read another cgroup's.
ns_one() { # NAME LIMIT(own, or - ) NSRUN-ARGS...
    local name=$1 want=$2 tr=$O/ns-$1.trace sh=$O/ns-$1.show rc rs
    shift 2
    run_in "$D" "$NSRUN" "$@" env LD_PRELOAD=$LIB $V2_ENV_CGROUPNS "$TRUE" 2> $tr; rc=$?
    run_in "$D" "$NSRUN" "$@" "$SHOW" > $sh 2>&1; rs=$?
    WHY=""
    check $rc "exit $rc"
    check $rs "memlimit-show exit $rs"
    [ -n "$(start_line $tr)" ]; check $? "no start line: $(head -3 $tr)"
    if [ "$want" = unlocated ]; then # the mount starts above the namespace: said, no limit
        grep -q "cannot locate this process's cgroup" $tr; check $? "no 'cannot locate' line"
        grep -q "soft none" $tr; check $? "a limit was taken from another cgroup"
    elif [ "$want" != - ]; then
        grep -q "${ML_PFX}soft $(awk -v l=$want 'BEGIN {printf "%.1fMiB", l * 0.9}') (90% of cgroup v2 memory.max ${want}.0MiB" $tr
        check $? "expected the own ${want} MiB limit"
    fi
    result cgroupns-$name with $rc - - "$(verdict)" \
        "${WHY:+$WHY; }start line: $(start_line $tr); show: $(grep '^cgroup:' $sh | tr -s ' ') / $(grep '^effective' $sh | tr -s ' ')"
    [ -z "$WHY" ] || { info_file trace "$tr"; info_file show "$sh"; }
    info "$name: in the namespace /proc/self/cgroup: $(run_in "$D" "$NSRUN" "$@" cat /proc/self/cgroup | tr '\n' ' ')mountinfo: $(run_in "$D" "$NSRUN" "$@" grep cgroup2 /proc/self/mountinfo)"
}
case_cgroupns() {
    cg_new ns 300 && echo +memory > "$D/cgroup.subtree_control" || return
    CG_PARENT=$D
    cg_new child max
    CG_PARENT=""
    [ -d "$D" ] || return
    ns_one ancestor - 
    ns_one ancestor-remount - -m
    echo $((250 << 20)) > "$D/memory.max"
    ns_one own unlocated
    ns_one own-remount 250 -m
    cg_rm "$CG/ml-ns"
}

# ---- main ------------------------------------------------------------------------
ml_main() {
    local mc n
    for mc in $V2_CASES; do
        type "case_$mc" > /dev/null 2>&1 || { CASE=$mc; T0=$(now); result "$mc" - - - - fail "no such case"; continue; }
        eval "n=\${V2_REPS_$mc:-$V2_REPS}"
        REP=1
        while [ $REP -le $n ]; do
            CASE=$mc T0=$(now)
            echo "ML-CASE $mc rep=$REP uptime=$T0"
            "case_$mc"
            REP=$((REP + 1))
        done
    done
}
