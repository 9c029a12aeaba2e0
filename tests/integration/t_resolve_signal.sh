# SPDX-License-Identifier: MIT
# A signal handler calls operator new on a thread that is inside memlimit's first
# lookup of the C++ runtime's operator new (tests/work/resolve_signal): it must not
# wait for that lookup, which its own thread holds (the lookup runs with signals
# blocked). The C program loads 500 libraries, then libstdc++ with RTLD_LOCAL, so the
# lookup searches every object and takes milliseconds; another thread signals it all
# along. Behind memlimit a lock-free bump allocator (built here), so the only lock a
# handler can meet is memlimit's. Five runs, each bounded by a timeout.
. "$ROOT/tests/integration/lib.sh"
d=$ROOT/build/resolve_signal
mkdir -p "$d"
cat > "$d/bump.c" << 'EOF'
/* malloc that a signal handler may call: one atomic bump, never reused */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
static char heap[512 << 20] __attribute__((aligned(4096)));
static _Atomic size_t used;
static void *take(size_t n, size_t al) {
    uintptr_t base = (uintptr_t)heap;
    if (al < 16) al = 16;
    for (;;) {
        size_t u = atomic_load(&used);
        size_t start = ((base + u + 16 + al - 1) & ~(uintptr_t)(al - 1)) - base, end = start + n;
        if (n > sizeof heap || end > sizeof heap) { errno = ENOMEM; return NULL; }
        if (atomic_compare_exchange_weak(&used, &u, end)) {
            ((size_t *)(heap + start))[-1] = n;
            return heap + start;
        }
    }
}
void *malloc(size_t n) { return take(n, 16); }
void free(void *p) { (void)p; }
void *calloc(size_t a, size_t b) {
    size_t n;
    if (__builtin_mul_overflow(a, b, &n)) { errno = ENOMEM; return NULL; }
    return take(n, 16); /* never used before: zero */
}
void *realloc(void *p, size_t n) {
    void *q = take(n, 16);
    if (q && p) { size_t o = ((size_t *)p)[-1]; memcpy(q, p, o < n ? o : n); }
    return q;
}
void *memalign(size_t al, size_t n) { return take(n, al); }
void *aligned_alloc(size_t al, size_t n) { return take(n, al); }
int posix_memalign(void **out, size_t al, size_t n) {
    void *p = take(n, al);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
size_t malloc_usable_size(void *p) { return p ? ((size_t *)p)[-1] : 0; }
EOF
gcc -shared -fPIC -O2 -fno-builtin -o "$d/libbump.so" "$d/bump.c" || fail "cannot build the bump allocator"
echo "int filler(void) { return 1; }" | gcc -shared -fPIC -x c -o "$d/filler.so" - || fail "filler"
libs=""
for i in $(seq 500); do
    cp "$d/filler.so" "$d/libfiller$i.so" # a copy: another object for the dynamic linker
    libs="$libs $d/libfiller$i.so"
done
RT=$L/libstdc++.so.6
# shellcheck disable=SC2086
out=$(LD_PRELOAD="$d/libbump.so" timeout 20 "$W/resolve_signal" "$RT" $libs 2>&1) ||
    fail "the test itself fails without memlimit: $out"
echo "without memlimit: $out" | head -1
for run in 1 2 3 4 5; do
    # shellcheck disable=SC2086
    out=$(LD_PRELOAD="$LIB $d/libbump.so" timeout 10 "$W/resolve_signal" "$RT" $libs 2>&1)
    rc=$?
    [ $rc -eq 124 ] && fail "run $run: deadlocked (killed after 10 s): $out"
    [ $rc -eq 0 ] || fail "run $run: exit $rc: $out"
    echo "run $run: $(echo "$out" | head -1)"
done
echo PASS
