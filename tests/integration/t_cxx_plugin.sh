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

# Forks racing the first operator new of each variant (the runtime's search for it):
# a child that inherited the search's lock held spun for ever in its own first new
# (without the fix: about half of the runs had hung children). 20 fresh processes,
# each forking while its first calls search; a hung child fails the run after 10 s.
gcc -O2 -o "$d/forkmain" "$ROOT/tests/work/plugin/forkmain.c" -ldl -lpthread || fail "build forkmain"
# shellcheck disable=SC2086
"$d/forkmain" "$d/cxxplugin.so" $libs > /dev/null || fail "the fork race fails without memlimit"
forks=0
for i in $(seq 20); do
    # shellcheck disable=SC2086
    out=$(LD_PRELOAD="$LIB" "$d/forkmain" "$d/cxxplugin.so" $libs 2>&1) || fail "fork race, run $i: $out"
    forks=$((forks + ${out%% *}))
done
echo "fork race: 20 runs, $forks children forked during the first calls, none hung"
