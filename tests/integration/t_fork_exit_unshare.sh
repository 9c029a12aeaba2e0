# SPDX-License-Identifier: MIT
# fork from a multi-threaded program, exit while threads allocate, and
# unshare -U -r (which refuses a multi-threaded process) under the library with a
# limit that forces trimming.
. "$ROOT/tests/integration/lib.sh"
for a in glibc "jemalloc:$L/libjemalloc.so.2"; do
    name=$(alloc_name "$a"); path=$(alloc_path "$a")
    out=$(LD_PRELOAD="$LIB $path" MEMLIMIT=8MiB "$W/forkexit" fork 200) || fail "$name fork: $out"
    echo "$name: $out"
    for i in $(seq 30); do
        LD_PRELOAD="$LIB $path" MEMLIMIT=8MiB "$W/forkexit" exit || fail "$name: exit race, run $i: status $?"
    done
    echo "$name: 30 exits while 4 threads allocate: all status 0"
done
command -v unshare > /dev/null || { echo "SKIP: no unshare"; exit 77; }
out=$(LD_PRELOAD="$LIB" MEMLIMIT=1MiB MEMLIMIT_TRACE=1 unshare -U -r sh -c 'x=$(seq 100000 | sort -n | tail -1); echo "inside: uid $(id -u), $x"' 2>&1) || fail "unshare -U -r: $out"
echo "$out" | grep -q "inside: uid 0, 100000" || fail "unshare output: $out"
echo "unshare -U -r under the library with a 1MiB limit: ok"
