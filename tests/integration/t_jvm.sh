# SPDX-License-Identifier: MIT
# A JVM started with -XX:-UseContainerSupport sizes its heap from the machine
# (os::physical_memory, that is sysconf(_SC_PHYS_PAGES)): in a 256 MiB cgroup its
# default maximum heap is then gigabytes, a heap the kernel kills long before it is
# full. Preloaded, the container's view of memory (MEMLIMIT_MEMINFO, issue 24) gives
# it the same maximum heap as the JVM's own container support computes, so no
# JAVA_TOOL_OPTIONS is needed (issue 25, item 3). MEMLIMIT_MEMINFO=host gives the
# machine's figure back.
. "$ROOT/tests/integration/lib.sh"
need_cgroup
command -v java > /dev/null || fail "java missing (openjdk-17-jre-headless; make deps installs it)"
heap() { # the JVM's MaxHeapSize in bytes, in cgroup $1, with the rest as the environment
    local d=$1; shift
    cg_run "$d" env "$@" java -XX:-UseContainerSupport -XX:+PrintFlagsFinal -version 2> /dev/null |
        awk '$2 == "MaxHeapSize" {print $4}'
}
new_cgroup jvm $((256 << 20)); d=$CG_DIR
aware=$(cg_run "$d" java -XX:+UseContainerSupport -XX:+PrintFlagsFinal -version 2> /dev/null | awk '$2 == "MaxHeapSize" {print $4}')
bare=$(heap "$d" LD_PRELOAD=)
with=$(heap "$d" LD_PRELOAD="$LIB")
host=$(heap "$d" LD_PRELOAD="$LIB" MEMLIMIT_MEMINFO=host)
echo "MaxHeapSize in 256 MiB: container support on $(mib "$aware"); off: bare $(mib "$bare"), preloaded $(mib "$with"), MEMLIMIT_MEMINFO=host $(mib "$host")"
[ -n "$aware" ] && [ -n "$bare" ] && [ -n "$with" ] && [ -n "$host" ] || fail "no MaxHeapSize from java"
[ "$bare" -gt $((256 << 20)) ] || fail "bare with container support off: $bare, not sized from the machine: the test shows nothing"
[ "$with" = "$aware" ] || fail "preloaded: MaxHeapSize $with, not the container support's $aware"
[ "$host" = "$bare" ] || fail "MEMLIMIT_MEMINFO=host: MaxHeapSize $host, not the machine's $bare"
