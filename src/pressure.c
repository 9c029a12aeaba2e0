/* SPDX-License-Identifier: MIT */
#include "pressure.h"

#include <stddef.h>
#include <string.h>

/* digits into *v, no overflow; returns the end or NULL */
static const char *parse_u64(const char *p, uint64_t *v) {
    uint64_t x = 0;
    const char *s = p;
    for (; *p >= '0' && *p <= '9'; p++)
        if (__builtin_mul_overflow(x, 10, &x) ||
            __builtin_add_overflow(x, (uint64_t)(*p - '0'), &x))
            return NULL;
    if (p == s) return NULL;
    *v = x;
    return p;
}

/* "12.34" (exactly two decimals, as the kernel prints) into 1234; at most 100.00 */
static const char *parse_pct(const char *p, uint32_t *v) {
    uint64_t whole;
    if (!(p = parse_u64(p, &whole)) || *p != '.' || whole > 100) return NULL;
    p++;
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9') return NULL;
    uint32_t x = (uint32_t)whole * 100 + (uint32_t)(p[0] - '0') * 10 + (uint32_t)(p[1] - '0');
    if (x > 10000) return NULL;
    *v = x;
    return p + 2;
}

static const char *expect(const char *p, const char *word) {
    size_t n = strlen(word);
    return strncmp(p, word, n) == 0 ? p + n : NULL;
}

bool ml_parse_psi_line(const char *line, struct ml_psi_line *out) {
    struct ml_psi_line r = {0};
    const char *p = line;
    if (!p) return false;
    if ((p = expect(line, "some ")))
        r.full = false;
    else if ((p = expect(line, "full ")))
        r.full = true;
    else
        return false;
    if (!(p = expect(p, "avg10=")) || !(p = parse_pct(p, &r.avg10)) ||
        !(p = expect(p, " avg60=")) || !(p = parse_pct(p, &r.avg60)) ||
        !(p = expect(p, " avg300=")) || !(p = parse_pct(p, &r.avg300)) ||
        !(p = expect(p, " total=")) || !(p = parse_u64(p, &r.total)))
        return false;
    if (*p == '\n') p++;
    if (*p) return false;
    *out = r;
    return true;
}

static const struct {
    const char *key;
    size_t off;
} memev_keys[] = {
    {"low", offsetof(struct ml_memory_events, low)},
    {"high", offsetof(struct ml_memory_events, high)},
    {"max", offsetof(struct ml_memory_events, max)},
    {"oom", offsetof(struct ml_memory_events, oom)},
    {"oom_kill", offsetof(struct ml_memory_events, oom_kill)},
    {"oom_group_kill", offsetof(struct ml_memory_events, oom_group_kill)},
};

int ml_parse_memory_events(const char *text, struct ml_memory_events *out) {
    struct ml_memory_events r;
    memset(&r, 0, sizeof r);
    int known = 0;
    unsigned seen = 0;
    if (!text) return -1;
    for (const char *p = text; *p;) {
        /* "<key> <decimal>\n": key of [a-z_], one space */
        const char *k = p;
        while ((*p >= 'a' && *p <= 'z') || *p == '_')
            p++;
        size_t kl = (size_t)(p - k);
        uint64_t v;
        if (kl == 0 || *p != ' ' || !(p = parse_u64(p + 1, &v)) || (*p != '\n' && *p)) return -1;
        if (*p == '\n') p++;
        for (size_t i = 0; i < sizeof memev_keys / sizeof memev_keys[0]; i++) {
            if (strlen(memev_keys[i].key) == kl && strncmp(memev_keys[i].key, k, kl) == 0) {
                if (seen & 1u << i) return -1; /* the kernel never repeats a key */
                seen |= 1u << i;
                memcpy((char *)&r + memev_keys[i].off, &v, sizeof v);
                known++;
            }
        }
    }
    *out = r;
    return known;
}

unsigned ml_memory_events_diff(const struct ml_memory_events *b, const struct ml_memory_events *a) {
    unsigned f = 0;
    if (a->high != b->high) f |= ML_MEMEV_HIGH;
    if (a->max != b->max) f |= ML_MEMEV_MAX;
    if (a->oom != b->oom || a->oom_kill != b->oom_kill || a->oom_group_kill != b->oom_group_kill)
        f |= ML_MEMEV_OOM;
    return f;
}

bool ml_psi_trigger_valid(const char *text, size_t len, bool *full) {
    char buf[64];
    if (!text) return false;
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\0'))
        len--;
    if (len == 0 || len >= sizeof buf) return false;
    memcpy(buf, text, len);
    buf[len] = '\0';
    const char *p = buf;
    bool f;
    if ((p = expect(buf, "some ")))
        f = false;
    else if ((p = expect(buf, "full ")))
        f = true;
    else
        return false;
    uint64_t stall, window;
    if (!(p = parse_u64(p, &stall)) || *p != ' ' || !(p = parse_u64(p + 1, &window)) || *p)
        return false;
    if (window < 500000 || window > 10000000 || stall == 0 || stall > window) return false;
    if (window % 2000000) return false; /* unprivileged rule */
    if (full) *full = f;
    return true;
}

static int b64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

long ml_base64_decode(const char *in, unsigned char *out, size_t cap) {
    if (!in) return -1;
    size_t n = strlen(in);
    while (n && in[n - 1] == '=')
        n--;
    if (strlen(in) - n > 2 || n % 4 == 1) return -1;
    size_t len = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(in[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (len == cap) return -1;
            out[len++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc) return -1; /* leftover bits must be zero (canonical encoding) */
    return (long)len;
}
