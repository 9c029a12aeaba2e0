# SPDX-License-Identifier: MIT
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

unset MEMLIMIT_C_LAYOUT # the tests' only: the library would call it an unknown variable
need_cgroup
. "$ROOT/tests/integration/bindings.sh"
bind_cacheapp rust "$EX/cacheapp"
bind_pool rust pool.rs "$EX/pool"
