# SPDX-License-Identifier: MIT
# Programs that size themselves from the machine see the container's memory: in a
# 256 MiB cgroup, preloaded, sysconf, get_phys_pages, sysinfo, /proc/meminfo read
# through fopen, open and openat (tests/work/meminfo), Python's os.sysconf, Node's
# os.totalmem() and cat all say 256 MiB total and a plausible room (0 < avail <= 256);
# /proc/meminfo is a real file (seek, fstat, close-on-exec kept) and the opens that
# are not plain reads get the kernel's own answers (the same lines as without the
# library). MEMLIMIT_MEMINFO=host, or no cgroup limit: the machine's figures. GNU sort
# of a file larger than a 200 MiB cgroup completes with correct output at default
# settings (killed without the library: it sizes its buffer from the machine).
# Swap, with a 64 MiB swap file switched on for the test: where the cgroup limits
# swap (v1 memory.memsw.limit_in_bytes) sysinfo and /proc/meminfo show its swap,
# where it does not the machine's.
. "$ROOT/tests/integration/lib.sh"
need_cgroup
trap cleanup EXIT
host_mib=$(($(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) >> 10))
PY=$(python3 -c 'import sys; print(sys.executable)')

bare=$("$W/meminfo") || fail "meminfo without the library: $bare"
new_cgroup meminfo $((256 << 20)); D=$CG_DIR
out=$(cg_run "$D" env LD_PRELOAD="$LIB" "$W/meminfo" 2>&1) || fail "meminfo preloaded: $out"
for what in "sysconf total" "get_phys_pages" "sysinfo total" "fopen MemTotal" "open MemTotal" \
    "openat /proc/self/../meminfo MemTotal"; do
    v=$(echo "$out" | sed -n "s|^$what \([0-9-]*\)$|\1|p")
    [ "$v" = 256 ] || fail "$what: '$v' MiB, not 256: $out"
done
for what in "sysconf avail" "sysinfo free" "fopen MemAvailable"; do
    v=$(echo "$out" | sed -n "s|^$what \([0-9-]*\)$|\1|p")
    [ -n "$v" ] && [ "$v" -gt 0 ] && [ "$v" -le 256 ] || fail "$what: '$v' MiB, not within (0, 256]: $out"
done
# the lines that do not depend on the figures: as the kernel's
same=$(echo "$bare" | grep -E '^(sysinfo consistent|read again|fstat|close|O_|fopen r\+)')
got=$(echo "$out" | grep -E '^(sysinfo consistent|read again|fstat|close|O_|fopen r\+)')
[ "$same" = "$got" ] || fail "the file behaves otherwise than the kernel's:
$got
--- without the library:
$same"
echo "C calls in 256 MiB: $(echo "$out" | grep -E '^(sysconf|sysinfo) ' | tr '\n' ';')"

py=$(cg_run "$D" env LD_PRELOAD="$LIB" "$PY" -c 'import os; print(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") >> 20)')
[ "$py" = 256 ] || fail "Python os.sysconf: $py MiB"
cat=$(cg_run "$D" env LD_PRELOAD="$LIB" cat /proc/meminfo | sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p')
[ "$cat" = $((256 << 10)) ] || fail "cat /proc/meminfo: MemTotal $cat kB"
node=$(command -v node || command -v nodejs) || fail "node missing (nodejs; make deps installs it)"
nd=$(cg_run "$D" env LD_PRELOAD="$LIB" "$node" -e 'console.log(require("os").totalmem() >> 20)')
[ "$nd" = 256 ] || fail "node os.totalmem(): $nd MiB"
echo "Python os.sysconf $py MiB, cat /proc/meminfo $cat kB, node os.totalmem() $nd MiB"

host=$(cg_run "$D" env LD_PRELOAD="$LIB" MEMLIMIT_MEMINFO=host "$W/meminfo" | sed -n 's/^sysconf total //p')
[ "$host" = "$host_mib" ] || fail "MEMLIMIT_MEMINFO=host: $host MiB, not the machine's $host_mib"
free=$(env LD_PRELOAD="$LIB" "$W/meminfo" | sed -n 's/^sysconf total //p')
[ "$free" = "$host_mib" ] || fail "no cgroup limit: $free MiB, not the machine's $host_mib"
echo "MEMLIMIT_MEMINFO=host and no cgroup limit: the machine's $host_mib MiB"

# swap: a swap file of our own, on for this part only
SWAP=$ROOT/build/meminfo.swap
swap_off() { swapoff "$SWAP" 2> /dev/null; rm -f "$SWAP"; cleanup; }
trap swap_off EXIT
[ -e "$D/memory.memsw.limit_in_bytes" ] || fail "no memory.memsw files: swap accounting is off"
rm -f "$SWAP"; fallocate -l 64M "$SWAP" && chmod 600 "$SWAP" && mkswap "$SWAP" > /dev/null &&
    swapon "$SWAP" || fail "cannot switch on a swap file at $SWAP"
host_swap=$(($(sed -n 's/^SwapTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) >> 10))
[ "$host_swap" -ge 63 ] || fail "SwapTotal $host_swap MiB with the swap file on"
swap_of() { # prints "sysinfo-total sysinfo-free meminfo-total meminfo-free", MiB
    local o; o=$(cg_run "$1" env LD_PRELOAD="$LIB" "$W/meminfo") || fail "meminfo: $o"
    echo "$(echo "$o" | sed -n 's/^sysinfo swap //p') $(echo "$o" | sed -n 's/^fopen swap //p')"
}
s=$(swap_of "$D")
[ "$s" = "$host_swap $host_swap $host_swap $host_swap" ] || fail "no swap limit: swap '$s', not the machine's $host_swap MiB"
new_cgroup memsw $((256 << 20)); M=$CG_DIR
echo $(((256 + 32) << 20)) > "$M/memory.memsw.limit_in_bytes" || fail "cannot set memory.memsw.limit_in_bytes"
s=$(swap_of "$M")
[ "$s" = "32 32 32 32" ] || fail "a 32 MiB swap limit: swap '$s' (sysinfo total, free; meminfo total, free)"
echo $((256 << 20)) > "$M/memory.memsw.limit_in_bytes" || fail "cannot set memory.memsw.limit_in_bytes"
s=$(swap_of "$M")
[ "$s" = "0 0 0 0" ] || fail "no swap allowed: swap '$s'"
s=$(cg_run "$M" env LD_PRELOAD="$LIB" MEMLIMIT_MEMINFO=host "$W/meminfo" | sed -n 's/^fopen swap //p')
[ "$s" = "$host_swap $host_swap" ] || fail "MEMLIMIT_MEMINFO=host: swap '$s', not the machine's"
swapoff "$SWAP" && rm -f "$SWAP" || fail "cannot switch the swap file off"
echo "swap: the machine's $host_swap MiB without a swap limit, 32 MiB at memsw = limit + 32 MiB, 0 at memsw = limit"

# GNU sort sizes its buffer from physical memory (13 GiB asked in 200 MiB)
T=$ROOT/build/meminfo-sort; rm -rf "$T"; mkdir -p "$T"
seq 1 15000000 | awk '{ print ($1 * 7919) % 15000017 "-" $1 }' > "$T/in"
[ "$(stat -c %s "$T/in")" -gt $((200 << 20)) ] || fail "the input is not larger than the limit"
new_cgroup sort-bare $((200 << 20)); B=$CG_DIR
cg_run "$B" sort -T "$T" "$T/in" > "$T/out.bare" 2> /dev/null; rc=$?
[ $rc = 137 ] || [ "$(cg_oom_kills "$B")" -gt 0 ] || fail "sort without the library was not killed (exit $rc): the test shows nothing"
new_cgroup sort $((200 << 20)); S=$CG_DIR
cg_run "$S" env LD_PRELOAD="$LIB" sort -T "$T" "$T/in" > "$T/out" 2> "$T/err"; rc=$?
[ $rc = 0 ] && [ "$(cg_oom_kills "$S")" = 0 ] || fail "sort preloaded: exit $rc, oom_kill $(cg_oom_kills "$S"): $(cat "$T/err")"
sort -c "$T/out" || fail "sort's output is not sorted"
[ "$(wc -l < "$T/out")" = "$(wc -l < "$T/in")" ] || fail "sort's output lost lines"
echo "GNU sort of $(($(stat -c %s "$T/in") >> 20)) MiB in a 200 MiB cgroup: killed without the library, sorted with it (peak $(mib "$(cg_peak "$S")"))"
rm -rf "$T"
