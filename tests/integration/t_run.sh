# SPDX-License-Identifier: MIT
# memlimit-run for real: options and their errors, --show (text and JSON) on fixture
# trees and inside a real cgroup, the exit status and a terminating signal passed
# through, LD_PRELOAD kept; 127 and 126, as env(1), for a command not found or not
# executable.
. "$ROOT/tests/integration/lib.sh"
RUN=$ROOT/scripts/memlimit-run
PY=$(command -v python3) || fail "python3 is needed to parse --show --json"

# errors: one line on stderr, exit 2, nothing run
for args in "--bogus -- true" "--limit" "--limit 12XB -- true" "--hard 150% -- true" \
            "--scope heap -- true" "--json -- true" "" "--limit 80%"; do
    # shellcheck disable=SC2086
    err=$("$RUN" $args 2>&1 > /dev/null); rc=$?
    [ $rc -eq 2 ] || fail "memlimit-run $args: exit $rc, expected 2"
    [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "memlimit-run $args: not one line: $err"
    echo "memlimit-run $args -> exit 2: $err"
done
"$RUN" --limit 12XB -- touch "$ROOT/build/run-ran" 2>/dev/null
[ ! -e "$ROOT/build/run-ran" ] || { rm -f "$ROOT/build/run-ran"; fail "ran the command despite a bad value"; }
"$RUN" --help | grep -q -- '--hard SIZE|N%' || fail "--help does not document --hard"
for o in --limit --hard --scope --trace --samples --log --log-format --metrics --profile --show --json; do
    "$RUN" --help | grep -q -- "^  $o" || fail "--help does not document $o"
done

# a missing value or command: one line naming the option, exit 2, nothing run and no
# file made (in an empty directory: "--metrics -- true" once wrote a file named "--")
empty=$ROOT/build/run-empty; rm -rf "$empty"; mkdir -p "$empty"
for args in "--limit" "--limit=" "--hard" "--metrics -- true" "--metrics" "--log --trace -- true" \
            "--profile -- true" "--scope=" "--log-format" "--trace=3 -- true" "--show=yes" "--limit 80% --" \
            "--limit -5MiB -- true" "-x -- true"; do
    # shellcheck disable=SC2086
    err=$(cd "$empty" && "$RUN" $args 2>&1 > /dev/null); rc=$?
    [ $rc -eq 2 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "memlimit-run $args: exit $rc: $err"
    opt=${args%% *}; opt=${opt%%=*}
    case $args in "--limit 80% --") opt="no command" ;; esac
    echo "$err" | grep -q -- "$opt" || fail "memlimit-run $args: the line does not name $opt: $err"
    [ -z "$(ls -A "$empty")" ] || fail "memlimit-run $args made a file: $(ls -A "$empty")"
    echo "memlimit-run $args -> exit 2: $err"
done
# every option that takes a value takes it after '=' as well; --trace=N
out=$("$RUN" --limit=80% --hard=95% --scope=cgroup --trace=2 --log=/dev/null --log-format=json \
      --metrics="$empty/m-%p.prom" --profile="$empty/p" -- \
      sh -c 'echo "$MEMLIMIT|$MEMLIMIT_HARD|$MEMLIMIT_SCOPE|$MEMLIMIT_TRACE|$MEMLIMIT_LOG|$MEMLIMIT_LOG_FORMAT|$MEMLIMIT_METRICS|$MEMLIMIT_PROFILE"')
[ "$out" = "80%|95%|cgroup|2|/dev/null|json|$empty/m-%p.prom|$empty/p" ] || fail "--opt=value: $out"
[ "$("$RUN" --trace=0 -- sh -c 'echo $MEMLIMIT_TRACE' 2>/dev/null)" = 0 ] &&
    [ "$("$RUN" --trace -- sh -c 'echo $MEMLIMIT_TRACE' 2>/dev/null)" = 1 ] ||
    fail "--trace=0 / --trace"
# after --, everything is the command's, options included
out=$("$RUN" --limit 80% -- sh -c 'echo "$MEMLIMIT:$*"' sh --limit 5 -- --show)
[ "$out" = "80%:--limit 5 -- --show" ] || fail "arguments after --: $out"
echo "--opt=value for every option, --trace=N, and what follows -- left to the command: ok"
rm -rf "$empty"

# a command that cannot be run: env(1)'s statuses, 127 not found and 126 found but
# not executable, with one line of ours (not the shell's "exec: ...: not found"),
# for the run and for --show alike
nx=$ROOT/build/run-noexec; printf '#!/bin/sh\necho ran\n' > "$nx"; chmod 644 "$nx"
for c in "nosuchcmd|127|nosuchcmd: command not found" "die|127|die: command not found" \
         "./nosuchfile|127|./nosuchfile: No such file or directory" "$nx|126|$nx: Permission denied" \
         "$ROOT/build|126|$ROOT/build: Permission denied"; do
    cmd=${c%%|*} want=${c#*|}; want_rc=${want%%|*} want=${want#*|}
    for show in "" --show; do
        # shellcheck disable=SC2086
        err=$("$RUN" $show -- "$cmd" 2>&1 > /dev/null); rc=$?
        [ $rc -eq "$want_rc" ] && [ "$err" = "memlimit-run: $want" ] ||
            fail "memlimit-run $show -- $cmd: exit $rc, '$err'; expected $want_rc, 'memlimit-run: $want'"
    done
    echo "memlimit-run [--show] -- $cmd -> exit $rc: $err"
done
# in PATH: a file of that name that is not executable is 126, as execvp says
err=$(PATH=$ROOT/build:$PATH "$RUN" -- run-noexec 2>&1); rc=$?
[ $rc -eq 126 ] && [ "$err" = "memlimit-run: run-noexec: Permission denied" ] || fail "run-noexec in PATH: exit $rc, '$err'"
# --no-check does not skip this: the command still has to exist
err=$("$RUN" --no-check -- nosuchcmd 2>&1); rc=$?
[ $rc -eq 127 ] && [ "$err" = "memlimit-run: nosuchcmd: command not found" ] || fail "--no-check -- nosuchcmd: exit $rc, '$err'"
rm -f "$nx"
# no library to preload: the run refuses (2), and --show -- CMD says it would
nolib=$ROOT/build/run-nolib/bin; rm -rf "${nolib%/bin}"; mkdir -p "$nolib"
cp "$RUN" "$ROOT/build/memlimit-show" "$nolib/"
if [ -e /usr/local/lib/libmemlimit.so.0 ] || [ -e /usr/lib/libmemlimit.so.0 ]; then
    echo "a libmemlimit.so.0 is installed: the missing library is not checked"
else
    err=$("$nolib/memlimit-run" -- true 2>&1); rc=$?
    [ $rc -eq 2 ] && [ "$err" = "memlimit-run: cannot find libmemlimit.so (build it with make, or make install)" ] ||
        fail "no library: exit $rc, '$err'"
    err=$("$nolib/memlimit-run" --show -- true 2>&1 > /dev/null); rc=$?
    [ $rc -eq 2 ] && [ "$err" = "memlimit-run: cannot find libmemlimit.so (build it with make, or make install); memlimit-run -- true would refuse to run it (exit status 2)" ] ||
        fail "--show with no library: exit $rc, '$err'"
    "$nolib/memlimit-run" --show > /dev/null || fail "--show (no command) with no library: exit $?"
    echo "no library: the run and --show -- true exit 2: $err"
fi
rm -rf "${nolib%/bin}"

# exit status, signals, LD_PRELOAD kept, options become variables
"$RUN" -- sh -c 'exit 7'; rc=$?
[ $rc -eq 7 ] || fail "exit status 7 came back as $rc"
"$RUN" -- sh -c 'kill -TERM $$'; rc=$?
[ $rc -eq 143 ] || fail "SIGTERM came back as $rc, expected 143"
out=$(LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 "$RUN" --limit=300MiB --hard 95% --scope cgroup --samples --log /dev/null -- \
      sh -c 'echo "$LD_PRELOAD|$MEMLIMIT|$MEMLIMIT_HARD|$MEMLIMIT_SCOPE|$MEMLIMIT_TRACE|$MEMLIMIT_LOG"')
echo "environment: $out"
[ "$out" = "$ROOT/build/libmemlimit.so /usr/lib/x86_64-linux-gnu/libjemalloc.so.2|300MiB|95%|cgroup|2|/dev/null" ] ||
    fail "environment not as asked: $out"
# the library really is loaded, from the exec'd command's point of view
grep -q libmemlimit <("$RUN" -- cat /proc/self/maps) || fail "libmemlimit not mapped in the command"

# --show on fixture trees: the limit and the soft limit the library would use
show_json() { "$RUN" --show --json "$@" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["limit"], d["soft"], d["hard"], d["cgroup"]["version"], d["cgroup"]["memory_high"], len(d["warnings"]))'; }
got=$(show_json --root "$ROOT/tests/fixtures/v2-high") || fail "--show --json on v2-high"
echo "v2-high: limit soft hard version memory.high warnings = $got"
[ "$got" = "805306368 724775731 0 2 805306368 0" ] || fail "v2-high: $got"
got=$(show_json --root "$ROOT/tests/fixtures/v1-hierarchy" --limit 50% --hard 1GiB) || fail "--show on v1-hierarchy"
echo "v1-hierarchy with --limit 50% --hard 1GiB: $got"
set -- $got
[ "$2" -eq $(($1 / 2)) ] && [ "$3" -eq 1073741824 ] && [ "$4" -eq 1 ] || fail "v1-hierarchy: $got"
got=$(MEMLIMIT_REFRESH=0 "$RUN" --show --json --root "$ROOT/tests/fixtures/none" 2>&1) && fail "a bad MEMLIMIT_REFRESH was accepted: $got"
"$RUN" --show --root "$ROOT/tests/fixtures/v2-high" | grep -q '^memory.high: *768.0MiB' || fail "text --show lacks memory.high"
# a hard limit below the (default, 90%) soft limit: a warning in --show too
got=$("$RUN" --show --json --root "$ROOT/tests/fixtures/v2-high" --hard 80% | "$PY" -c 'import json,sys; print("\n".join(json.load(sys.stdin)["warnings"]))')
echo "$got" | grep -q "^the hard limit 614.4MiB (MEMLIMIT_HARD) is below the soft limit 691.2MiB" || fail "--show --hard 80%: warnings: $got"
echo "--show --hard 80% (soft 90%): $got"

# --show in a real cgroup, and as a command that links jemalloc would see it
need_cgroup
new_cgroup show $((300 << 20))
got=$(cg_run "$CG_DIR" "$RUN" --show --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["limit"], d["soft"], d["limit_kind"], d["allocator"])')
echo "in a 300 MiB cgroup: $got"
[ "$got" = "314572800 283115520 memory.limit_in_bytes glibc" ] || fail "real cgroup: $got"
cg_run "$CG_DIR" "$RUN" --show | sed 's/^/   /'
gcc -o "$ROOT/build/je-linked" -x c - -L/usr/lib/x86_64-linux-gnu -l:libjemalloc.so.2 <<'C' || fail "cannot build a jemalloc-linked program"
#include <stdlib.h>
int main(void) { free(malloc(1)); return 0; }
C
got=$("$RUN" --show --json -- "$ROOT/build/je-linked" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["allocator"])')
echo "a command linking jemalloc: allocator $got"
[ "$got" = jemalloc ] || fail "linked jemalloc not found: $got"
