# SPDX-License-Identifier: MIT
# The callback example in README.md, compiled from the README itself: OOM-killed
# in a 256 MiB cgroup without memlimit, completes with it.
. "$ROOT/tests/integration/lib.sh"
need_cgroup
src=$ROOT/build/readme_example.c
awk '/^```c$/ {inblock = 1; buf = ""; next} /^```$/ && inblock {if (buf ~ /memlimit_register\(evict/) {printf "%s", buf; exit} inblock = 0; next} inblock {buf = buf $0 "\n"}' \
    "$ROOT/README.md" > "$src"
grep -q "memlimit_register(evict" "$src" || fail "example not found in README.md"
gcc -Wall -Wextra -Werror -I"$ROOT/src" -o "$ROOT/build/readme_example" "$src" -lpthread || fail "the README example does not compile"
LIMIT=$((256 << 20))
new_cgroup readme-off $LIMIT; off=$CG_DIR
cg_run "$off" "$ROOT/build/readme_example" > /dev/null 2>&1; rc_off=$?
new_cgroup readme-on $LIMIT; on=$CG_DIR
# it allocates at GB/s: 10% of headroom is crossed in milliseconds, 20% is not
out=$(cg_run "$on" env LD_PRELOAD="$LIB" MEMLIMIT=80% "$ROOT/build/readme_example" 2>&1); rc_on=$?
echo "without memlimit: exit $rc_off; with: exit $rc_on, peak $(mib "$(cg_peak "$on")") of $(mib $LIMIT): $out"
[ $rc_off -eq 137 ] || fail "expected an OOM kill without memlimit"
[ $rc_on -eq 0 ] || fail "exit $rc_on with memlimit"
echo "$out" | grep -q "^done" || fail "output: $out"
