/*
 * binio.c — little-endian binary writers and readers (contract in binio.h).
 * Values are written byte by byte, so files move between machines
 * unchanged.
 */
#include "binio.h"
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define FD_BUFFER 65536

void dn_bw_flush(dn_bw *w, int crc) {
    if (w->err || w->fd < 0 || !w->used) return;
    if (crc) w->crc = dn_crc32_update(w->crc, w->buf, w->used);
    w->err = dn_write_all(w->fd, w->buf, w->used);
    if (w->err) return;
    w->flushed += w->used;
    w->used = 0;
    if (w->on_flush) w->on_flush(w, w->ctx);
}

void dn_bw_put(dn_bw *w, const void *data, size_t n) {
    w->total += n;
    if (w->err || w->count_only || !n) return;
    const unsigned char *p = data;
    if (w->fd < 0) { /* memory: grow */
        if (w->used + n > w->cap) {
            size_t cap = w->cap ? w->cap : 4096;
            while (cap < w->used + n) cap *= 2;
            unsigned char *nb = realloc(w->buf, cap);
            if (!nb) {
                w->err = ENOMEM;
                return;
            }
            w->buf = nb;
            w->cap = cap;
        }
        memcpy(w->buf + w->used, p, n);
        w->used += n;
        return;
    }
    if (!w->buf) {
        w->crc = 0;
        if (!(w->buf = malloc(FD_BUFFER))) {
            w->err = ENOMEM;
            return;
        }
        w->cap = FD_BUFFER;
    }
    while (n > 0 && !w->err) {
        size_t k = w->cap - w->used < n ? w->cap - w->used : n;
        memcpy(w->buf + w->used, p, k);
        w->used += k;
        p += k;
        n -= k;
        if (w->used == w->cap) dn_bw_flush(w, 1);
    }
}

void dn_bw_u32(dn_bw *w, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    dn_bw_put(w, x, 4);
}

void dn_bw_u64(dn_bw *w, uint64_t v) {
    dn_bw_u32(w, (uint32_t)v);
    dn_bw_u32(w, (uint32_t)(v >> 32));
}

void dn_bw_i32(dn_bw *w, int v) {
    dn_bw_u32(w, (uint32_t)v);
}

void dn_bw_f32(dn_bw *w, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    dn_bw_u32(w, u);
}

void dn_bw_f64(dn_bw *w, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    dn_bw_u64(w, u);
}

void dn_bw_str(dn_bw *w, const char *s) {
    size_t n = s ? strlen(s) : 0;
    dn_bw_u32(w, (uint32_t)n);
    dn_bw_put(w, s ? s : "", n);
}

void dn_bw_floats(dn_bw *w, const float *f, size_t n) {
    if (w->count_only) {
        w->total += 4 * n;
        return;
    }
    for (size_t i = 0; i < n; i++) dn_bw_f32(w, f[i]);
}

/* IEEE binary16, rounded to nearest, ties to even; NaN stays NaN and a value
 * beyond 65504 (after rounding) becomes infinity. */
uint16_t dn_half_of(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7FFFFFFFu;
    if (ax > 0x7F800000u) return sign | 0x7E00;  /* NaN */
    if (ax >= 0x477FF000u) return sign | 0x7C00; /* 65520 and up round to infinity */
    if (ax < 0x38800000u) {                      /* below 2^-14: a subnormal half */
        float a;
        memcpy(&a, &ax, 4);
        return sign | (uint16_t)lrintf(a * 16777216.0f); /* units of 2^-24, exact scaling */
    }
    uint32_t h = ((ax >> 23) - 112) << 10 | (ax >> 13 & 0x3FF), rest = ax & 0x1FFF;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++; /* a carry moves into the exponent */
    return sign | (uint16_t)h;
}

float dn_float_of_half(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = h >> 10 & 0x1F, m = h & 0x3FF, x;
    if (e == 0) {
        float f = ldexpf((float)m, -24);
        return sign ? -f : f;
    }
    x = e == 31 ? sign | 0x7F800000u | m << 13 : sign | (e + 112) << 23 | m << 13;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

void dn_bw_halves(dn_bw *w, const float *f, size_t n) {
    if (w->count_only) {
        w->total += 2 * n;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint16_t h = dn_half_of(f[i]);
        unsigned char b[2] = {(unsigned char)h, (unsigned char)(h >> 8)};
        dn_bw_put(w, b, 2);
    }
}

int dn_br_halves(dn_br *r, float *f, size_t n) {
    if (r->bad || (r->len - r->pos) / 2 < n) {
        r->bad = 1;
        return 0;
    }
    for (size_t i = 0; i < n; i++, r->pos += 2)
        f[i] = dn_float_of_half((uint16_t)(r->p[r->pos] | r->p[r->pos + 1] << 8));
    return 1;
}

uint32_t dn_br_u32(dn_br *r) {
    if (r->bad || r->len - r->pos < 4) {
        r->bad = 1;
        return 0;
    }
    const unsigned char *x = r->p + r->pos;
    r->pos += 4;
    return (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
}

uint64_t dn_br_u64(dn_br *r) {
    uint64_t lo = dn_br_u32(r);
    return (uint64_t)dn_br_u32(r) << 32 | lo;
}

int dn_br_i32(dn_br *r) {
    uint32_t u = dn_br_u32(r);
    if (u > INT32_MAX) r->bad = 1;
    return (int)(u & INT32_MAX);
}

float dn_br_f32(dn_br *r) {
    uint32_t u = dn_br_u32(r);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

double dn_br_f64(dn_br *r) {
    uint64_t u = dn_br_u64(r);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

char *dn_br_str(dn_br *r, uint32_t max) {
    uint32_t n = dn_br_u32(r);
    if (r->bad || n > max || r->len - r->pos < n || memchr(r->p + r->pos, 0, n)) {
        r->bad = 1;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->bad = 1;
        return NULL;
    }
    memcpy(s, r->p + r->pos, n);
    s[n] = 0;
    r->pos += n;
    return s;
}

int dn_br_floats(dn_br *r, float *f, size_t n) {
    if (r->bad || (r->len - r->pos) / 4 < n) {
        r->bad = 1;
        return 0;
    }
    for (size_t i = 0; i < n; i++) f[i] = dn_br_f32(r);
    return 1;
}

size_t dn_br_left(const dn_br *r) {
    return r->len - r->pos;
}
