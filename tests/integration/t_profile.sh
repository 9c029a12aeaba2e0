# SPDX-License-Identifier: MIT
# The sampled heap profile (MEMLIMIT_PROFILE), read back with google-pprof (Debian's
# google-perftools: the pprof that reads gperftools heap profiles and symbolises them
# offline from the mappings we write):
# - tests/work/profsites holds 60/30/10% of its live memory at three sites (4 KiB,
#   64 KiB and 200-byte blocks) and allocates twice as much again at a fourth that
#   frees it all. pprof must give each site its share within 10% (relative) at a
#   16 KiB rate, and at the default 512 KiB rate within 10 points; the top sites in
#   the log name them in order; the garbage site holds nothing live.
# - 4 threads and a fork child under a real memory cgroup past the soft limit: each
#   process writes its own .soft profile, which pprof reads.
# - MEMLIMIT_PROFILE_SIGNAL=SIGUSR2 on an idle process writes a .signal profile;
#   a bad rate is one line; profiling off leaves memlimit_profile_dump ENOTSUP.
# - a profile directory that is missing, a file, or not writable is said once at
#   start-up (not when the first profile is due), the program unharmed; a writable
#   one gives no such line.
. "$ROOT/tests/integration/lib.sh"
need_cgroup
W=$ROOT/build/work
command -v google-pprof > /dev/null || fail "google-pprof not installed (scripts/deps installs google-perftools)"
P=$ROOT/build/prof; rm -rf "$P"; mkdir -p "$P"

# share FUNCTION PPROF_TEXT: cumulative percent of in-use space under FUNCTION
share() { awk -v f="$1" '$6 == f {sub(/%/, "", $5); print $5; exit}' "$2"; }
check_shares() { # PROFILE TOLERANCE(relative|points) LABEL
    google-pprof --text --cum --inuse_space "$W/profsites" "$1" > "$P/pprof.txt" 2> "$P/pprof.err" ||
        fail "google-pprof could not read $1: $(cat "$P/pprof.err")"
    local l m s g
    l=$(share site_large_share "$P/pprof.txt"); m=$(share site_medium_share "$P/pprof.txt")
    s=$(share site_small_share "$P/pprof.txt"); g=$(share site_garbage "$P/pprof.txt")
    echo "$3: large $l%, medium $m%, small $s% of live (expected 60, 30, 10), garbage ${g:-0}%"
    [ -n "$l" ] && [ -n "$m" ] && [ -n "$s" ] || fail "$3: a site is missing: $(head -20 "$P/pprof.txt")"
    awk -v l="$l" -v m="$m" -v s="$s" -v g="${g:-0}" -v how="$2" 'BEGIN {
        split("60 30 10", e); split(l " " m " " s, v)
        for (i = 1; i <= 3; i++) {
            d = v[i] - e[i]; if (d < 0) d = -d
            if (how == "relative" && d > 0.10 * e[i]) exit 1
            if (how == "points" && d > 10) exit 1
        }
        if (g > 0.5) exit 1 }' || fail "$3: shares off by more than 10% ($2)"
}

# ---- 1. shares, at 16 KiB and at the default rate
MEMLIMIT_PROFILE="$P/fine.%p" MEMLIMIT_PROFILE_RATE=16KiB MEMLIMIT_LOG="$P/fine.log" LD_PRELOAD="$LIB" \
    "$W/profsites" "$P/fine.heap" 200 > /dev/null || fail "profsites failed: $(cat "$P/fine.log")"
head -1 "$P/fine.heap" | grep -q '^heap profile: .* @ heap_v2/16384$' || fail "header: $(head -1 "$P/fine.heap")"
grep -q '^MAPPED_LIBRARIES:$' "$P/fine.heap" || fail "no mappings section"
check_shares "$P/fine.heap" relative "rate 16 KiB"
# the log's top sites, from the dump: in order, named in the process
order=$(awk '/profile: [0-9]+\. / {for (i = 1; i <= NF; i++) if ($i == "in") {sub(/\+.*/, "", $(i+1)); print $(i+1); break}}' "$P/fine.log" | head -3 | tr '\n' ' ')
[ "$order" = "site_large_share site_medium_share site_small_share " ] || fail "top sites in the log: '$order': $(cat "$P/fine.log")"
grep 'profile: 1\.' "$P/fine.log" | head -1 | sed 's/^/  log: /'
ls "$P"/fine.*.exit > /dev/null 2>&1 || fail "no profile written at exit"

MEMLIMIT_PROFILE="$P/default.%p" MEMLIMIT_LOG="$P/default.log" LD_PRELOAD="$LIB" \
    "$W/profsites" "$P/default.heap" 200 > /dev/null || fail "profsites failed at the default rate"
check_shares "$P/default.heap" points "rate 512 KiB (default)"

# ---- 2. threads and fork in a real cgroup, past the soft limit
new_cgroup profile $((320 << 20)); D=$CG_DIR
cg_run "$D" env MEMLIMIT=160MiB MEMLIMIT_PROFILE="$P/mt.%p" MEMLIMIT_PROFILE_RATE=64KiB MEMLIMIT_TRACE=1 \
    MEMLIMIT_LOG="$P/mt.log" LD_PRELOAD="$LIB" "$W/profsites" "$P/mt.heap" 200 4 fork > "$P/mt.out" 2>&1
rc=$?
[ $rc = 0 ] || fail "threads+fork exit $rc: $(cat "$P/mt.out" "$P/mt.log")"
[ "$(cg_oom_kills "$D")" = 0 ] || fail "OOM kill in the profile cgroup"
n=$(ls "$P"/mt.*.soft 2> /dev/null | wc -l)
[ "$n" = 2 ] || fail "expected a .soft profile from the parent and from the child, found $n: $(ls "$P")"
for f in "$P"/mt.*.soft "$P/mt.heap" "$P/mt.heap.child"; do
    google-pprof --text --cum --inuse_space "$W/profsites" "$f" > "$P/mt.txt" 2> /dev/null || fail "pprof cannot read $f"
    grep -q site_large_share "$P/mt.txt" || fail "$f: site_large_share missing"
done
check_shares "$P/mt.heap" points "4 threads, parent, 64 KiB"
check_shares "$P/mt.heap.child" points "4 threads, fork child, 64 KiB"
echo "threads+fork in a 320 MiB cgroup, soft 160 MiB: .soft profiles from 2 processes, peak $(mib "$(cg_peak "$D")")"

# ---- 3. on a signal, from an idle process; bad input
MEMLIMIT_PROFILE="$P/sig" MEMLIMIT_PROFILE_SIGNAL=SIGUSR2 MEMLIMIT_LOG="$P/sig.log" LD_PRELOAD="$LIB" \
    "$W/holder" 20 2 > "$P/sig.out" 2>&1 & hp=$!
for _ in $(seq 100); do grep -q ready "$P/sig.out" 2> /dev/null && break; sleep 0.02; done
kill -USR2 $hp
for _ in $(seq 50); do [ -s "$P/sig.signal" ] && break; sleep 0.02; done
wait $hp || fail "the idle process did not survive SIGUSR2: $(cat "$P/sig.out" "$P/sig.log")"
head -1 "$P/sig.signal" 2> /dev/null | grep -q '^heap profile:' || fail "no .signal profile: $(ls "$P")"
google-pprof --text "$W/holder" "$P/sig.signal" > /dev/null 2>&1 || fail "pprof cannot read the .signal profile"
MEMLIMIT_PROFILE="$P/bad" MEMLIMIT_PROFILE_RATE=lots MEMLIMIT_LOG="$P/bad.log" LD_PRELOAD="$LIB" \
    "$W/profsites" "$P/bad.heap" 10 > /dev/null || fail "a bad rate harmed the program"
[ "$(grep -c "MEMLIMIT_PROFILE_RATE='lots' is not valid" "$P/bad.log")" = 1 ] || fail "bad rate: $(cat "$P/bad.log")"
LD_PRELOAD="$LIB" "$W/profsites" "$P/off.heap" 10 > /dev/null 2> "$P/off.err" && fail "dump without MEMLIMIT_PROFILE succeeded"
grep -q 'not supported' "$P/off.err" || fail "dump without profiling: $(cat "$P/off.err")"
echo "SIGUSR2: .signal profile from an idle process; bad rate: one line; profiling off: ENOTSUP"

# ---- 4. C++ new/delete under each allocator (jemalloc's and tcmalloc's own operators
# are set aside while profiling, so their blocks are sampled and matched too)
for a in $ALLOCATORS; do
    name=$(alloc_name "$a"); path=$(alloc_path "$a")
    rm -f "$P/cxx.log"
    MEMLIMIT_PROFILE="$P/cxx" MEMLIMIT_PROFILE_RATE=16KiB MEMLIMIT_LOG="$P/cxx.log" \
        LD_PRELOAD="$LIB${path:+ $path}" "$W/profcxx" "$P/cxx.heap" || fail "$name: profcxx exit $?: $(cat "$P/cxx.log")"
    top=$(grep 'profile: 1\.' "$P/cxx.log" | head -1)
    mib=$(echo "$top" | sed "s/^${ML}//" | awk '{sub(/MiB/, "", $3); print $3}')
    echo "$top" | grep -q 'in keep_objects(std::vector<std::unique_ptr<char' || fail "$name: top site: $top"
    awk -v m="$mib" 'BEGIN {exit !(m > 56 && m < 69)}' || fail "$name: $mib MiB live, expected 62.5 (10%)"
    grep -q 'churn' "$P/cxx.log" && fail "$name: deleted blocks still live: $(cat "$P/cxx.log")"
    echo "C++ under $name: $mib MiB of 62.5 live in keep_objects (demangled), churn none"
done

# ---- 5. frames of a library unloaded with dlclose stay in the table: dumps still work
# (at 16 KiB: at the default rate 25 MiB of 64 KiB blocks are ~47 samples, +-15%)
cat > "$P/plug.c" <<'C'
#include <stdlib.h>
#include <string.h>
void **plug_alloc(size_t n, int k) {
    void **v = malloc(sizeof *v * (size_t)k);
    for (int i = 0; i < k; i++) { v[i] = malloc(n); memset(v[i], 1, n); }
    return v;
}
C
cat > "$P/dlmain.c" <<'C'
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) return 3;
    void **(*f)(size_t, int) = (void **(*)(size_t, int))dlsym(h, "plug_alloc");
    void **v = f(65536, 400); /* 25 MiB live, allocated from the plugin's code */
    dlclose(h);
    int r = memlimit_profile_dump(argv[2]);
    printf("%p %d\n", (void *)v, r);
    return r ? 1 : 0;
}
C
gcc -shared -fPIC -O1 -o "$P/plug.so" "$P/plug.c" && gcc -O1 -I"$ROOT/src" -o "$P/dlmain" "$P/dlmain.c" -ldl ||
    fail "cannot build the dlclose test"
MEMLIMIT_PROFILE="$P/dl" MEMLIMIT_PROFILE_RATE=16KiB MEMLIMIT_LOG="$P/dl.log" LD_PRELOAD="$LIB" "$P/dlmain" "$P/plug.so" "$P/dl.heap" > /dev/null ||
    fail "dump after dlclose: exit $?: $(cat "$P/dl.log")"
grep -q 'profile: 1\. 2[0-9]\.[0-9]MiB' "$P/dl.log" || fail "the unloaded plugin's 25 MiB are not the top site: $(cat "$P/dl.log")"
google-pprof --text "$P/dlmain" "$P/dl.heap" > /dev/null 2>&1 || fail "pprof cannot read the profile taken after dlclose"
echo "after dlclose: $(grep 'profile: 1\.' "$P/dl.log" | head -1 | sed "s/^${ML}profile: //")"
# ---- 6. the profile's directory, checked at start-up: holder never nears a limit, so
# no profile is due while it runs; the line must be in its stderr by the time it says
# "ready", once, and it must finish unharmed. "%p" in the directory is this process's.
# dircheck NAME PATTERN [COMMAND PREFIX...]: runs holder; its pid in $hp
dircheck() {
    local name=$1 pat=$2; shift 2
    "$@" env MEMLIMIT_PROFILE="$pat" LD_PRELOAD="$LIB" "$W/holder" 4 1 > "$P/$name.out" 2> "$P/$name.err" & local h=$!
    wait_for "$P/$name.out" '^ready pid' || fail "$name: holder never ready: $(cat "$P/$name.out" "$P/$name.err")"
    cp "$P/$name.err" "$P/$name.early"
    wait $h || fail "$name: holder exit $?: $(cat "$P/$name.out" "$P/$name.err")"
    grep -q '^holder: ' "$P/$name.out" || fail "$name: holder did not finish: $(cat "$P/$name.out")"
    hp=$(awk '/^ready pid/ {print $3}' "$P/$name.out")
}
# expect_dirline NAME PATTERN DIR REASON TAIL
expect_dirline() {
    local want="^${ML}MEMLIMIT_PROFILE=$2: directory $3: $4; profiles will be written there if it $5\$"
    [ "$(grep -c -- "$want" "$P/$1.early")" = 1 ] ||
        fail "$1: expected one line at start-up like 'MEMLIMIT_PROFILE=$2: directory $3: $4; ...'; at \"ready\" stderr held: $(cat "$P/$1.early")"
    [ "$(grep -c -- "MEMLIMIT_PROFILE=" "$P/$1.err")" = 1 ] || fail "$1: the line is not once: $(cat "$P/$1.err")"
    echo "$1: $(grep -- "$want" "$P/$1.early" | sed "s/^${ML}//")"
}
touch "$P/afile"
dircheck missing "$P/missing-%p/dir/p"
expect_dirline missing "$P/missing-%p/dir/p" "$P/missing-$hp/dir" 'No such file or directory' appears
dircheck notdir "$P/afile/p"
expect_dirline notdir "$P/afile/p" "$P/afile" 'Not a directory' 'becomes a writable directory'
mkdir -p "$P/ro"; chmod 755 "$P" "$P/ro"
dircheck ro "$P/ro/p" setpriv --reuid=nobody --regid=nogroup --clear-groups
expect_dirline ro "$P/ro/p" "$P/ro" 'Permission denied' 'becomes writable'
mkdir -p "$P/ok"
dircheck ok "$P/ok/p-%p"
grep -q 'MEMLIMIT_PROFILE\|cannot write' "$P/ok.err" && fail "a writable directory: $(cat "$P/ok.err")"
ls "$P"/ok/p-*.exit > /dev/null 2>&1 || fail "a writable directory: no .exit profile: $(ls "$P/ok")"
echo "a writable directory: no line, the .exit profile written"
echo PASS
