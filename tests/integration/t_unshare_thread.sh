# SPDX-License-Identifier: MIT
# The memlimit thread watches whenever a limit is in force, and takes no namespace
# change away: unshare and setns park it around the calls the kernel refuses to a
# threaded process, and it runs again after. Each call's answer is the one the same
# program gets without the library (nsprobe prints them), below the limit and past
# it, from the main thread, from a thread while others allocate (EINVAL either way:
# the program's own threads), in fork and vfork children. Where no thread can be made
# (seccomp), one line says so and trims run inline. Then util-linux's unshare -U -r
# and -Urm, preloaded, in a limited cgroup.
. "$ROOT/tests/integration/lib.sh"
need_cgroup
trap cleanup EXIT
command -v unshare > /dev/null || fail "unshare missing (util-linux)"

bare=$("$W/nsprobe" calls 16 2>&1) || fail "nsprobe without the library: $bare"
for a in glibc "jemalloc:$L/libjemalloc.so.2"; do
    name=$(alloc_name "$a"); path=$(alloc_path "$a")
    # below the soft limit (idle thread), and past it (the thread trimming, in rounds)
    for shape in "256MiB 16 below" "32MiB 48 past"; do
        set -- $shape
        out=$(timeout 120 env LD_PRELOAD="$LIB $path" MEMLIMIT=$1 "$W/nsprobe" calls $2 2>&1); rc=$?
        [ $rc -eq 0 ] || fail "$name $3 the limit: exit $rc: $out"
        [ "$(echo "$out" | grep -c '^thread: running')" = 6 ] || fail "$name $3 the limit: the thread did not run around every call: $out"
        answers=$(echo "$out" | grep -v '^thread:')
        [ "$answers" = "$bare" ] || fail "$name $3 the limit: answers differ from the bare run:
$answers
--- bare:
$bare"
        echo "$name, $3 the limit: 7 answers as without the library, the thread running around each (6 looks)"
    done
done

# seccomp: every thread creation refused, across exec
out=$("$W/nsprobe" nothreads env LD_PRELOAD="$LIB" MEMLIMIT=32MiB MEMLIMIT_TRACE=1 "$W/nsprobe" holes 512 2>&1) ||
    fail "seccomp: exit $?: $out"
echo "$out" | grep -q "^holes: 512 MiB churned, 0 memlimit threads, pthread_create: Operation not permitted" ||
    fail "seccomp: $out"
[ "$(echo "$out" | grep -c "${ML}cannot start the memlimit thread: Operation not permitted")" = 1 ] ||
    fail "seccomp: the refusal must be said exactly once: $out"
echo "$out" | grep -q "${ML}trim #" || fail "seccomp: no inline trim: $out"
echo "seccomp without threads: ran, said once, $(echo "$out" | grep -c "${ML}trim #") trims inline"

# util-linux's unshare, preloaded, in a 128 MiB cgroup
new_cgroup unshare $((128 << 20)); D=$CG_DIR
for opts in -Ur -Urm; do
    out=$(cg_run "$D" env LD_PRELOAD="$LIB" MEMLIMIT_TRACE=1 unshare $opts sh -c 'x=$(seq 200000 | sort -n | tail -1); echo "inside: uid $(id -u), $x"' 2>&1) ||
        fail "unshare $opts: exit $?: $out"
    echo "$out" | grep -q "inside: uid 0, 200000" || fail "unshare $opts: $out"
    echo "unshare $opts in a 128 MiB cgroup: ok"
done

# the set*id family: glibc runs it on every thread and aborts when their answers
# differ; setpriv keeps its capabilities on its own thread across setresuid
# (PR_SET_KEEPCAPS), which the memlimit thread did not, and its setresgid then failed
# there: abort (exit 134). MEMLIMIT_EVENTS=on: the thread from the first sample.
command -v setpriv > /dev/null || fail "setpriv missing (util-linux)"
out=$(cg_run "$D" env LD_PRELOAD="$LIB" MEMLIMIT=20MiB MEMLIMIT_EVENTS=on \
    setpriv --reuid=nobody --regid=nogroup --init-groups sh -c 'echo "as $(id -u):$(id -g)"' 2>&1) ||
    fail "setpriv --reuid --regid --init-groups with the thread running: exit $?: $out"
echo "$out" | grep -q "^as 65534:65534$" || fail "setpriv: $out"
echo "setpriv --reuid=nobody --regid=nogroup --init-groups with the thread running: ok"
