# SPDX-License-Identifier: MIT
# A limit that appears after start-up gets the once-per-process changes: with
# MEMLIMIT_THP=never and memlimit_set_limit (the bindings' set_limit) after samples
# with no limit in force, transparent huge pages go off and glibc's arenas are capped
# (they were decided "none, for good" at the first sample: THP stayed on, 9 arenas for
# 8 threads). MEMLIMIT=off keeps a cgroup limit of the machine out of it; the call
# still sets the limit.
. "$ROOT/tests/integration/lib.sh"
out=$(LD_PRELOAD="$LIB" MEMLIMIT=off MEMLIMIT_THP=never "$W/latelimit" 2>&1); rc=$?
echo "$out"
[ $rc -eq 0 ] || fail "exit $rc: $out"
