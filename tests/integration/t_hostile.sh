# SPDX-License-Identifier: MIT
# Hostile environments: the host program runs to completion, its data intact, and
# the library says what it cannot do in one line. tests/work/hostile churns 640 MiB
# through malloc past a 16 MiB soft limit after making things bad. Expected:
# - environment strings overwritten (process titles): the log still goes to MEMLIMIT_LOG
# - at a hard limit, private anonymous mmap refused; shared anonymous, PROT_NONE not
# - EMFILE, and a seccomp filter denying open/openat: "cannot read /proc/self/statm"
#   once, no trims, exit 0 (the line goes to stderr when the log cannot be opened)
# - no /proc: the same line; no /sys/fs/cgroup: no cgroup limit, the program runs
# - the cgroup removed under the process (moved, old one deleted) and the cgroup
#   mount hidden mid-run: one line each, the limit of the new cgroup is followed;
#   its usage and limit files made unreadable (EACCES, not root): one line, the limit
#   still read from memory.stat's hierarchical_memory_limit
# - secure execution (setuid): path settings ignored (no log, metrics or profile
#   file), numeric ones kept
# - static binaries: untouched; dlopen instead of LD_PRELOAD: API and callback
#   thread work, dlclose is safe; ASan programs: see the README's limitations
. "$ROOT/tests/integration/lib.sh"
need_cgroup
H=$W/hostile T=$ROOT/build/hostile
rm -rf "$T"; mkdir -p "$T"; chmod 0755 "$T"
run() { # NAME ENV... -- runs hostile with the library, stdout/stderr in $T/NAME.*
    local n=$1; shift
    env LD_PRELOAD="$LIB" MEMLIMIT=16MiB MEMLIMIT_TRACE=1 MEMLIMIT_LOG="$T/$n.log" "$@" > "$T/$n.out" 2> "$T/$n.err"
}
lines() { cat "$T/$1.log" "$T/$1.err" 2> /dev/null | grep -c "$2"; }

# ---- process titles write over the environment
run clobber "$H" envclobber || fail "envclobber: exit $?: $(cat "$T/clobber.err")"
[ "$(lines clobber 'trim #')" -ge 1 ] && ! grep -q memlimit "$T/clobber.err" ||
    fail "after the environment was overwritten the log went astray: $(cat "$T/clobber.err")"
echo "environment overwritten: $(grep -c 'trim #' "$T/clobber.log") trims logged to MEMLIMIT_LOG, stderr clean"

# ---- what counts at a hard limit
run maps MEMLIMIT_HARD=64MiB "$H" maps 64 || fail "maps: $(cat "$T/maps.out" "$T/maps.err")"
echo "hard limit 64 MiB: $(head -3 "$T/maps.out" | tr '\n' ';' | sed 's/;$//')"

# ---- descriptors exhausted; open denied by seccomp
for c in emfile:'Too many open files' seccomp:'Operation not permitted'; do
    n=${c%%:*} why=${c#*:}
    run "$n" "$H" "$n" || fail "$n: exit $?: $(cat "$T/$n.err")"
    grep -q '^ok$' "$T/$n.out" || fail "$n: $(cat "$T/$n.out")"
    [ "$(lines "$n" "cannot read /proc/self/statm: $why")" = 1 ] ||
        fail "$n: expected one 'cannot read' line: $(cat "$T/$n.log" "$T/$n.err" 2> /dev/null)"
done
echo "EMFILE and seccomp-denied open: exit 0, data intact, one 'cannot read /proc/self/statm' line each"

# ---- no /proc, no /sys/fs/cgroup (private mount namespaces)
command -v unshare > /dev/null || fail "unshare missing (util-linux)"
unshare -m sh -c 'mount -t tmpfs none /proc && exec "$@"' sh env LD_PRELOAD="$LIB" MEMLIMIT=16MiB \
    MEMLIMIT_HARD=32MiB MEMLIMIT_LOG="$T/noproc.log" "$H" churn > "$T/noproc.out" 2>&1 ||
    fail "without /proc: exit $?: $(cat "$T/noproc.out" "$T/noproc.log")"
[ "$(grep -c 'cannot read /proc/self/statm: No such file' "$T/noproc.log")" = 1 ] ||
    fail "without /proc: $(cat "$T/noproc.log")"
unshare -m sh -c 'mount -t tmpfs none /sys/fs/cgroup && exec "$@"' sh env LD_PRELOAD="$LIB" \
    MEMLIMIT_TRACE=1 MEMLIMIT_LOG="$T/nocg.log" "$H" churn > "$T/nocg.out" 2>&1 || fail "without /sys/fs/cgroup: $(cat "$T/nocg.out")"
grep -q 'soft none (no cgroup memory limit' "$T/nocg.log" || fail "without /sys/fs/cgroup: $(cat "$T/nocg.log")"
echo "no /proc: runs, one line; no /sys/fs/cgroup: runs, no limit ('soft none')"

# ---- the cgroup vanishes (process moved, old cgroup removed), then the mount is hidden
new_cgroup hostile-a $((256 << 20)); A=$CG_DIR
new_cgroup hostile-b $((128 << 20)); B=$CG_DIR
cg_run "$A" unshare -m env LD_PRELOAD="$LIB" MEMLIMIT_SCOPE=cgroup MEMLIMIT_EVENTS=on MEMLIMIT_TRACE=1 \
    MEMLIMIT_LOG="$T/vanish.log" "$W/holder" 20 60 > "$T/vanish.out" 2>&1 & hp=$!
wait_for "$T/vanish.out" ready || fail "holder did not start: $(cat "$T/vanish.out")"
pid=$(cat "$A/cgroup.procs" | head -1)
[ -n "$pid" ] || fail "holder not in its cgroup: $(cat "$T/vanish.out")"
echo "$pid" > "$B/cgroup.procs" && rmdir "$A" || fail "cannot move the holder and remove its cgroup"
wait_for "$T/vanish.log" 'limit changed' || fail "the move was not seen: $(cat "$T/vanish.log")"
grep -q 'limit changed: 128.0MiB' "$T/vanish.log" || fail "the new cgroup's limit was not followed: $(cat "$T/vanish.log")"
# hide the cgroup mount in the holder's own mount namespace: every read fails now
nsenter -t "$pid" -m mount -t tmpfs none /sys/fs/cgroup/memory || fail "cannot hide the cgroup mount"
wait_for "$T/vanish.log" "cannot read the cgroup's usage" || fail "hidden mount not said: $(cat "$T/vanish.log")"
# alive through every step (it would have said so otherwise), then ended: SIGTERM, 143
kill -TERM "$pid"; wait $hp; rc=$?
[ $rc = 143 ] || fail "holder exit $rc: $(cat "$T/vanish.out" "$T/vanish.log")"
[ "$(grep -c "cannot read the cgroup's usage" "$T/vanish.log")" = 1 ] || fail "hidden cgroup mount: $(cat "$T/vanish.log")"
echo "cgroup removed under the process: followed to the new one (128 MiB); mount hidden: one line, alive until ended"

# ---- cgroup files that turn unreadable (EACCES) for a process that is not root
new_cgroup hostile-c $((200 << 20)); C=$CG_DIR
touch "$T/perm.log" && chmod 0666 "$T/perm.log"
cg_run "$C" setpriv --reuid=nobody --regid=nogroup --clear-groups env LD_PRELOAD="$LIB" MEMLIMIT_SCOPE=cgroup \
    MEMLIMIT_EVENTS=on MEMLIMIT_TRACE=1 MEMLIMIT_LOG="$T/perm.log" "$W/holder" 20 60 > "$T/perm.out" 2>&1 & hp=$!
wait_for "$T/perm.out" ready || fail "holder did not start: $(cat "$T/perm.out")"
chmod 000 "$C/memory.limit_in_bytes" "$C/memory.usage_in_bytes" || fail "cannot chmod the cgroup files"
wait_for "$T/perm.log" "cannot read the cgroup's usage" || fail "unreadable files not said: $(cat "$T/perm.log")"
end_holder "$T/perm.out"; wait $hp; rc=$?
chmod 0644 "$C/memory.limit_in_bytes" "$C/memory.usage_in_bytes"
[ $rc = 143 ] || fail "unreadable cgroup files: holder exit $rc: $(cat "$T/perm.out" "$T/perm.log")"
# the limit stays known: v1's memory.stat (still readable) has hierarchical_memory_limit
[ "$(grep -c "cannot read the cgroup's usage: Permission denied" "$T/perm.log")" = 1 ] &&
    ! grep -q 'limit changed' "$T/perm.log" || fail "unreadable cgroup files: $(cat "$T/perm.log")"
echo "cgroup files unreadable mid-run (not root): one 'cannot read' line; the limit stays known through memory.stat; exit 0"

# ---- secure execution: a setuid program linked with the library
gcc -O1 -I"$ROOT/src" -o "$T/suid" "$ROOT/tests/work/hostile.c" -L"$ROOT/build" -lmemlimit \
    -Wl,-rpath,"$ROOT/build" || fail "cannot build the setuid program"
chown nobody "$T/suid" && chmod 4755 "$T/suid" || fail "cannot make it setuid"
rm -rf /tmp/memlimit-suid; mkdir -m 1777 /tmp/memlimit-suid
S=/tmp/memlimit-suid
MEMLIMIT=16MiB MEMLIMIT_TRACE=1 MEMLIMIT_LOG=$S/log MEMLIMIT_METRICS=$S/metrics MEMLIMIT_PROFILE=$S/prof \
    "$T/suid" churn > "$T/suid.out" 2> "$T/suid.err" || fail "setuid: exit $?: $(cat "$T/suid.err")"
[ -z "$(ls -A "$S")" ] || fail "setuid: the library wrote files from the environment's paths: $(ls "$S")"
grep -q 'soft 16.0MiB (MEMLIMIT)' "$T/suid.err" || fail "setuid: MEMLIMIT not honoured: $(cat "$T/suid.err")"
rm -rf "$S"
echo "setuid: MEMLIMIT_LOG, MEMLIMIT_METRICS, MEMLIMIT_PROFILE ignored (lines on stderr), MEMLIMIT kept"

# ---- static binaries are left alone
printf '#include <stdio.h>\n#include <stdlib.h>\nint main(void){char*p=malloc(100);puts(p?"static ok":"no");free(p);return 0;}\n' > "$T/static.c"
gcc -static -O1 -o "$T/static" "$T/static.c" || fail "cannot build a static program"
out=$(LD_PRELOAD="$LIB" MEMLIMIT_TRACE=1 "$T/static" 2>&1)
[ "$out" = "static ok" ] || fail "static binary: '$out'"
echo "static binary: untouched ('$out', no line of ours)"

# ---- Go: without cgo a static binary; with cgo the C side is ours, the Go heap is not
command -v go > /dev/null || fail "go not installed (scripts/deps installs golang-go)"
export GOCACHE=$T/gocache GOPATH=$T/gopath GOFLAGS=-mod=mod GO111MODULE=off HOME=$T
CGO_ENABLED=0 go build -o "$T/gopure" "$ROOT/tests/work/go/pure.go" || fail "cannot build the pure Go program"
CGO_ENABLED=1 go build -o "$T/gocgo" "$ROOT/tests/work/go/cgo.go" || fail "cannot build the cgo program"
want=$("$T/gopure"); out=$(LD_PRELOAD="$LIB" MEMLIMIT_TRACE=1 "$T/gopure" 2>&1)
[ "$out" = "$want" ] || fail "pure Go under the preload: '$out', want '$want'"
want=$("$T/gocgo"); out=$(LD_PRELOAD="$LIB" MEMLIMIT=16MiB MEMLIMIT_TRACE=1 MEMLIMIT_LOG="$T/go.log" "$T/gocgo")
[ "$out" = "$want" ] || fail "cgo under the library: '$out', want '$want'"
n=$(grep -c 'trim #' "$T/go.log")
[ "$n" -ge 1 ] || fail "cgo: the C side's allocations were not seen: $(cat "$T/go.log")"
echo "Go: static (no cgo) untouched; cgo: same output, $n trims from the C side's allocations"

# ---- dlopen instead of LD_PRELOAD
MEMLIMIT_LOG="$T/dl.log" "$H" dlopen "$LIB" > "$T/dl.out" 2>&1 || fail "dlopen: exit $?: $(cat "$T/dl.out")"
echo "dlopen: $(grep callback "$T/dl.out"); dlclose with the thread running: exit 0"

# ---- ASan programs (gcc's shared runtime; clang's static one)
printf '#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\nint main(void){size_t t=0;for(int i=0;i<2000;i++){char*p=malloc(65536);memset(p,i,65536);t+=(unsigned char)p[100];free(p);}printf("%%zu\\n",t);return 0;}\n' > "$T/asan.c"
gcc -fsanitize=address -g -o "$T/asan-gcc" "$T/asan.c" || fail "cannot build with gcc ASan"
want=$("$T/asan-gcc")
LD_PRELOAD="$LIB" "$T/asan-gcc" > "$T/asan1.out" 2>&1 && fail "gcc ASan accepted a preload before its runtime?"
grep -q 'ASan runtime does not come first' "$T/asan1.out" || fail "gcc ASan: $(cat "$T/asan1.out")"
out=$(ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD="$LIB" MEMLIMIT=16MiB "$T/asan-gcc" 2> "$T/asan2.err")
[ "$out" = "$want" ] && ! grep -q 'ERROR: AddressSanitizer' "$T/asan2.err" || fail "gcc ASan with verify_asan_link_order=0: $out $(cat "$T/asan2.err")"
echo "gcc ASan: refuses the preload itself (its own check); with verify_asan_link_order=0 it runs clean"
if command -v clang > /dev/null; then
    clang -fsanitize=address -g -o "$T/asan-clang" "$T/asan.c" || fail "cannot build with clang ASan"
    out=$(LD_PRELOAD="$LIB" MEMLIMIT=16MiB "$T/asan-clang" 2> "$T/asan3.err")
    [ "$out" = "$want" ] && ! grep -q 'ERROR: AddressSanitizer' "$T/asan3.err" || fail "clang ASan: $out $(cat "$T/asan3.err")"
    echo "clang ASan (runtime in the executable, its malloc wins): runs clean, the library only watches"
fi
echo PASS
