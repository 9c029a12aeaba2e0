# SPDX-License-Identifier: MIT
# C++ new/delete under every next allocator: no failure the allocator alone does not
# have (Debian's mimalloc 2.0.9 misaligns some 256-byte aligned new on its own),
# bad_alloc reaches the caller, and C++ allocations are accounted.
. "$ROOT/tests/integration/lib.sh"
status=0
for a in $ALLOCATORS; do
    name=$(alloc_name "$a"); path=$(alloc_path "$a")
    alone=$(LD_PRELOAD="$path" "$W/cxx" 2>&1)
    with=$(LD_PRELOAD="$LIB $path" MEMLIMIT=1GiB "$W/cxx" 2>&1)
    echo "$(echo "$with" | tail -1)   (alone: $(echo "$alone" | tail -1 | sed 's/.*: //'))"
    echo "$with" | grep -q "with memlimit" || { echo "FAIL: $name: memlimit not seen"; status=1; }
    where() { grep '^FAIL' | sed -E 's/^(FAIL [^:]*:[0-9]+).*/\1/' | sort -u; } # "FAIL file:line"
    new=$(comm -23 <(echo "$with" | where) <(echo "$alone" | where))
    [ -z "$new" ] || { echo "FAIL: $name: failures memlimit added: $new"; echo "$with" | grep FAIL | head -5; status=1; }
done
exit $status
