# SPDX-License-Identifier: MIT
# A C program loads 40 libraries, then a C++ plugin with RTLD_LOCAL: under memlimit
# its new/delete work and std::bad_alloc reaches it (our operator new must find the
# C++ runtime outside the global scope, however many objects come before it).
. "$ROOT/tests/integration/lib.sh"
d=$ROOT/build/cxxplugin; mkdir -p "$d"
g++ -shared -fPIC -O2 -o "$d/cxxplugin.so" "$ROOT/tests/work/plugin/cxxplugin.cpp" || fail "build plugin"
gcc -O2 -o "$d/cmain" "$ROOT/tests/work/plugin/cmain.c" -ldl || fail "build cmain"
libs=""
for i in $(seq 40); do
    [ -f "$d/libfiller$i.so" ] || echo "int filler$i(void) { return $i; }" | gcc -shared -fPIC -x c -o "$d/libfiller$i.so" - || fail "filler"
    libs="$libs $d/libfiller$i.so"
done
"$d/cmain" "$d/cxxplugin.so" $libs > /dev/null || fail "the test itself fails without memlimit"
for a in glibc "jemalloc:$L/libjemalloc.so.2"; do
    name=$(alloc_name "$a"); path=$(alloc_path "$a")
    # shellcheck disable=SC2086
    out=$(LD_PRELOAD="$LIB $path" "$d/cmain" "$d/cxxplugin.so" $libs 2>&1) || fail "$name: status $?: $out"
    echo "$name: $out"
done
