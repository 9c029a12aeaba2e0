# SPDX-License-Identifier: MIT
# musl: make MUSL=1 builds the library with musl-gcc (build-musl/); a program linked
# with musl, started by musl's own loader (/lib/ld-musl-*.so.1), runs with it in a
# memory cgroup: allocations are counted (samples), the soft limit comes from the
# cgroup, the hard limit refuses with NULL instead of an OOM kill, and what musl
# cannot do is said once in the trace (no malloc_trim: no trim is faked) or, for
# heap profiles without a musl libunwind, said and skipped.
. "$ROOT/tests/integration/lib.sh"
ldmusl=$(ls /lib/ld-musl-*.so.1 2> /dev/null | head -n 1)
if ! command -v musl-gcc > /dev/null || [ -z "$ldmusl" ]; then
    echo "SKIP: musl-tools and musl are not installed (apt-get install musl-tools musl; make deps does)"
    exit 77
fi
need_cgroup
T=$ROOT/build/musl; rm -rf "$T"; mkdir -p "$T"
make -s -C "$ROOT" MUSL=1 > "$T/make.log" 2>&1 || { tail -n 20 "$T/make.log"; fail "make MUSL=1"; }
MLIB=$ROOT/build-musl/libmemlimit.so
readelf -d "$MLIB" | grep -q 'NEEDED.*\[libc\.so\]' || fail "build-musl/libmemlimit.so does not need musl's libc.so: $(readelf -d "$MLIB" | grep NEEDED)"
musl-gcc -std=gnu11 -O2 -Wall -Wextra -Werror -I"$ROOT/src" -o "$T/work" "$ROOT/tests/work/musl/musl_work.c" || fail "musl-gcc"
interp=$(readelf -l "$T/work" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
[ "$interp" = "$ldmusl" ] || fail "the workload's loader is '$interp', not $ldmusl"
echo "library: $MLIB (needs libc.so, musl); workload: loader $interp"

# without the library the weak API says so
[ "$("$T/work")" = "library not loaded" ] || fail "without the preload the workload saw the library"

# 1. the soft limit from the cgroup, allocations counted, no trim
LIMIT=$((64 << 20))
new_cgroup musl $LIMIT; d=$CG_DIR
out=$(cg_run "$d" env LD_PRELOAD="$MLIB" MEMLIMIT_TRACE=1 "$T/work" 2> "$T/trace1"); rc=$?
echo "default: exit $rc: $out"
sed 's/^/  trace: /' "$T/trace1"
[ $rc = 0 ] || fail "exit $rc"
grep -q "^${ML}soft 57.6MiB (90% of cgroup v$CG_VERSION memory.*64.0MiB.*allocator musl$" "$T/trace1" ||
    fail "no start-up line with the cgroup's limit and allocator musl"
v=$(cat "$ROOT/VERSION")
case $out in "version=$v soft=60397977 detected=67108864 "*) ;; *) fail "stats: $out" ;; esac
samples=$(echo "$out" | sed -n 's/.* samples=\([0-9]*\).*/\1/p')
[ "${samples:-0}" -gt 0 ] || fail "no sample taken: allocations were not counted ($out)"
echo "$out" | grep -q ' trims=0 ' || fail "a trim was counted under musl: $out"

# 2. the hard limit: malloc returns NULL, no OOM kill; musl's missing malloc_trim said once
new_cgroup musl-hard $LIMIT; d=$CG_DIR
out=$(cg_run "$d" env LD_PRELOAD="$MLIB" MEMLIMIT_TRACE=1 MEMLIMIT_HARD=48MiB "$T/work" hard 2> "$T/trace2"); rc=$?
echo "MEMLIMIT_HARD=48MiB: exit $rc, peak $(mib "$(cg_peak "$d")"), oom_kill $(cg_oom_kills "$d"): $out"
grep -v 'refused' "$T/trace2" | sed 's/^/  trace: /'
grep 'refused' "$T/trace2" | head -n 2 | sed 's/^/  trace: /'
[ $rc = 0 ] || fail "exit $rc (137: killed)"
[ "$(cg_oom_kills "$d")" = 0 ] || fail "OOM kill under the hard limit"
refused=$(echo "$out" | sed -n 's/.* refused=\([0-9]*\).*/\1/p')
[ "${refused:-0}" -gt 0 ] || fail "nothing refused: $out"
grep -q "${ML}hard limit 48.0MiB: refused" "$T/trace2" || fail "no refusal line"
n=$(grep -c "no trim: allocator musl has no call to give freed memory back (no malloc_trim)" "$T/trace2")
[ "$n" = 1 ] || fail "the missing malloc_trim said $n times, not once"
echo "$out" | grep -q ' trims=0 ' || fail "a trim was counted under musl: $out"

# 3. a heap profile: stacks need libunwind, which a glibc system's libunwind8 is not
out=$(env LD_PRELOAD="$MLIB" MEMLIMIT_PROFILE="$T/prof" MEMLIMIT_TRACE=1 "$T/work" 2>&1); rc=$?
[ $rc = 0 ] || fail "with MEMLIMIT_PROFILE: exit $rc: $out"
if echo "$out" | grep -q "MEMLIMIT_PROFILE: cannot profile (libunwind.so.8 not found); no heap profile"; then
    echo "MEMLIMIT_PROFILE: said and skipped (no musl libunwind here)"
elif [ -f "$T/prof.exit" ]; then
    echo "MEMLIMIT_PROFILE: a musl libunwind was found; profile written"
else
    fail "MEMLIMIT_PROFILE: neither a profile nor the line that says why: $out"
fi
