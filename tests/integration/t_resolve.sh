# Which allocator memlimit forwards to (tests/work/resolve).
# - libc_malloc_debug after us with MALLOC_CHECK_=3: its malloc family exists only
#   as non-default versions (malloc@GLIBC_2.2.5), which dlsym skips; every entry point
#   must still come from it: the same usable sizes as the debug library alone (exact,
#   not glibc's rounded ones), and a one-byte overflow is caught the same way.
. "$ROOT/tests/integration/lib.sh"
status=0
bad() { echo "FAIL: $*"; status=1; } # every case is reported, not only the first
R=$W/resolve
D=$L/libc_malloc_debug.so.0
[ -f "$D" ] || { echo "SKIP: $D missing (Debian's libc6 ships it)"; exit 77; }

want=$(LD_PRELOAD="$D" MALLOC_CHECK_=3 "$R" sizes 2>&1)
got=$(LD_PRELOAD="$LIB $D" MALLOC_CHECK_=3 "$R" sizes 2>&1)
if [ "$got" = "$want" ]; then
    echo "libc_malloc_debug after memlimit, MALLOC_CHECK_=3: usable sizes as without memlimit ($(echo "$got" | head -1))"
else
    bad "libc_malloc_debug after memlimit: usable sizes differ from the debug library alone:
$(diff <(echo "$want") <(echo "$got"))"
fi
want=$(LD_PRELOAD="$D" MALLOC_CHECK_=3 "$R" overflow 2>&1)
wrc=$?
got=$(LD_PRELOAD="$LIB $D" MALLOC_CHECK_=3 "$R" overflow 2>&1)
grc=$?
[ $wrc -eq 134 ] || fail "the debug library alone did not abort on the overflow: $wrc $want"
if [ $grc -eq $wrc ] && [ "$got" = "$want" ]; then
    echo "one-byte overflow: '$got', exit $grc, as without memlimit"
else
    bad "overflow under memlimit: exit $grc '$got', alone: exit $wrc '$want'"
fi

[ $status = 0 ] && echo PASS
exit $status
