# SPDX-License-Identifier: MIT
# Forks in odd places. A vfork child that allocates (its parent's memory, its
# parent's thread-local state) must not act there: before, it could start the
# memlimit thread, which died with the child while the parent believed it ran, so the
# parent's callbacks were never called. fork() from a signal handler that interrupted
# memlimit_register must not deadlock on the callback table (bounded by timeout). And
# with MEMLIMIT_PROFILE naming no %p, a fork child writes its own files (PATH.PID.exit)
# instead of overwriting its parent's.
. "$ROOT/tests/integration/lib.sh"
for a in glibc "jemalloc:$L/libjemalloc.so.2"; do
    name=$(alloc_name "$a"); path=$(alloc_path "$a")
    out=$(timeout 60 env LD_PRELOAD="$LIB $path" MEMLIMIT=32MiB MEMLIMIT_EVENTS=on "$W/edges" vfork 2>&1); rc=$?
    echo "$name: $out"
    [ $rc -eq 0 ] || fail "$name vfork: exit $rc: $out"
    out=$(timeout 60 env LD_PRELOAD="$LIB $path" "$W/edges" forksig 3 2>&1); rc=$?
    echo "$name: $out"
    [ $rc -eq 0 ] || fail "$name forksig: exit $rc (124: a deadlock): $out"
done
P=$ROOT/build/forks-prof; rm -rf "$P"; mkdir -p "$P"
timeout 60 env LD_PRELOAD="$LIB" MEMLIMIT_PROFILE="$P/heap" "$W/edges" forkexit || fail "profile: exit $?"
files=$(cd "$P" && ls)
echo "profile without %p, a process and its fork child: $(echo $files)"
[ -f "$P/heap.exit" ] || fail "the parent's profile is missing: $files"
[ "$(ls "$P" | grep -cE '^heap\.[0-9]+\.exit$')" -ge 1 ] || fail "no fork child wrote its own file: $files"
