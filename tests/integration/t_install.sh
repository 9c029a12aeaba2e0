# SPDX-License-Identifier: MIT
# make install into a DESTDIR, then build and run a small aware application with
# pkg-config against the staged tree (linked with -lmemlimit, not preloaded); the
# staged memlimit-run, memlimit-plot and man pages work; uninstall removes all.
. "$ROOT/tests/integration/lib.sh"
stage=$ROOT/build/stage; rm -rf "$stage"
v=$(cat "$ROOT/VERSION")
make -s -C "$ROOT" install DESTDIR="$stage" PREFIX=/usr/local > /dev/null || fail "make install"
for f in lib/libmemlimit.so.$v lib/libmemlimit.so.0 lib/libmemlimit.so include/memlimit.h \
         lib/pkgconfig/memlimit.pc bin/memlimit-run bin/memlimit-plot libexec/memlimit/memlimit-show \
         share/man/man7/memlimit.7 share/man/man3/memlimit.3 share/man/man1/memlimit-run.1 \
         share/man/man1/memlimit-plot.1; do
    [ -e "$stage/usr/local/$f" ] || fail "not installed: $f"
done
[ "$(readlink "$stage/usr/local/lib/libmemlimit.so.0")" = "libmemlimit.so.$v" ] || fail "soname link"
export PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_PATH=$stage/usr/local/lib/pkgconfig
flags=$(pkg-config --cflags --libs memlimit) || fail "pkg-config"
echo "pkg-config: $flags"
[ "$(pkg-config --modversion memlimit)" = "$v" ] || fail "pkg-config --modversion: $(pkg-config --modversion memlimit), not $v"
[ "$("$stage/usr/local/bin/memlimit-run" --version)" = "memlimit-run $v" ] ||
    fail "memlimit-run --version: $("$stage/usr/local/bin/memlimit-run" --version)"
echo "version $v: pkg-config --modversion and memlimit-run --version agree"
cat > "$ROOT/build/aware.c" <<'C'
#include <memlimit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    struct memlimit_stats st;
    if (memlimit_set_limit(256 << 20) < 0) return 1;
    for (int i = 0; i < 64; i++) { char *p = malloc(1 << 20); memset(p, 1, 1 << 20); free(p); }
    if (memlimit_stats(&st) != 0) return 1;
    printf("version %s, soft %lld, samples %llu, level %d\n", memlimit_version(),
           (long long)st.soft_limit, (unsigned long long)st.samples, (int)memlimit_level());
    return st.soft_limit == (256 << 20) && st.samples > 0 ? 0 : 1;
}
C
gcc -o "$ROOT/build/aware" "$ROOT/build/aware.c" $flags || fail "build against the staged tree"
readelf -d "$ROOT/build/aware" | grep -q 'NEEDED.*libmemlimit.so.0' || fail "not linked to libmemlimit.so.0"
out=$(LD_LIBRARY_PATH=$stage/usr/local/lib "$ROOT/build/aware") || fail "aware app: $out"
echo "linked aware application: $out"
case $out in "version $v,"*) ;; *) fail "memlimit_version() is not $v: $out" ;; esac
# the staged tools find the staged library and helper (bin/ beside lib/ and libexec/)
env -u LD_PRELOAD "$stage/usr/local/bin/memlimit-run" -- cat /proc/self/maps | grep -q "$stage/usr/local/lib/libmemlimit.so.$v" ||
    fail "staged memlimit-run did not preload the staged library"
"$stage/usr/local/bin/memlimit-run" --show | grep -q '^soft limit:' || fail "staged memlimit-run --show"
"$stage/usr/local/bin/memlimit-plot" --help | grep -q MEMLIMIT_TRACE=2 || fail "staged memlimit-plot"
for m in man7/memlimit.7 man3/memlimit.3 man1/memlimit-run.1 man1/memlimit-plot.1; do
    w=$(groff -man -ww -z "$stage/usr/local/share/man/$m" 2>&1) || fail "man page $m: $w"
    [ -z "$w" ] || fail "man page $m: groff warns: $w"
done
echo "man pages render without warnings"
make -s -C "$ROOT" uninstall DESTDIR="$stage" PREFIX=/usr/local > /dev/null
[ -z "$(find "$stage" -type f -o -type l)" ] || fail "uninstall left: $(find "$stage" -type f -o -type l)"
echo "uninstall removed every file"
