# SPDX-License-Identifier: MIT
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
. "$ROOT/tests/integration/bindings.sh"
bind_cacheapp go env MEMLIMIT=80% "$EX/cacheapp"
bind_pool go pool.go env MEMLIMIT=80% "$EX/pool"
