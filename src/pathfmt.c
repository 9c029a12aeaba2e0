#include "pathfmt.h"
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

int ml_path_expand(char *out, size_t cap, const char *pattern, int pid, const char *ext) {
    if (cap) out[0] = '\0';
    if (!pattern) return EINVAL;
    char num[16];
    size_t nl = ml_fmt(num, sizeof num, "%d", pid), n = 0;
    for (const char *s = pattern; *s; s++) {
        bool is_pid = s[0] == '%' && s[1] == 'p';
        const char *piece = is_pid ? num : s;
        size_t k = is_pid ? nl : 1;
        if (n + k >= cap) goto too_long;
        memcpy(out + n, piece, k);
        n += k;
        s += is_pid;
    }
    if (ext) {
        size_t el = strlen(ext);
        if (n + 1 + el >= cap) goto too_long;
        out[n++] = '.';
        memcpy(out + n, ext, el);
        n += el;
    }
    out[n] = '\0';
    return 0;
too_long:
    if (cap) out[0] = '\0';
    return ENAMETOOLONG;
}
