# SPDX-License-Identifier: MIT
# Shared by the integration tests.
. "$ROOT/tests/integration/cgroup.sh"
L=/usr/lib/x86_64-linux-gnu
ALLOCATORS="glibc jemalloc:$L/libjemalloc.so.2 tcmalloc:$L/libtcmalloc_minimal.so.4 mimalloc:$L/libmimalloc.so.2"
alloc_name() { echo "${1%%:*}"; }
alloc_path() { case $1 in *:*) echo "${1#*:}";; *) echo "";; esac; }

# need_cgroup: exits 77 with the reason when no writable memory cgroup exists.
need_cgroup() {
    cg_parent 2>/tmp/memlimit-cg-reason.$$ || { echo "SKIP: no writable memory cgroup: $(cat /tmp/memlimit-cg-reason.$$)"; rm -f /tmp/memlimit-cg-reason.$$; exit 77; }
    rm -f /tmp/memlimit-cg-reason.$$
}
CREATED=""
cleanup() { for d in $CREATED; do cg_remove "$d"; done; }
trap cleanup EXIT
new_cgroup() { cg_create "$1" "$2" || { echo "FAIL: cannot create cgroup $1"; exit 1; }; CREATED="$CREATED $CG_DIR"; }
fail() { echo "FAIL: $*"; exit 1; }
# wait_for FILE PATTERN [SECONDS=30]: until a line of FILE matches the grep pattern;
# status 1 if none did in time. A bound for slow machines, never the verdict itself.
wait_for() {
    local end=$((SECONDS + ${3:-30}))
    until grep -q -- "$2" "$1" 2> /dev/null; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.02
    done
}
# end_holder OUT: SIGTERM to the tests/work/holder whose "ready pid N" line is in OUT
end_holder() {
    local p
    p=$(awk '/^ready pid/ {print $3}' "$1")
    [ -n "$p" ] || fail "no 'ready pid' line in $1: $(cat "$1")"
    kill -TERM "$p" 2> /dev/null
}
# the start of every line the library writes, "memlimit[PID PROGRAM]: ", as a regular
# expression (basic or extended)
ML='memlimit\[[0-9]* [^]]*\]: '
