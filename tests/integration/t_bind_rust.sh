# The Rust binding (bindings/rust): cargo test offline against the built library,
# preloaded and linked (--features link), with the C compiler's struct layout; the
# cache app is killed in a 256 MiB cgroup without its callback and completes with
# it, the pool is killed without memlimit::reached() and completes with it.
. "$ROOT/tests/integration/lib.sh"
CARGO=${CARGO:-$(command -v cargo)}
[ -n "$CARGO" ] || { echo "SKIP: cargo not found (scripts/deps installs Debian's cargo)"; exit 77; }
B=$ROOT/build/bind-rust; mkdir -p "$B"
export CARGO_TARGET_DIR=$B/target
cd "$ROOT/bindings/rust" || fail "no bindings/rust"
echo "$("$CARGO" --version), $(${RUSTC:-rustc} --version 2>/dev/null)"

# struct memlimit_stats as the C compiler lays it out, for the crate's layout test
cat > "$B/layout.c" << 'EOF'
#include <stddef.h>
#include <stdio.h>
#include "memlimit.h"
#define O(f) printf(" " #f " %zu", offsetof(struct memlimit_stats, f))
int main(void) { printf("size %zu", sizeof(struct memlimit_stats)); O(source); O(source_path); O(usage); O(level); O(samples); O(failed_allocs); printf("\n"); return 0; }
EOF
cc -I"$ROOT/src" -o "$B/layout" "$B/layout.c" || fail "cannot build the layout check"
export MEMLIMIT_C_LAYOUT="$("$B/layout")"

# preloaded (tests/preload is the runner; scope process: the limits the tests set are
# this process's own)
MEMLIMIT_PRELOAD="$LIB" MEMLIMIT_SCOPE=process timeout 300 "$CARGO" test --offline > "$B/test.log" 2>&1; rc=$?
grep -E '^test result|^test .*(FAILED|ok)$' "$B/test.log" | grep -v '^test .* ok$'
[ $rc -eq 0 ] || { tail -50 "$B/test.log"; fail "cargo test (preloaded)"; }
grep -q "^test tests::raw_stats_layout_matches_the_header ... ok" "$B/test.log" || fail "the layout test did not run"
grep -q "^test result: ok. 8 passed; 0 failed; 1 ignored" "$B/test.log" || fail "not every API test ran (preloaded)"
# linked
MEMLIMIT_PRELOAD= MEMLIMIT_LIB_DIR="$ROOT/build" MEMLIMIT_SCOPE=process timeout 300 "$CARGO" test --offline --features link > "$B/test-link.log" 2>&1; rc=$?
grep -E '^test result' "$B/test-link.log" | sed 's/^/link: /'
[ $rc -eq 0 ] || { tail -50 "$B/test-link.log"; fail "cargo test --features link"; }
grep -q "^test result: ok. 7 passed; 0 failed" "$B/test-link.log" || fail "not every API test ran (linked)"

timeout 300 "$CARGO" build --offline --release --examples -q > "$B/build.log" 2>&1 || { cat "$B/build.log"; fail "cannot build the examples"; }
EX=$CARGO_TARGET_DIR/release/examples

need_cgroup
LIMIT=$((256 << 20))
new_cgroup rs-cache-plain $LIMIT; plain=$CG_DIR
cg_run "$plain" env LD_PRELOAD="$LIB" "$EX/cacheapp" > "$B/cache-plain.out" 2>/dev/null; rc_plain=$?
new_cgroup rs-cache-cb $LIMIT; cb=$CG_DIR
cg_run "$cb" env LD_PRELOAD="$LIB" "$EX/cacheapp" --callback > "$B/cache-cb.out"; rc_cb=$?
done_plain=$(grep -o '^imported [0-9]*' "$B/cache-plain.out" | tail -1 | grep -o '[0-9]*')
echo "cache app without the callback: exit $rc_plain after importing ${done_plain:-0} of 200000 records, peak $(mib "$(cg_peak "$plain")"), oom_kill $(cg_oom_kills "$plain")"
echo "cache app with the callback:    exit $rc_cb, peak $(mib "$(cg_peak "$cb")") of $(mib $LIMIT), oom_kill $(cg_oom_kills "$cb")"
echo "   $(tail -1 "$B/cache-cb.out")"
[ $rc_plain -eq 137 ] || fail "expected an OOM kill without the callback, got $rc_plain"
[ "$(cg_oom_kills "$plain")" -ge 1 ] || fail "no oom_kill counted without the callback"
[ "${done_plain:-0}" -lt 200000 ] || fail "the plain run imported everything"
[ $rc_cb -eq 0 ] || fail "exit $rc_cb with the callback"
grep -q "imported 200000 of 200000 records" "$B/cache-cb.out" || fail "incomplete import"
rounds=$(tail -1 "$B/cache-cb.out" | sed -E 's/.* in ([0-9]+) callback rounds.*/\1/')
[ "${rounds:-0}" -ge 1 ] 2> /dev/null || fail "no callback round"
[ "$(cg_peak "$cb")" -lt $LIMIT ] || fail "peak reached the limit"
[ "$(cg_oom_kills "$cb")" -eq 0 ] || fail "OOM kill with the callback"

PLIMIT=$((192 << 20)); JOBS=600
new_cgroup rs-pool-plain $PLIMIT; pp=$CG_DIR
cg_run "$pp" env LD_PRELOAD="$LIB" "$EX/pool" $JOBS > "$B/pool-plain.out" 2>/dev/null; rc_pp=$?
new_cgroup rs-pool-check $PLIMIT; pc=$CG_DIR
cg_run "$pc" env LD_PRELOAD="$LIB" "$EX/pool" --check $JOBS > "$B/pool-check.out"; rc_pc=$?
done_pp=$(grep -o '^written [0-9]*' "$B/pool-plain.out" | tail -1 | grep -o '[0-9]*')
echo "pool without the check: exit $rc_pp after writing ${done_pp:-0} of $JOBS results, peak $(mib "$(cg_peak "$pp")"), oom_kill $(cg_oom_kills "$pp")"
echo "pool with the check:    exit $rc_pc, peak $(mib "$(cg_peak "$pc")") of $(mib $PLIMIT), oom_kill $(cg_oom_kills "$pc")"
echo "   $(tail -1 "$B/pool-check.out")"
[ $rc_pp -eq 137 ] || fail "expected an OOM kill of the unchecked pool, got $rc_pp"
[ "${done_pp:-0}" -lt $JOBS ] || fail "the unchecked pool finished"
[ $rc_pc -eq 0 ] || fail "exit $rc_pc with the check"
grep -q "^pool.rs: $JOBS of $JOBS jobs done (0 missing" "$B/pool-check.out" || fail "not every job done exactly once"
deferred=$(tail -1 "$B/pool-check.out" | sed -E 's/.* ([0-9]+) jobs deferred.*/\1/')
[ "${deferred:-0}" -ge 1 ] 2> /dev/null || fail "no job was deferred"
[ "$(cg_peak "$pc")" -lt $PLIMIT ] || fail "pool peak reached the limit"
[ "$(cg_oom_kills "$pc")" -eq 0 ] || fail "OOM kill with the check"
