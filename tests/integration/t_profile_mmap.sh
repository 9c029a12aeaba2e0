# mmap regions in the heap profile (MEMLIMIT_PROFILE), read back with google-pprof:
# - tests/work/profmmap maps private anonymous memory at sites that keep it (64 MiB),
#   cut its tail or head with munmap (16 and 8 MiB left), move and grow it with
#   mremap (32 MiB), unmap it at once, replace it with a MAP_FIXED PROT_NONE mapping,
#   or only reserve (PROT_NONE, MAP_NORESERVE), and mallocs 32 MiB: at a 16 KiB rate
#   each site must hold its size within 10%, the others nothing, the total 152 MiB
#   within 10% under glibc, jemalloc, tcmalloc and mimalloc (the allocator's own
#   mappings are not counted a second time), and nothing once all is unmapped.
# - Python (pymalloc takes its 1 MiB arenas with mmap) grows small objects to 100 MiB
#   of RssAnon and dumps with memlimit_profile_dump (ctypes): the profile must hold at
#   least 90% of the RssAnon it printed just before (three runs at the default rate:
#   their mean, and each at least 80%; one at 64 KiB), and a .soft profile written at
#   a 102 MiB soft limit at least 90% of the limit.
. "$ROOT/tests/integration/lib.sh"
W=$ROOT/build/work
command -v google-pprof > /dev/null || fail "google-pprof not installed (scripts/deps installs google-perftools)"
P=$ROOT/build/prof-mmap; rm -rf "$P"; mkdir -p "$P"

# cum MB of FUNCTION in pprof's text, or 0
mb() { awk -v f="$1" '$6 == f {print $4; found = 1; exit} END {if (!found) print 0}' "$2"; }
total() { awk '/^Total:/ {print $2; exit}' "$1"; }
near() { awk -v v="$1" -v e="$2" -v tol="$3" 'BEGIN {d = v - e; if (d < 0) d = -d; exit !(d <= tol * e)}'; }

# ---- 1. a C program's regions, under each allocator
for a in $ALLOCATORS; do
    name=$(alloc_name "$a"); path=$(alloc_path "$a")
    MEMLIMIT_PROFILE="$P/c" MEMLIMIT_PROFILE_RATE=16KiB MEMLIMIT_LOG="$P/c.$name.log" LD_PRELOAD="$LIB${path:+ $path}" \
        "$W/profmmap" "$P/kept.$name" "$P/gone.$name" > /dev/null || fail "$name: profmmap exit $?: $(cat "$P/c.$name.log")"
    google-pprof --text --inuse_space "$W/profmmap" "$P/kept.$name" > "$P/kept.$name.txt" 2> "$P/pprof.err" ||
        fail "$name: pprof cannot read the profile: $(cat "$P/pprof.err")"
    line="$name:"
    for s in site_map_keep:64 site_map_tail_cut:16 site_map_head_cut:8 site_map_moved:32 site_malloc_keep:32 \
        site_map_gone:0 site_map_replaced:0 site_reserve:0; do
        f=${s%%:*} e=${s#*:} v=$(mb "${s%%:*}" "$P/kept.$name.txt")
        line="$line ${f#site_} $v"
        if [ "$e" = 0 ]; then
            awk -v v="$v" 'BEGIN {exit !(v <= 1.5)}' || fail "$name: $f holds $v MB, expected nothing: $(cat "$P/kept.$name.txt")"
        else
            near "$v" "$e" 0.10 || fail "$name: $f holds $v MB, expected $e (10%): $(cat "$P/kept.$name.txt")"
        fi
    done
    t=$(total "$P/kept.$name.txt")
    near "$t" 152 0.10 || fail "$name: $t MB in all, expected 152 (10%): $(cat "$P/kept.$name.txt")"
    head -1 "$P/gone.$name" | grep -q '^heap profile: 0: 0 \[' ||
        fail "$name: after munmap and free: $(head -1 "$P/gone.$name")"
    echo "$line; total $t MB of 152; after munmap: nothing live"
done

# ---- 1b. an allocator that maps its heap with plain mmap (jemalloc and mimalloc use
# MAP_NORESERVE, tcmalloc sbrk: none of theirs counts), holding its lock: its chunks
# are not regions (they hold the blocks malloc samples), and mmap's sampling never
# calls into it (libunwind allocating there would deadlock on the lock)
cat > "$P/toyalloc.c" << 'C'
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *cur;
static size_t left;
__attribute__((noinline)) static char *toy_chunk(size_t n) {
    return mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}
/* its entry points call each other directly, never through the PLT (where ours are) */
static void *toy_alloc(size_t al, size_t n) {
    if (al < 16) al = 16;
    pthread_mutex_lock(&mu);
    size_t need = n + al + 16;
    if (need > left) {
        size_t c = need > (4u << 20) ? need : 4u << 20;
        char *p = toy_chunk(c);
        if (p == MAP_FAILED) { pthread_mutex_unlock(&mu); return NULL; }
        cur = p, left = c;
    }
    uintptr_t u = ((uintptr_t)cur + 16 + al - 1) & ~(uintptr_t)(al - 1);
    ((size_t *)u)[-1] = n;
    left -= u + n - (uintptr_t)cur;
    cur = (char *)(u + n);
    pthread_mutex_unlock(&mu);
    return (void *)u;
}
static size_t toy_size(void *p) { return p ? ((size_t *)p)[-1] : 0; }
void *memalign(size_t al, size_t n) { return toy_alloc(al, n); }
void *malloc(size_t n) { return toy_alloc(16, n); }
void free(void *p) { (void)p; }
void *calloc(size_t a, size_t b) { return toy_alloc(16, a * b); } /* fresh pages: zero */
size_t malloc_usable_size(void *p) { return toy_size(p); }
void *realloc(void *p, size_t n) {
    void *q = toy_alloc(16, n);
    size_t o = toy_size(p);
    if (p && q) memcpy(q, p, o < n ? o : n);
    return q;
}
int posix_memalign(void **out, size_t al, size_t n) {
    void *p = toy_alloc(al, n);
    if (!p) return 12;
    *out = p;
    return 0;
}
void *aligned_alloc(size_t al, size_t n) { return toy_alloc(al, n); }
C
gcc -shared -fPIC -O1 -g -o "$P/toyalloc.so" "$P/toyalloc.c" -lpthread || fail "cannot build the toy allocator"
MEMLIMIT_PROFILE="$P/c" MEMLIMIT_PROFILE_RATE=16KiB MEMLIMIT_LOG="$P/c.toy.log" LD_PRELOAD="$LIB $P/toyalloc.so" \
    timeout 60 "$W/profmmap" "$P/kept.toy" "$P/gone.toy" > /dev/null || fail "toy allocator: profmmap exit $? (124: hung): $(cat "$P/c.toy.log")"
google-pprof --text --inuse_space "$W/profmmap" "$P/kept.toy" > "$P/kept.toy.txt" 2> /dev/null || fail "toy: pprof cannot read the profile"
t=$(total "$P/kept.toy.txt"); m=$(mb site_malloc_keep "$P/kept.toy.txt")
grep -q toy_chunk "$P/kept.toy.txt" && fail "toy allocator: its chunks are in the profile: $(cat "$P/kept.toy.txt")"
near "$t" 152 0.10 && near "$m" 32 0.10 || fail "toy allocator: $t MB in all (152 expected), malloc_keep $m (32): $(cat "$P/kept.toy.txt")"
echo "an allocator mapping its heap with mmap: malloc_keep $m MB, total $t MB of 152, its chunks not counted twice"

# ---- 2. Python: pymalloc's arenas
PY=$(python3 -c 'import sys; print(sys.executable)' 2> /dev/null)
[ -x "$PY" ] || PY=/usr/bin/python3
[ -x "$PY" ] || { echo "no python3: the Python part is not run"; echo PASS; exit 0; }
cat > "$P/grow.py" << 'PY'
import ctypes, sys
target = int(sys.argv[2]) << 20
def rss_anon():
    with open('/proc/self/status') as f:
        for l in f:
            if l.startswith('RssAnon:'):
                return int(l.split()[1]) * 1024
keep = []
while rss_anon() < target:  # small objects: tuples, ints, strs in pymalloc's arenas
    keep.append([(i, str(i)) for i in range(10000)])
dump = sys.argv[1]
if dump != '-':
    lib = ctypes.CDLL(None)
    lib.memlimit_profile_dump.argtypes = [ctypes.c_char_p]
    r = rss_anon()
    if lib.memlimit_profile_dump(dump.encode()) != 0:
        sys.exit('memlimit_profile_dump failed')
    print(r)
PY
"$PY" -c 'import sys; sys._debugmallocstats()' 2>&1 | grep -m1 'bytes/arena' | sed 's/^/python: pymalloc: /'
coverage() { # RATE NAME: prints "live_MiB rss_MiB percent", or why not and fails
    local rss t
    rss=$(MEMLIMIT_PROFILE="$P/py" MEMLIMIT_PROFILE_RATE=$1 MEMLIMIT_LOG="$P/$2.log" LD_PRELOAD="$LIB" \
        "$PY" "$P/grow.py" "$P/$2.heap" 100) || { echo "python ($1): $(cat "$P/$2.log")"; return 1; }
    google-pprof --text --inuse_space "$PY" "$P/$2.heap" > "$P/$2.txt" 2> /dev/null || { echo "pprof cannot read $P/$2.heap"; return 1; }
    t=$(total "$P/$2.txt")
    awk -v t="$t" -v r="$rss" 'BEGIN {printf "%.1f %.1f %.1f\n", t, r / 1048576, 100 * t * 1048576 / r}'
}
sum=0
for k in 1 2 3; do
    out=$(coverage 512KiB def$k) || fail "$out"
    read -r live rss pct <<< "$out"
    echo "python $PY, default rate: profile $live MiB live of RssAnon $rss MiB: $pct%"
    awk -v p="$pct" 'BEGIN {exit !(p >= 80)}' || fail "python: the profile holds $pct% of RssAnon: $(head -12 "$P/def$k.txt")"
    sum=$(awk -v s="$sum" -v p="$pct" 'BEGIN {print s + p}')
done
awk -v s="$sum" 'BEGIN {exit !(s / 3 >= 90)}' || fail "python: the profiles hold $(awk -v s="$sum" 'BEGIN {print s / 3}')% of RssAnon on average, under 90%"
out=$(coverage 64KiB fine) || fail "$out"
read -r live rss pct <<< "$out"
echo "python, 64 KiB rate: profile $live MiB live of RssAnon $rss MiB: $pct%"
awk -v p="$pct" 'BEGIN {exit !(p >= 90)}' || fail "python at 64 KiB: the profile holds $pct% of RssAnon: $(head -12 "$P/fine.txt")"
grep -q '_PyObject_ArenaMmap' "$P/fine.txt" || echo "(pprof names no _PyObject_ArenaMmap: $PY has no symbols)"

# at the soft limit: the .soft profile, written by the library
MEMLIMIT=102MiB MEMLIMIT_SCOPE=process MEMLIMIT_PROFILE="$P/soft" MEMLIMIT_PROFILE_RATE=64KiB MEMLIMIT_LOG="$P/soft.log" \
    LD_PRELOAD="$LIB" "$PY" "$P/grow.py" - 110 || fail "python past the soft limit: $(cat "$P/soft.log")"
[ -s "$P/soft.soft" ] || fail "no .soft profile: $(cat "$P/soft.log")"
google-pprof --text --inuse_space "$PY" "$P/soft.soft" > "$P/soft.txt" 2> /dev/null || fail "pprof cannot read the .soft profile"
t=$(total "$P/soft.txt")
awk -v t="$t" 'BEGIN {exit !(t >= 0.9 * 102)}' || fail "python: the .soft profile holds $t MiB at a 102 MiB soft limit"
echo "python at a 102 MiB soft limit: .soft profile $t MiB live"
echo PASS
