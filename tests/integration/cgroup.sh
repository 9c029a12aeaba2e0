# SPDX-License-Identifier: MIT
# Memory cgroup helpers for tests, the demo and benchmarks (sourced by sh/bash).
# Finds this process's memory cgroup through /proc/self/cgroup and mountinfo
# (v1 memory controller, or v2 with memory enabled), creates children with a
# limit, runs commands inside them and reads their peak and OOM kills.

# Sets CG_PARENT (where we may create memory cgroups) and CG_VERSION, or fails
# with a reason on stderr.
cg_parent() {
    v1_path=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {sub(/^[^:]*:[^:]*:/, ""); print; exit}' /proc/self/cgroup)
    if [ -n "$v1_path" ]; then
        mnt=$(awk '{for (i = 7; $i != "-"; i++); if ($(i+1) == "cgroup" && $(i+3) ~ /(^|,)memory(,|$)/) {print $5; exit}}' /proc/self/mountinfo)
        [ -n "$mnt" ] || { echo "no cgroup v1 memory mount in /proc/self/mountinfo" >&2; return 1; }
        dir="$mnt$v1_path"
        CG_VERSION=1
    else
        v2_path=$(awk -F: '$1 == "0" && $2 == "" {sub(/^0::/, ""); print; exit}' /proc/self/cgroup)
        mnt=$(awk '{for (i = 7; $i != "-"; i++); if ($(i+1) == "cgroup2") {print $5; exit}}' /proc/self/mountinfo)
        [ -n "$mnt" ] && [ -n "$v2_path" ] || { echo "no memory cgroup found (neither v1 memory nor cgroup2)" >&2; return 1; }
        dir="$mnt$v2_path"
        grep -qw memory "$dir/cgroup.controllers" 2>/dev/null || { echo "cgroup v2 at $dir has no memory controller" >&2; return 1; }
        CG_VERSION=2
    fi
    dir=${dir%/}
    [ -w "$dir" ] || { echo "memory cgroup $dir is not writable (run as root or delegate it)" >&2; return 1; }
    CG_PARENT=$dir
}

# cg_create NAME BYTES: creates a child with that limit; sets CG_DIR.
cg_create() {
    cg_parent || return 1
    parent=$CG_PARENT
    CG_DIR="$parent/memlimit-$1-$$"
    mkdir "$CG_DIR" || return 1
    if [ "$CG_VERSION" = 1 ]; then
        echo "$2" > "$CG_DIR/memory.limit_in_bytes" || { rmdir "$CG_DIR"; return 1; }
        echo 0 > "$CG_DIR/memory.swappiness" 2>/dev/null || true
    else
        # v2 children need the controller enabled in the parent
        echo "+memory" > "$parent/cgroup.subtree_control" 2>/dev/null || true
        echo "$2" > "$CG_DIR/memory.max" || { rmdir "$CG_DIR"; return 1; }
        echo 0 > "$CG_DIR/memory.swap.max" 2>/dev/null || true
    fi
}

# cg_run DIR CMD...: runs CMD inside the cgroup; returns its exit status.
cg_run() {
    _d=$1; shift
    sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$_d" "$@"
}

# cg_peak DIR: peak usage in bytes.
cg_peak() {
    if [ -f "$1/memory.max_usage_in_bytes" ]; then cat "$1/memory.max_usage_in_bytes"
    elif [ -f "$1/memory.peak" ]; then cat "$1/memory.peak"
    else echo 0; fi
}

# cg_oom_kills DIR: how many processes the OOM killer killed in it.
cg_oom_kills() {
    if [ -f "$1/memory.oom_control" ]; then awk '$1 == "oom_kill" {print $2}' "$1/memory.oom_control"
    else awk '$1 == "oom_kill" {print $2}' "$1/memory.events"; fi
}

# cg_remove DIR: removes it once its processes are gone.
cg_remove() {
    [ -d "$1" ] || return 0
    for _i in 1 2 3 4 5 6 7 8 9 10; do
        rmdir "$1" 2>/dev/null && return 0
        [ -n "$(cat "$1/cgroup.procs" 2>/dev/null)" ] && xargs -r kill -9 < "$1/cgroup.procs" 2>/dev/null
        sleep 0.2
    done
    echo "cgroup: could not remove $1" >&2
    return 1
}

mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
