# SPDX-License-Identifier: MIT
# Every heap profile writer at once (item: the writer shared a static buffer and
# descriptor outside its lock): tests/work/profdump has 3 threads calling
# memlimit_profile_dump in a loop, SIGUSR2 (MEMLIMIT_PROFILE_SIGNAL) sent to them
# every 300 us, the memlimit thread's .soft dump, and the program's own files opened
# and closed all the while. Every dump must be well-formed (the workload parses each
# one; google-pprof reads a few), the program's files hold only its text, no
# temporary is left, and the exit profile follows.
. "$ROOT/tests/integration/lib.sh"
W=$ROOT/build/work
command -v google-pprof > /dev/null || fail "google-pprof not installed (scripts/deps installs google-perftools)"
P=$ROOT/build/profrace; rm -rf "$P"; mkdir -p "$P"

MEMLIMIT=48MiB MEMLIMIT_PROFILE="$P/sig" MEMLIMIT_PROFILE_SIGNAL=SIGUSR2 MEMLIMIT_PROFILE_RATE=8KiB \
    MEMLIMIT_LOG="$P/log" LD_PRELOAD="$LIB" timeout 120 "$W/profdump" "$P" 60 3 > "$P/out" 2>&1
rc=$?
cat "$P/out" | tail -12
[ $rc = 0 ] || fail "profdump exit $rc"
grep -q 'cannot write the heap profile' "$P/log" && fail "the library failed a write: $(grep 'cannot write' "$P/log" | head -3)"
for f in "$P/d0.0" "$P/d1.30" "$P/d2.59" "$P/sig.exit" "$P/sig.signal" "$P/sig.soft"; do
    [ -s "$f" ] || fail "$f was not written: $(ls "$P" | head)"
    google-pprof --text "$W/profdump" "$f" > "$P/pprof.txt" 2> "$P/pprof.err" ||
        fail "google-pprof could not read $f: $(head -3 "$P/pprof.err")"
done
ls -A "$P" | grep -q '^\.' && fail "temporaries left: $(ls -A "$P" | grep '^\.')"
echo PASS
