# SPDX-License-Identifier: MIT
# A preload that fails loudly: memlimit-run refuses, with one line and exit status 2,
# a command whose loader could not load the library (it would skip it and run the
# program without a limit): another ELF class or machine, a static program, a
# program (or a #! script's interpreter) of the other C library. The same command
# runs with --no-check, and every ordinary program and script still runs. --show --
# CMD says so too, with the same status.
. "$ROOT/tests/integration/lib.sh"
T=$ROOT/build/preflight; rm -rf "$T"; mkdir -p "$T"
run() { "$ROOT/scripts/memlimit-run" "$@"; }
refused() { # WHAT PATTERN -- memlimit-run ARGS...: exit 2 and a line matching PATTERN
    local what=$1 pat=$2; shift 3
    out=$(run "$@" 2>&1); rc=$?
    [ $rc = 2 ] || fail "$what: exit $rc, not 2: $out"
    [ "$(echo "$out" | wc -l)" = 1 ] || fail "$what: not one line: $out"
    echo "$out" | grep -q "$pat" || fail "$what: '$out' does not say '$pat'"
    echo "$what: $out"
}
# --show -- CMD says what the run would do: the report on stdout, then the refusal
# line on stderr, that memlimit-run -- CMD would refuse it, and the refusal's status
show_refused() { # WHAT PATTERN CMD
    local what=$1 pat=$2 cmd=$3 err
    out=$(run --show -- "$cmd" 2> "$T/show.err"); rc=$?; err=$(cat "$T/show.err")
    [ $rc = 2 ] || fail "--show $what: exit $rc, not 2 as the run's refusal: $err"
    echo "$out" | grep -q '^soft limit:' || fail "--show $what: no report: $out"
    [ "$(echo "$err" | wc -l)" = 1 ] || fail "--show $what: not one line: $err"
    echo "$err" | grep -q "$pat" || fail "--show $what: '$err' does not say '$pat'"
    echo "$err" | grep -qF "memlimit-run -- $cmd would refuse to run it (exit status 2)" ||
        fail "--show $what: '$err' does not say that the run would refuse"
    run --show --json -- "$cmd" 2> /dev/null | python3 -c 'import json, sys; json.load(sys.stdin)' ||
        fail "--show --json $what: not JSON on stdout"
    echo "--show $what: exit 2: $err"
}
# what runs as before: an ELF program, a program found on PATH, a shell and a
# python script (#!/usr/bin/env python3), a command that does not exist (127, as
# env(1): t_run checks its line)
[ "$(run -- /bin/echo ok)" = ok ] || fail "/bin/echo"
[ "$(run -- echo ok)" = ok ] || fail "echo on PATH"
printf '#!/bin/sh\necho script ok\n' > "$T/s.sh"; chmod +x "$T/s.sh"
[ "$(run -- "$T/s.sh")" = "script ok" ] || fail "sh script"
printf '#!/usr/bin/env python3\nprint("python ok")\n' > "$T/p.py"; chmod +x "$T/p.py"
[ "$(run -- "$T/p.py")" = "python ok" ] || fail "python script through env"
run -- "$T/nonexistent" 2> /dev/null; [ $? = 127 ] || fail "a missing command is not 127"
echo "ordinary programs and scripts run"
# nor does --show of one warn
for c in /bin/echo echo "$T/s.sh" "$T/p.py"; do
    err=$(run --show -- "$c" 2>&1 > /dev/null) && [ -z "$err" ] || fail "--show -- $c: exit $?: $err"
done

# another class, another machine: /bin/true with its ELF header changed
cp /bin/true "$T/class32"; printf '\001' | dd of="$T/class32" bs=1 seek=4 conv=notrunc 2> /dev/null
refused "32-bit program" "that is a 32-bit .* program, the library is 64-bit" -- -- "$T/class32"
show_refused "32-bit program" "that is a 32-bit .* program, the library is 64-bit" "$T/class32"
cp /bin/true "$T/arm64"; printf '\267\000' | dd of="$T/arm64" bs=1 seek=18 conv=notrunc 2> /dev/null
refused "aarch64 program" "that is a 64-bit aarch64 program, the library is 64-bit x86-64" -- -- "$T/arm64"
# a static program: LD_PRELOAD has no effect on it
printf 'int main(void) { return 0; }\n' > "$T/s.c"
if gcc -static -o "$T/static" "$T/s.c" 2> /dev/null; then
    refused "static program" "statically linked (no dynamic loader)" -- -- "$T/static"
    run --no-check -- "$T/static" || fail "--no-check: the static program did not run"
    echo "--no-check: the static program ran"
    show_refused "static program" "statically linked (no dynamic loader)" "$T/static"
    # with --no-check the run would run it, without a limit: --show says that, exit 0
    err=$(run --show --no-check -- "$T/static" 2>&1 > /dev/null) || fail "--show --no-check static: exit $?: $err"
    echo "$err" | grep -q "statically linked.*memlimit-run --no-check -- $T/static would run it without a limit" ||
        fail "--show --no-check static: '$err'"
    echo "--show --no-check static program: exit 0: $err"
else
    echo "no static libc here: the static case is not checked"
fi
# the other C library: a musl program, and a script whose interpreter is one
if command -v musl-gcc > /dev/null && [ -e /lib/ld-musl-x86_64.so.1 ]; then
    musl-gcc -o "$T/musl" "$T/s.c" || fail "musl-gcc"
    refused "musl program" "runs on musl's loader (/lib/ld-musl-x86_64.so.1), the library is built for glibc" -- -- "$T/musl"
    show_refused "musl program" "runs on musl's loader" "$T/musl"
    printf '#!%s\n' "$T/musl" > "$T/m.sh"; chmod +x "$T/m.sh"
    refused "script run by a musl program" "(a script run by $T/musl): it runs on musl's loader" -- -- "$T/m.sh"
else
    echo "SKIP part: musl-tools not installed: the musl case is not checked"
fi
