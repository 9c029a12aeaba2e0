# SPDX-License-Identifier: MIT
# The allocation API's contract under every next allocator, compared with the
# allocator alone: glibc alone defines the expected answers (0 failures); with
# memlimit every allocator gives them, and its blocks are its own.
. "$ROOT/tests/integration/lib.sh"
status=0
for a in $ALLOCATORS; do
    name=$(alloc_name "$a"); path=$(alloc_path "$a")
    alone=$(LD_PRELOAD="$path" "$W/semantics" 2>&1 | tail -1); [ -n "$alone" ] || alone="crashed"
    with=$(LD_PRELOAD="$LIB $path" MEMLIMIT=1GiB "$W/semantics" 2>&1); rc=$?
    printf '%-9s alone: %s\n%-9s with memlimit: %s\n' "$name" "$alone" "" "$(echo "$with" | tail -1)"
    [ $rc -eq 0 ] || { echo "$with" | grep FAIL | head; status=1; }
    if [ "$name" = glibc ]; then echo "$alone" | grep -q ", 0 failed" || { echo "FAIL: expectations differ from glibc's"; status=1; }; fi
done
exit $status
