/* Formatting without allocation, for paths and log lines on any thread and in
 * signal handlers: a printf subset into a caller's buffer, and bytes and durations
 * in human units. */
#include "fmt.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

static size_t put_u64(char *out, uint64_t v, unsigned base) {
    char tmp[24];
    size_t n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

size_t ml_vfmt(char *buf, size_t cap, const char *fmt, va_list ap) {
    size_t len = 0;
    if (cap == 0) return 0;
        /* the argument is evaluated exactly once, whether or not it fits */
#define PUT(c)                                                                                     \
    do {                                                                                           \
        char put_c_ = (c);                                                                         \
        if (len + 1 < cap) buf[len++] = put_c_;                                                    \
    } while (0)
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            PUT(*f);
            continue;
        }
        f++;
        int lng = 0;
        bool size_mod = false;
        while (*f == 'l') {
            lng++;
            f++;
        }
        if (*f == 'z') {
            size_mod = true;
            f++;
        }
        char num[24];
        size_t n = 0;
        switch (*f) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s) s = "(null)";
            while (*s)
                PUT(*s++);
            continue;
        }
        case 'c':
            PUT((char)va_arg(ap, int));
            continue;
        case 'd':
        case 'i': {
            int64_t v = size_mod ? (int64_t)va_arg(ap, ssize_t)
                        : lng    ? (int64_t)va_arg(ap, long long)
                                 : (int64_t)va_arg(ap, int);
            if (lng == 1 && !size_mod) v = (int64_t)(long)v;
            uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            if (v < 0) PUT('-');
            n = put_u64(num, u, 10);
            break;
        }
        case 'u':
        case 'x': {
            uint64_t v = size_mod ? (uint64_t)va_arg(ap, size_t)
                         : lng    ? (uint64_t)va_arg(ap, unsigned long long)
                                  : (uint64_t)va_arg(ap, unsigned);
            n = put_u64(num, v, *f == 'x' ? 16 : 10);
            break;
        }
        case '%':
            PUT('%');
            continue;
        case '\0':
            f--;
            continue;
        default:
            PUT('%');
            PUT(*f);
            continue;
        }
        for (size_t i = 0; i < n; i++)
            PUT(num[i]);
    }
#undef PUT
    buf[len] = '\0';
    return len;
}

size_t ml_fmt(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = ml_vfmt(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

/* value/unit with one decimal, rounded to nearest. */
static const char *fmt_scaled(char *buf, uint64_t v, uint64_t unit, const char *suffix) {
    uint64_t tenths = (v / unit) * 10 + ((v % unit) * 10 + unit / 2) / unit;
    if (unit == 1) tenths = v * 10;
    ml_fmt(buf, 24, "%llu.%llu%s", (unsigned long long)(tenths / 10),
           (unsigned long long)(tenths % 10), suffix);
    return buf;
}

const char *ml_fmt_bytes(char *buf, uint64_t b) {
    static const char *const sfx[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (b < 1024) {
        ml_fmt(buf, 24, "%lluB", (unsigned long long)b);
        return buf;
    }
    int i = 0;
    uint64_t unit = 1024;
    while (i < 5 && b / unit >= 1024) {
        unit *= 1024;
        i++;
    }
    return fmt_scaled(buf, b, unit, sfx[i]);
}

const char *ml_fmt_ns(char *buf, uint64_t ns) {
    if (ns < 1000) {
        ml_fmt(buf, 24, "%lluns", (unsigned long long)ns);
        return buf;
    }
    if (ns < 1000000) {
        ml_fmt(buf, 24, "%lluus", (unsigned long long)(ns / 1000));
        return buf;
    }
    if (ns < 1000000000ULL) return fmt_scaled(buf, ns, 1000000, "ms");
    return fmt_scaled(buf, ns, 1000000000ULL, "s");
}
