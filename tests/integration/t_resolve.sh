# SPDX-License-Identifier: MIT
# Which allocator memlimit forwards to (tests/work/resolve).
# - libc_malloc_debug after us with MALLOC_CHECK_=3: its malloc family exists only
#   as non-default versions (malloc@GLIBC_2.2.5), which dlsym skips; every entry point
#   must still come from it: the same usable sizes as the debug library alone (exact,
#   not glibc's rounded ones), and a one-byte overflow is caught the same way.
# - an allocator preloaded before us (jemalloc, tcmalloc, mimalloc): it serves the
#   program's malloc, so what binds to us (jemalloc has no pvalloc) must go to it too,
#   never to glibc; the start-up line names it, and one line says memlimit must come
#   first to account allocations.
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

for a in jemalloc:$L/libjemalloc.so.2 tcmalloc:$L/libtcmalloc_minimal.so.4 mimalloc:$L/libmimalloc.so.2; do
    name=$(alloc_name "$a") path=$(alloc_path "$a")
    out=$(LD_PRELOAD="$path $LIB" MEMLIMIT=1GiB MEMLIMIT_TRACE=1 "$R" sizes 2>&1)
    rc=$?
    [ $rc -eq 0 ] && echo "$out" | grep -qx ok || { bad "$name before memlimit: exit $rc: $out"; continue; }
    echo "$out" | grep -q "^${ML}soft .*allocator $name" ||
        { bad "$name before memlimit: the start-up line names another allocator: $(echo "$out" | grep '^memlimit')"; continue; }
    n=$(echo "$out" | grep -c "^${ML}malloc is served by $path, which comes before libmemlimit.so")
    [ "$n" = 1 ] || { bad "$name before memlimit: $n 'comes before' lines, want 1: $(echo "$out" | grep '^memlimit')"; continue; }
    echo "$name before memlimit: every entry point freed by $name, $(echo "$out" | grep -o "allocator $name.*"), one warning"
done
# and in the usual order nothing is said
out=$(LD_PRELOAD="$LIB $L/libjemalloc.so.2" MEMLIMIT_TRACE=1 "$R" sizes 2>&1) || bad "memlimit before jemalloc: $out"
if echo "$out" | grep -q "comes before"; then
    bad "memlimit first, yet: $(echo "$out" | grep 'comes before')"
elif ! echo "$out" | grep -q "allocator jemalloc"; then
    bad "memlimit before jemalloc: $(echo "$out" | grep '^memlimit')"
else
    echo "memlimit before jemalloc: allocator jemalloc, no warning"
fi
# a non-PIE program that takes malloc's address: its dynamic symbol table gives malloc a
# "canonical" address in the executable, a PLT stub that jumps back to ours (node is
# built so); taken for the allocator, it made every malloc call itself (SIGSEGV)
NP=$ROOT/build/nopie
printf '%s\n' '#include <stdio.h>' '#include <stdlib.h>' '#include <string.h>' \
    'int main(void) {' \
    '    void *(*volatile a)(size_t) = malloc; void (*volatile f)(void *) = free;' \
    '    void *(*volatile c)(size_t, size_t) = calloc; void *(*volatile r)(void *, size_t) = realloc;' \
    '    char *p = a(100000); memset(p, 1, 100000); p = r(p, 200000); f(p); f(c(10, 10));' \
    '    puts("nopie ok"); return 0; }' > "$NP.c"
gcc -no-pie -fno-pie -O0 -o "$NP" "$NP.c" || bad "cannot build a non-PIE program"
out=$(timeout 20 env LD_PRELOAD="$LIB" MEMLIMIT=64MiB MEMLIMIT_TRACE=1 "$NP" 2>&1); rc=$?
if [ $rc != 0 ] || ! echo "$out" | grep -q "nopie ok"; then
    bad "non-PIE program taking malloc's address: exit $rc: $(echo "$out" | tail -2)"
elif ! echo "$out" | grep -q "allocator glibc" || echo "$out" | grep -q "comes before"; then
    bad "non-PIE program: $(echo "$out" | grep '^memlimit')"
else
    echo "non-PIE program taking malloc's address: exit 0, allocator glibc"
fi
[ $status = 0 ] && echo PASS
exit $status
