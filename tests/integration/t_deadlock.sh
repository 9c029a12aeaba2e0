# SPDX-License-Identifier: MIT
# Nothing reached from an allocator's mmap waits, and no flag of ours is held while
# the allocator trims. (1) tcmalloc (TCMALLOC_SKIP_SBRK: heap growth by mmap under its
# page-heap lock) and lockalloc (tests/work/plugin: the same locking shape, every
# growth inside it) under 4 threads growing and shrinking the heap at a hard limit,
# each bounded by timeout (a reviewer saw real tcmalloc hang there 5 of 5 times: a
# trim waited for the page-heap lock while holding our sampling flag, and the page
# heap's mmap waited for the flag; on this machine it did not hang before the fix
# either, in ~20 runs, so this part guards the shape rather than reproducing it). (2) The same threads while our trace lines go to
# a stderr pipe nobody reads: the line that does not fit is dropped, and no thread
# waits for the one that writes (before: 1 of 4 finished).
. "$ROOT/tests/integration/lib.sh"
gcc -shared -fPIC -O2 -o "$ROOT/build/lockalloc.so" "$ROOT/tests/work/plugin/lockalloc.c" -lpthread || fail "build lockalloc"
for a in "tcmalloc:$L/libtcmalloc_minimal.so.4" "lockalloc:$ROOT/build/lockalloc.so"; do
    name=$(alloc_name "$a"); path=$(alloc_path "$a")
    for sizes in "150 256" "40 5120"; do
        out=$(timeout 60 env LD_PRELOAD="$LIB $path" TCMALLOC_SKIP_SBRK=true MEMLIMIT=100MiB MEMLIMIT_HARD=190MiB \
            "$W/edges" tcdeadlock 4 $sizes 2>&1); rc=$?
        echo "$name: $(echo "$out" | grep -v "^${ML}hard limit" | tail -1)"
        [ $rc -eq 0 ] || fail "$name: exit $rc (124: a deadlock): $(echo "$out" | tail -3)"
    done
done
F=$ROOT/build/deadlock.fifo; rm -f "$F"; mkfifo "$F"
for a in glibc "jemalloc:$L/libjemalloc.so.2" "tcmalloc:$L/libtcmalloc_minimal.so.4"; do
    name=$(alloc_name "$a"); path=$(alloc_path "$a")
    sleep 150 < "$F" & reader=$! # holds the pipe open, never reads
    out=$(timeout 90 env LD_PRELOAD="$LIB $path" TCMALLOC_SKIP_SBRK=true MEMLIMIT=60MiB MEMLIMIT_HARD=100MiB \
        MEMLIMIT_TRACE=2 MEMLIMIT_TRACE_INTERVAL=1 "$W/edges" stall 50 2> "$F"); rc=$?
    kill $reader 2> /dev/null; wait $reader 2> /dev/null
    echo "$name: $out"
    [ $rc -eq 0 ] || fail "$name: exit $rc: $out"
done
rm -f "$F"
