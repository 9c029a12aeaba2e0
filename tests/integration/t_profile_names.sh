# The heap profile's top sites in the log are named from each object's own symbol
# table (.symtab), not only from the dynamic one that dladdr reads:
# - profsites-plain is tests/work/profsites linked without -rdynamic (its site_*
#   functions are in no dynamic symbol table): the log must name its three sites in
#   order, where it used to print "profsites-plain+0x14d5";
# - a static function of a shared library is named, with the library;
# - the same library stripped, with its symbols in /usr/lib/debug/.build-id/ under its
#   build id (as Debian's -dbgsym packages install them): still named (only where
#   that directory is writable; the file is removed afterwards).
. "$ROOT/tests/integration/lib.sh"
W=$ROOT/build/work
P=$ROOT/build/prof-names; rm -rf "$P"; mkdir -p "$P"
# the function named after "in" on a top-site line, without its offset
sites() { awk '/profile: [0-9]+\. / {for (i = 1; i <= NF; i++) if ($i == "in") {sub(/\+.*/, "", $(i+1)); print $(i+1); break}}' "$1"; }

# ---- 1. a program linked without -rdynamic
nm -D "$W/profsites-plain" | grep -q site_ && fail "profsites-plain exports its sites: the test would prove nothing"
MEMLIMIT_PROFILE="$P/plain" MEMLIMIT_PROFILE_RATE=16KiB MEMLIMIT_LOG="$P/plain.log" LD_PRELOAD="$LIB" \
    "$W/profsites-plain" "$P/plain.heap" 50 > /dev/null || fail "profsites-plain: exit $?: $(cat "$P/plain.log")"
order=$(sites "$P/plain.log" | head -3 | tr '\n' ' ')
[ "$order" = "site_large_share site_medium_share site_small_share " ] || fail "top sites: '$order': $(cat "$P/plain.log")"
grep 'profile: 1\.' "$P/plain.log" | head -1 | sed "s/^$ML/without -rdynamic: /"

# ---- 2. a static function in a shared library, and the same from a debug file
cat > "$P/plug.c" << 'C'
#include <stdlib.h>
#include <string.h>
static __attribute__((noinline)) void *plug_static_keep(size_t n) {
    void *p = malloc(n);
    memset(p, 1, n);
    return p;
}
void **plug_alloc(size_t n, int k) {
    void **v = malloc(sizeof *v * (size_t)k);
    for (int i = 0; i < k; i++) v[i] = plug_static_keep(n);
    return v;
}
C
cat > "$P/main.c" << 'C'
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"
#include <stdio.h>
#include <stddef.h>
void **plug_alloc(size_t n, int k);
int main(int argc, char **argv) {
    (void)argc;
    void **v = plug_alloc(65536, 400); /* 25 MiB */
    int r = memlimit_profile_dump(argv[1]);
    printf("%p %d\n", (void *)v, r);
    return r ? 1 : 0;
}
C
gcc -shared -fPIC -O1 -g -Wl,--build-id -o "$P/libplug.so" "$P/plug.c" &&
    gcc -O1 -I"$ROOT/src" -o "$P/main" "$P/main.c" -L"$P" -lplug -Wl,-rpath,"$P" || fail "cannot build the library test"
nm -D "$P/libplug.so" | grep -q plug_static_keep && fail "plug_static_keep is a dynamic symbol"
MEMLIMIT_PROFILE="$P/lib" MEMLIMIT_PROFILE_RATE=16KiB MEMLIMIT_LOG="$P/lib.log" LD_PRELOAD="$LIB" "$P/main" "$P/lib.heap" > /dev/null ||
    fail "main: exit $?: $(cat "$P/lib.log")"
grep -q 'profile: 1\. .* in plug_static_keep+0x[0-9a-f]* (libplug.so)$' "$P/lib.log" || fail "static function in a library: $(cat "$P/lib.log")"
grep -m1 'profile: 1\.' "$P/lib.log" | sed "s/^$ML/static, in a library: /"

id=$(readelf -n "$P/libplug.so" | awk '/Build ID:/ {print $3}')
D=/usr/lib/debug/.build-id/${id:0:2}
if [ -n "$id" ] && mkdir -p "$D" 2> /dev/null && [ -w "$D" ]; then
    dbg=$D/${id:2}.debug
    [ -e "$dbg" ] && fail "$dbg exists already"
    trap 'rm -f "$dbg"; rmdir "$D" 2> /dev/null; cleanup' EXIT
    objcopy --only-keep-debug "$P/libplug.so" "$dbg" && strip --strip-all "$P/libplug.so" || fail "objcopy/strip"
    readelf -S "$P/libplug.so" | grep -q '\.symtab' && fail "strip left .symtab"
    rm -f "$P/lib.log"
    MEMLIMIT_PROFILE="$P/lib" MEMLIMIT_PROFILE_RATE=16KiB MEMLIMIT_LOG="$P/lib.log" LD_PRELOAD="$LIB" "$P/main" "$P/lib.heap" > /dev/null ||
        fail "main, stripped: exit $?: $(cat "$P/lib.log")"
    grep -q 'profile: 1\. .* in plug_static_keep+0x' "$P/lib.log" || fail "stripped library with a debug file: $(cat "$P/lib.log")"
    grep -m1 'profile: 1\.' "$P/lib.log" | sed "s/^$ML/stripped, symbols in a build-id debug file: /"
    rm -f "$dbg"; rmdir "$D" 2> /dev/null
    # without it, the address as before
    rm -f "$P/lib.log"
    MEMLIMIT_PROFILE="$P/lib" MEMLIMIT_PROFILE_RATE=16KiB MEMLIMIT_LOG="$P/lib.log" LD_PRELOAD="$LIB" "$P/main" "$P/lib.heap" > /dev/null
    grep -q 'profile: 1\. .* in libplug.so+0x' "$P/lib.log" || fail "stripped, no debug file: $(cat "$P/lib.log")"
else
    echo "(/usr/lib/debug/.build-id not writable here: the debug-file case is not run)"
fi
echo PASS
