# The Go binding (bindings/go): go vet and go test with Debian's Go and no outside
# modules, against the built library preloaded (the direct read of the level, and
# cgo calls only with -tags memlimit_cgocall) and linked (-tags memlimit_link); the
# cache app is killed in a 256 MiB cgroup without its callback and completes with
# it, the pool is killed without memlimit.Reached() and completes with it.
#
# Both examples run with MEMLIMIT=80%: Go's garbage is made at GB/s and freed only by
# collections, so, as for the C README example, the default 10% of headroom is less
# than the heap grows while a round runs (with it the cache app completed, peaking
# at up to 248 of 256 MiB).
. "$ROOT/tests/integration/lib.sh"
GO=${GO:-$(command -v go)}
[ -n "$GO" ] || { echo "SKIP: go not found (scripts/deps installs golang-go)"; exit 77; }
B=$ROOT/build/bind-go; mkdir -p "$B/bin"
# nothing outside the repository and build/: no module downloads, no $HOME caches
export GOCACHE=$B/cache GOPATH=$B/gopath GOPROXY=off GOFLAGS= GO111MODULE=on CGO_ENABLED=1 GOTOOLCHAIN=local
cd "$ROOT/bindings/go" || fail "no bindings/go"
"$GO" version
"$GO" vet ./... || fail "go vet"
[ -z "$(gofmt -l .)" ] || fail "gofmt: $(gofmt -l . | tr '\n' ' ')"

gotest() { # name, go test arguments...
    n=$1; shift
    MEMLIMIT_SCOPE=process timeout 300 "$GO" test -count=1 -v "$@" . > "$B/test-$n.log" 2>&1; rc=$?
    echo "go test ($n): $(grep -c '^--- PASS' "$B/test-$n.log") passed, $(grep -c '^--- SKIP' "$B/test-$n.log") skipped, $(grep -c '^--- FAIL' "$B/test-$n.log") failed; $(grep -o 'fast path: .*' "$B/test-$n.log")"
    [ $rc -eq 0 ] || { tail -40 "$B/test-$n.log"; fail "go test ($n)"; }
}
# TestMain preloads $MEMLIMIT_PRELOAD
MEMLIMIT_PRELOAD=$LIB gotest preloaded
grep -q "fast path: direct load" "$B/test-preloaded.log" || fail "Reached() does not read the level directly"
[ "$(grep -c '^--- PASS' "$B/test-preloaded.log")" -ge 10 ] || fail "tests missing (preloaded)"
MEMLIMIT_PRELOAD=$LIB gotest cgocall -tags memlimit_cgocall
grep -q "fast path: cgo call" "$B/test-cgocall.log" || fail "-tags memlimit_cgocall still reads directly"
CGO_LDFLAGS="-L$ROOT/build -Wl,-rpath,$ROOT/build" MEMLIMIT_PRELOAD= gotest linked -tags memlimit_link
[ "$(grep -c '^--- PASS' "$B/test-linked.log")" -ge 9 ] || fail "tests missing (linked)"

"$GO" build -o "$B/bin/" ./examples/... || fail "cannot build the examples"
EX=$B/bin

need_cgroup
LIMIT=$((256 << 20))
new_cgroup go-cache-plain $LIMIT; plain=$CG_DIR
cg_run "$plain" env LD_PRELOAD="$LIB" MEMLIMIT=80% "$EX/cacheapp" > "$B/cache-plain.out" 2>/dev/null; rc_plain=$?
new_cgroup go-cache-cb $LIMIT; cb=$CG_DIR
cg_run "$cb" env LD_PRELOAD="$LIB" MEMLIMIT=80% "$EX/cacheapp" --callback > "$B/cache-cb.out"; rc_cb=$?
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
new_cgroup go-pool-plain $PLIMIT; pp=$CG_DIR
cg_run "$pp" env LD_PRELOAD="$LIB" MEMLIMIT=80% "$EX/pool" $JOBS > "$B/pool-plain.out" 2>/dev/null; rc_pp=$?
new_cgroup go-pool-check $PLIMIT; pc=$CG_DIR
cg_run "$pc" env LD_PRELOAD="$LIB" MEMLIMIT=80% "$EX/pool" --check $JOBS > "$B/pool-check.out"; rc_pc=$?
done_pp=$(grep -o '^written [0-9]*' "$B/pool-plain.out" | tail -1 | grep -o '[0-9]*')
echo "pool without the check: exit $rc_pp after writing ${done_pp:-0} of $JOBS results, peak $(mib "$(cg_peak "$pp")"), oom_kill $(cg_oom_kills "$pp")"
echo "pool with the check:    exit $rc_pc, peak $(mib "$(cg_peak "$pc")") of $(mib $PLIMIT), oom_kill $(cg_oom_kills "$pc")"
echo "   $(tail -1 "$B/pool-check.out")"
[ $rc_pp -eq 137 ] || fail "expected an OOM kill of the unchecked pool, got $rc_pp"
[ "${done_pp:-0}" -lt $JOBS ] || fail "the unchecked pool finished"
[ $rc_pc -eq 0 ] || fail "exit $rc_pc with the check"
grep -q "^pool.go: $JOBS of $JOBS jobs done (0 missing" "$B/pool-check.out" || fail "not every job done exactly once"
deferred=$(tail -1 "$B/pool-check.out" | sed -E 's/.* ([0-9]+) jobs deferred.*/\1/')
[ "${deferred:-0}" -ge 1 ] 2> /dev/null || fail "no job was deferred"
[ "$(cg_peak "$pc")" -lt $PLIMIT ] || fail "pool peak reached the limit"
[ "$(cg_oom_kills "$pc")" -eq 0 ] || fail "OOM kill with the check"
