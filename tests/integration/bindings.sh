# SPDX-License-Identifier: MIT
# The two examples every binding has, run the same way (sourced by t_bind_*.sh after
# lib.sh; B is the test's build directory).

# run_pair TAG NAME LIMIT FLAG TAIL CMD...: "CMD TAIL" and "CMD FLAG TAIL" preloaded,
# each in a new cgroup of LIMIT bytes; sets PLAIN_DIR PLAIN_RC and FLAG_DIR FLAG_RC,
# output in $B/NAME-plain.out and $B/NAME-flag.out (TAIL may be empty)
run_pair() {
    local tag=$1 name=$2 limit=$3 flag=$4 tail=$5
    shift 5
    new_cgroup "$tag-$name-plain" $limit; PLAIN_DIR=$CG_DIR
    cg_run "$PLAIN_DIR" env LD_PRELOAD="$LIB" "$@" $tail > "$B/$name-plain.out" 2> /dev/null; PLAIN_RC=$?
    new_cgroup "$tag-$name-flag" $limit; FLAG_DIR=$CG_DIR
    cg_run "$FLAG_DIR" env LD_PRELOAD="$LIB" "$@" $flag $tail > "$B/$name-flag.out"; FLAG_RC=$?
}

# bind_cacheapp TAG CMD...: CMD alone is OOM-killed in a 256 MiB cgroup before it
# imports its 200000 records; CMD --callback imports them all, below the limit.
bind_cacheapp() {
    local tag=$1 limit=$((256 << 20)) plain cb rc_plain rc_cb done_plain rounds
    shift
    run_pair "$tag" cache $limit --callback "" "$@"
    plain=$PLAIN_DIR rc_plain=$PLAIN_RC cb=$FLAG_DIR rc_cb=$FLAG_RC
    done_plain=$(grep -o '^imported [0-9]*' "$B/cache-plain.out" | tail -1 | grep -o '[0-9]*')
    echo "cache app without the callback: exit $rc_plain after importing ${done_plain:-0} of 200000 records, peak $(mib "$(cg_peak "$plain")"), oom_kill $(cg_oom_kills "$plain")"
    echo "cache app with the callback:    exit $rc_cb, peak $(mib "$(cg_peak "$cb")") of $(mib $limit), oom_kill $(cg_oom_kills "$cb")"
    echo "   $(tail -1 "$B/cache-flag.out")"
    [ $rc_plain -eq 137 ] || fail "expected an OOM kill without the callback, got $rc_plain"
    [ "$(cg_oom_kills "$plain")" -ge 1 ] || fail "no oom_kill counted without the callback"
    [ "${done_plain:-0}" -lt 200000 ] || fail "the plain run imported everything"
    [ $rc_cb -eq 0 ] || fail "exit $rc_cb with the callback"
    grep -q "imported 200000 of 200000 records" "$B/cache-flag.out" || fail "incomplete import"
    rounds=$(tail -1 "$B/cache-flag.out" | sed -E 's/.* in ([0-9]+) callback rounds.*/\1/')
    [ "${rounds:-0}" -ge 1 ] 2> /dev/null || fail "no callback round"
    [ "$(cg_peak "$cb")" -lt $limit ] || fail "peak reached the limit"
    [ "$(cg_oom_kills "$cb")" -eq 0 ] || fail "OOM kill with the callback"
}

# bind_pool TAG NAME CMD...: the pool of 600 jobs is OOM-killed in a 192 MiB cgroup;
# with --check (memlimit's reached()) every job is done once, some deferred, no kill.
# NAME is how the pool signs its last line ("pool.py").
bind_pool() {
    local tag=$1 name=$2 limit=$((192 << 20)) jobs=600 pp pc rc_pp rc_pc done_pp deferred
    shift 2
    run_pair "$tag" pool $limit --check $jobs "$@"
    pp=$PLAIN_DIR rc_pp=$PLAIN_RC pc=$FLAG_DIR rc_pc=$FLAG_RC
    done_pp=$(grep -o '^written [0-9]*' "$B/pool-plain.out" | tail -1 | grep -o '[0-9]*')
    echo "pool without the check: exit $rc_pp after writing ${done_pp:-0} of $jobs results, peak $(mib "$(cg_peak "$pp")"), oom_kill $(cg_oom_kills "$pp")"
    echo "pool with the check:    exit $rc_pc, peak $(mib "$(cg_peak "$pc")") of $(mib $limit), oom_kill $(cg_oom_kills "$pc")"
    echo "   $(tail -1 "$B/pool-flag.out")"
    [ $rc_pp -eq 137 ] || fail "expected an OOM kill of the unchecked pool, got $rc_pp"
    [ "${done_pp:-0}" -lt $jobs ] || fail "the unchecked pool finished"
    [ $rc_pc -eq 0 ] || fail "exit $rc_pc with the check"
    grep -q "^$name: $jobs of $jobs jobs done (0 missing" "$B/pool-flag.out" || fail "not every job done exactly once"
    deferred=$(tail -1 "$B/pool-flag.out" | sed -E 's/.* ([0-9]+) jobs deferred.*/\1/')
    [ "${deferred:-0}" -ge 1 ] 2> /dev/null || fail "no job was deferred"
    [ "$(cg_peak "$pc")" -lt $limit ] || fail "pool peak reached the limit"
    [ "$(cg_oom_kills "$pc")" -eq 0 ] || fail "OOM kill with the check"
}
