# SPDX-License-Identifier: MIT
# Allocations made before our constructor (another library's constructor runs
# first): served by the next allocator, freed and grown later without harm.
. "$ROOT/tests/integration/lib.sh"
cat > "$ROOT/build/early.c" <<'C'
#include <stdlib.h>
#include <string.h>
char *early_block; size_t early_usable;
extern size_t malloc_usable_size(void *);
__attribute__((constructor)) static void early(void) {
    early_block = malloc(100);
    strcpy(early_block, "made before memlimit's constructor");
    early_usable = malloc_usable_size(early_block);
}
C
cat > "$ROOT/build/early_main.c" <<'C'
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
extern char *early_block;
extern size_t early_usable;
int main(void) {
    if (!early_block) return 1; /* early_usable is the allocator's answer (tcmalloc: 0 that early) */
    char *p = realloc(early_block, 1 << 20); /* grown by the same allocator */
    if (!p || strcmp(p, "made before memlimit's constructor") != 0) return 2;
    free(p);
    puts("early allocation survived realloc and free");
    return 0;
}
C
gcc -shared -fPIC -o "$ROOT/build/libearly.so" "$ROOT/build/early.c" || fail "build libearly"
gcc -o "$ROOT/build/early" "$ROOT/build/early_main.c" -L"$ROOT/build" -learly -Wl,-rpath,"$ROOT/build" || fail "build"
for a in $ALLOCATORS; do
    name=$(alloc_name "$a"); path=$(alloc_path "$a")
    # LD_DEBUG shows the order in which constructors ran
    order=$(LD_DEBUG=files LD_PRELOAD="$LIB $path" "$ROOT/build/early" 2>&1 >/dev/null | grep 'calling init' | sed 's/.*init: //' | tr '\n' ' ')
    case $order in *libearly.so*libmemlimit.so*) ;; *) fail "$name: libearly's constructor did not run before ours: $order" ;; esac
    out=$(LD_PRELOAD="$LIB $path" MEMLIMIT=64MiB "$ROOT/build/early") || fail "$name: status $? ($out)"
    echo "$name: $out (libearly's constructor ran before memlimit's)"
done
