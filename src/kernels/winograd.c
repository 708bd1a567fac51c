/*
 * winograd.c — the transforms of F(2x2, 3x3) (see winograd.h):
 *
 *   B^T = [1  0 -1  0]   G = [ 1    0    0 ]   A^T = [1  1  1  0]
 *         [0  1  1  0]       [1/2  1/2  1/2]         [0  1 -1 -1]
 *         [0 -1  1  0]       [1/2 -1/2  1/2]
 *         [0  1  0 -1]       [ 0    0    1 ]
 *
 * Position xi = 4*r + c of a transformed tile is row r, column c. Tiles are
 * handled a row segment at a time (consecutive tx of one ty of one sample),
 * so every loop below runs over the tiles of a segment with unit stride and
 * vectorises: the input rows are first split into even and odd columns,
 * which turns the overlapping 4x4 windows into shifted vectors.
 */
#include "kernels/winograd.h"

#include <string.h>

/* The copies below are a handful of floats: GCC would turn their loops into
 * calls of memcpy and memset, which cost more than the copies. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

/* tiles handled at once; segments longer than this are split */
#define SEG 32

int dn_wino_init(dn_wino *g, int C, int H, int W, int OC, int pad) {
    if (pad < 0 || pad > 2 || C <= 0 || OC <= 0) return -1;
    g->C = C, g->H = H, g->W = W, g->OC = OC, g->pad = pad;
    g->OH = H + 2 * pad - 2;
    g->OW = W + 2 * pad - 2;
    if (g->OH <= 0 || g->OW <= 0) return -1;
    g->th = (g->OH + 1) / 2;
    g->tw = (g->OW + 1) / 2;
    return 0;
}

int dn_wino_init_grad(dn_wino *gd, const dn_wino *g) {
    return dn_wino_init(gd, g->OC, g->OH, g->OW, g->C, 2 - g->pad);
}

/* ---------------------------------------------------------------- weights */

/* u (4x4) = G k G^T for one 3x3 kernel k. */
static void weight_tile(float u[16], const float k[9]) {
    float t[4][3];
    for (int j = 0; j < 3; j++) {
        float a = k[j], b = k[3 + j], c = k[6 + j];
        t[0][j] = a;
        t[1][j] = 0.5f * (a + b + c);
        t[2][j] = 0.5f * (a - b + c);
        t[3][j] = c;
    }
    for (int r = 0; r < 4; r++) {
        float a = t[r][0], b = t[r][1], c = t[r][2];
        u[4 * r + 0] = a;
        u[4 * r + 1] = 0.5f * (a + b + c);
        u[4 * r + 2] = 0.5f * (a - b + c);
        u[4 * r + 3] = c;
    }
}

void dn_wino_weights(float *U, const float *w, int OC, int C, int flipped) {
    for (int o = 0; o < OC; o++)
        for (int c = 0; c < C; c++) {
            const float *k = w + ((size_t)o * C + c) * 9;
            float kk[9], u[16];
            if (flipped)
                for (int i = 0; i < 9; i++) kk[i] = k[8 - i];
            else
                memcpy(kk, k, sizeof kk);
            weight_tile(u, kk);
            /* flipped: the input gradient's convolution has C outputs, OC inputs */
            size_t at = flipped ? (size_t)c * OC + o : (size_t)o * C + c;
            size_t plane = (size_t)OC * C;
            for (int xi = 0; xi < 16; xi++) U[xi * plane + at] = u[xi];
        }
}

void dn_wino_weights_grad(float *dw, const float *dU, int OC, int C) {
    size_t plane = (size_t)OC * C;
    for (size_t p = 0; p < plane; p++) {
        float d[16], t[4][3];
        for (int xi = 0; xi < 16; xi++) d[xi] = dU[xi * plane + p];
        /* dg = G^T d G: first G^T along the columns of each row... */
        for (int r = 0; r < 4; r++) {
            float a = d[4 * r], b = d[4 * r + 1], c = d[4 * r + 2], e = d[4 * r + 3];
            t[r][0] = a + 0.5f * (b + c);
            t[r][1] = 0.5f * (b - c);
            t[r][2] = 0.5f * (b + c) + e;
        }
        /* ...then along the rows */
        float *k = dw + p * 9;
        for (int j = 0; j < 3; j++) {
            float a = t[0][j], b = t[1][j], c = t[2][j], e = t[3][j];
            k[j] += a + 0.5f * (b + c);
            k[3 + j] += 0.5f * (b - c);
            k[6 + j] += 0.5f * (b + c) + e;
        }
    }
}

/* ---------------------------------------------------------------- input */

/* A row segment of tiles: consecutive tx of tile row ty of one sample. */
typedef struct segment {
    int s, ty, tx, len; /* sample, tile row, first tile column, tiles */
    int j;              /* position of its first tile in the range */
} segment;

/* The next segment of tiles t0 .. t0+nt-1 after q (start with q->j = q->len
 * = 0); 0 past the end. */
static int next_segment(const dn_wino *g, long t0, int nt, segment *q) {
    q->j += q->len;
    if (q->j >= nt) return 0;
    long per = (long)g->th * g->tw, t = t0 + q->j;
    int rem = (int)(t % per);
    q->s = (int)(t / per);
    q->ty = rem / g->tw;
    q->tx = rem % g->tw;
    q->len = g->tw - q->tx;
    if (q->len > nt - q->j) q->len = nt - q->j;
    if (q->len > SEG) q->len = SEG;
    return 1;
}

/* 8 floats (GCC/Clang vector extension), loadable from any float address */
typedef float v8 __attribute__((vector_size(32), aligned(4)));
typedef int vi8 __attribute__((vector_size(32), aligned(4)));
#define LD(p) (*(const v8 *)(p))
#define ST(p, v) (*(v8 *)(p) = (v))
#define PAD (SEG + 16) /* room for whole vectors past a segment's end */
#define CB 16          /* channels whose rows are copied together */

/* o[k] = (r[0][k], ..., r[7][k]): an 8x8 transpose in registers. */
static inline void transpose8(const v8 r[8], v8 o[8]) {
#define LO(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 4, 12, 5, 13)
#define HI(a, b) __builtin_shufflevector(a, b, 2, 10, 3, 11, 6, 14, 7, 15)
#define Q0(a, b) __builtin_shufflevector(a, b, 0, 1, 8, 9, 4, 5, 12, 13)
#define Q1(a, b) __builtin_shufflevector(a, b, 2, 3, 10, 11, 6, 7, 14, 15)
#define H0(a, b) __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11)
#define H1(a, b) __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15)
    v8 t0 = LO(r[0], r[1]), t1 = HI(r[0], r[1]), t2 = LO(r[2], r[3]), t3 = HI(r[2], r[3]);
    v8 t4 = LO(r[4], r[5]), t5 = HI(r[4], r[5]), t6 = LO(r[6], r[7]), t7 = HI(r[6], r[7]);
    v8 u0 = Q0(t0, t2), u1 = Q1(t0, t2), u2 = Q0(t1, t3), u3 = Q1(t1, t3);
    v8 u4 = Q0(t4, t6), u5 = Q1(t4, t6), u6 = Q0(t5, t7), u7 = Q1(t5, t7);
    o[0] = H0(u0, u4), o[1] = H0(u1, u5), o[2] = H0(u2, u6), o[3] = H0(u3, u7);
    o[4] = H1(u0, u4), o[5] = H1(u1, u5), o[6] = H1(u2, u6), o[7] = H1(u3, u7);
#undef LO
#undef HI
#undef Q0
#undef Q1
#undef H0
#undef H1
}

/* dst[0..n) = src[0..n): inline, since n is a handful of floats */
static inline void copy_floats(float *restrict dst, const float *restrict src, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) ST(dst + i, LD(src + i));
    for (; i < n; i++) dst[i] = src[i];
}

/* dst[i] = src[i] where mask[i] > 0, else 0, for i < n (the ReLU's
 * backward, its output as the mask). */
static inline void copy_masked(float *restrict dst, const float *restrict src,
                               const float *restrict mask, int n) {
    for (int i = 0; i < n; i++) dst[i] = mask[i] > 0.0f ? src[i] : 0.0f;
}

/* n floats of row from column x0 (zero outside 0..W-1, or everywhere for
 * a row outside the image) into dst, then zeros up to a whole number of
 * vectors. */
static inline void copy_row(float *dst, const float *row, int W, int x0, int n) {
    int nv = (n + 15) / 16 * 16;
    int lo = !row ? nv : x0 < 0 ? -x0 : 0, hi = !row ? nv : x0 + n > W ? W - x0 : n;
    if (hi < lo) hi = lo;
    for (int i = 0; i < lo; i++) dst[i] = 0.0f;
    if (row) copy_floats(dst + lo, row + x0 + lo, hi - lo);
    for (int i = hi; i < nv; i++) dst[i] = 0.0f;
}

/* ev[k] = src[2k], od[k] = src[2k+1] for k < n, rounded up to vectors. */
static void deinterleave(float *restrict ev, float *restrict od, const float *src, int n) {
    for (int k = 0; k < n; k += 8) {
        v8 a = LD(src + 2 * k), b = LD(src + 2 * k + 8);
        ST(ev + k, __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14));
        ST(od + k, __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15));
    }
}

/* dst[2k] = ev[k], dst[2k+1] = od[k] for k < n, rounded up to vectors. */
static void interleave(float *dst, const float *ev, const float *od, int n) {
    for (int k = 0; k < n; k += 8) {
        v8 e = LD(ev + k), o = LD(od + k);
        ST(dst + 2 * k, __builtin_shufflevector(e, o, 0, 8, 1, 9, 2, 10, 3, 11));
        ST(dst + 2 * k + 8, __builtin_shufflevector(e, o, 4, 12, 5, 13, 6, 14, 7, 15));
    }
}

/* Where a block of transformed values goes: position xi of channel c0+cc
 * (cc < cn) of tile j+k (k < len) to out[xi * xs + cc * cs + k] — rows of V
 * directly, or a scratch block that store_transposed then writes tile-major. */
typedef struct dest {
    float *out;
    size_t xs, cs;
} dest;

/* The transformed block tmp [16][CB][PAD] (values for cn channels and len
 * tiles) into the tile-major layout: position xi of tile j+k, channel
 * c0+cc at Vt[(xi * ldt + j + k) * C + c0 + cc]. Whole 8x8 blocks go
 * through a register transpose (those of a row's last tiles write past
 * them, into rows that are rewritten later or unused); a partial block of
 * channels is written one value at a time. */
static void store_transposed(float *Vt, const float *tmp, int C, int ldt, int c0, int cn, int j,
                             int len) {
    for (int xi = 0; xi < 16; xi++) {
        const float *t = tmp + (size_t)xi * CB * PAD;
        float *v = Vt + ((size_t)xi * ldt + j) * C + c0;
        int c8 = 0;
        for (; c8 + 8 <= cn; c8 += 8)
            for (int k = 0; k < len; k += 8) {
                v8 r[8], o[8];
                for (int i = 0; i < 8; i++) r[i] = LD(t + (size_t)(c8 + i) * PAD + k);
                transpose8(r, o);
                for (int q = 0; q < 8; q++) ST(v + (size_t)(k + q) * C + c8, o[q]);
            }
        for (; c8 < cn; c8++)
            for (int k = 0; k < len; k++) v[(size_t)k * C + c8] = t[(size_t)c8 * PAD + k];
    }
}

/* B^T d B for the tiles of one segment and a block of cn channels. */
static void input_block(dest d, const dn_wino *g, const float *x, segment sg, int c0, int cn) {
    const int C = g->C, H = g->H, W = g->W;
    const int s = sg.s, ty = sg.ty, len = sg.len;
    /* tile k covers columns x0 + 2k .. x0 + 2k + 3: even columns k, k+1
     * and odd columns k, k+1 of the split rows */
    int x0 = 2 * sg.tx - g->pad, n = len + 1;
    /* The rows of a block of channels are copied first, then split and
     * transformed: a vector load right after the stores that wrote its
     * floats would wait for them (store forwarding fails across stores of
     * another size or offset); by the time a block's rows are read back,
     * those stores are long done. */
    float rows[CB][4][2 * PAD];
    for (int cc = 0; cc < cn; cc++) {
        const float *xc = x + ((size_t)s * C + c0 + cc) * H * W;
        for (int i = 0; i < 4; i++) {
            int iy = 2 * ty - g->pad + i;
            copy_row(rows[cc][i], iy >= 0 && iy < H ? xc + (size_t)iy * W : NULL, W, x0, 2 * n);
        }
    }
    for (int cc = 0; cc < cn; cc++) {
        float ev[4][PAD], od[4][PAD];
        for (int i = 0; i < 4; i++) deinterleave(ev[i], od[i], rows[cc][i], n + 1);
        float *vc = d.out + cc * d.cs;
        for (int k = 0; k < len; k += 8) {
            v8 e[4], e1[4], o[4], o1[4];
            for (int i = 0; i < 4; i++) {
                e[i] = LD(ev[i] + k), e1[i] = LD(ev[i] + k + 1);
                o[i] = LD(od[i] + k), o1[i] = LD(od[i] + k + 1);
            }
            /* B^T down the rows: T0 = d0 - d2, T1 = d1 + d2, T2 = d2 - d1, T3 = d1 - d3 */
            v8 te[4] = {e[0] - e[2], e[1] + e[2], e[2] - e[1], e[1] - e[3]};
            v8 te1[4] = {e1[0] - e1[2], e1[1] + e1[2], e1[2] - e1[1], e1[1] - e1[3]};
            v8 to[4] = {o[0] - o[2], o[1] + o[2], o[2] - o[1], o[1] - o[3]};
            v8 to1[4] = {o1[0] - o1[2], o1[1] + o1[2], o1[2] - o1[1], o1[1] - o1[3]};
            /* ...then along the columns (2k, 2k+1, 2k+2, 2k+3) = (te, to, te1, to1) */
            for (int r = 0; r < 4; r++) {
                ST(vc + (4 * r + 0) * d.xs + k, te[r] - te1[r]);
                ST(vc + (4 * r + 1) * d.xs + k, to[r] + te1[r]);
                ST(vc + (4 * r + 2) * d.xs + k, te1[r] - to[r]);
                ST(vc + (4 * r + 3) * d.xs + k, to[r] - to1[r]);
            }
        }
    }
}

void dn_wino_input_channels(float *V, const dn_wino *g, const float *x, long t0, int nt, int ldt,
                            int c_lo, int c_hi) {
    const size_t plane = (size_t)g->C * ldt;
    for (segment sg = {0}; next_segment(g, t0, nt, &sg);)
        for (int c0 = c_lo; c0 < c_hi; c0 += CB) {
            dest d = {V + (size_t)c0 * ldt + sg.j, plane, (size_t)ldt};
            input_block(d, g, x, sg, c0, c_hi - c0 < CB ? c_hi - c0 : CB);
        }
}

void dn_wino_input(float *V, const dn_wino *g, const float *x, long t0, int nt, int ldt) {
    dn_wino_input_channels(V, g, x, t0, nt, ldt, 0, g->C);
}

void dn_wino_input_t(float *Vt, const dn_wino *g, const float *x, long t0, int nt, int ldt) {
    float tmp[16 * CB * PAD];
    for (segment sg = {0}; next_segment(g, t0, nt, &sg);)
        for (int c0 = 0; c0 < g->C; c0 += CB) {
            int cn = g->C - c0 < CB ? g->C - c0 : CB;
            input_block((dest){tmp, (size_t)CB * PAD, PAD}, g, x, sg, c0, cn);
            store_transposed(Vt, tmp, g->C, ldt, c0, cn, sg.j, sg.len);
        }
}

/* ---------------------------------------------------------------- output */

/* The 2x2 max pool of 8 tiles' outputs r = (y00, y01, y10, y11), each the
 * first of the largest as the max pool layer picks it, into v, and the
 * index of the chosen output in its channel's plane (rows of W) into idx:
 * base + 2 lane, + 1, + W or + W + 1. */
static inline void pool4(const v8 r[4], float *v, float *idx, float base, int W) {
    const v8 lane = {0, 2, 4, 6, 8, 10, 12, 14};
    v8 best = r[0], at = lane + base;
    const float step[4] = {0.0f, 1.0f, (float)W, (float)W + 1.0f};
    for (int q = 1; q < 4; q++) {
        vi8 m = (vi8)(r[q] > best); /* strictly greater: ties keep the first */
        best = (v8)(((vi8)r[q] & m) | ((vi8)best & ~m));
        v8 cand = lane + (base + step[q]);
        at = (v8)(((vi8)cand & m) | ((vi8)at & ~m));
    }
    ST(v, best);
    ST(idx, at);
}

void dn_wino_output(float *y, const dn_wino *g, const float *M, const dn_wino_epilogue *ep, long t0,
                    int nt, int ldt) {
    dn_wino_output_channels(y, g, M, ep, t0, nt, ldt, 0, g->OC);
}

void dn_wino_output_channels(float *y, const dn_wino *g, const float *M, const dn_wino_epilogue *ep,
                             long t0, int nt, int ldt, int o_lo, int o_hi) {
    const float *bias = ep->bias;
    const int affine = ep->scale != NULL, relu = ep->relu;
    const int OC = g->OC, OH = g->OH, OW = g->OW, pool = ep->pool;
    const int PH = OH / 2, PW = OW / 2; /* the pooled output's size */
    const size_t plane = (size_t)OC * ldt;
    for (segment sg = {0}; next_segment(g, t0, nt, &sg);) {
        const int s = sg.s, ty = sg.ty, tx = sg.tx, len = sg.len, j = sg.j;
        int oy = 2 * ty, ox = 2 * tx;
        /* the last tile of a row or column may stick out of the output */
        int cols = 2 * len > OW - ox ? OW - ox : 2 * len;
        for (int o = o_lo; o < o_hi; o++) {
            float y0e[PAD], y0o[PAD], y1e[PAD], y1o[PAD], r0[2 * PAD], r1[2 * PAD];
            float pv[PAD], pi[PAD];
            const float *mo = M + (size_t)o * ldt + j;
            v8 b = (v8){0} + (bias ? bias[o] : 0.0f);
            v8 sc = (v8){0} + (affine ? ep->scale[o] : 1.0f);
            v8 sh = (v8){0} + (affine ? ep->shift[o] : 0.0f);
            for (int k = 0; k < len; k += 8) {
                v8 m[16];
                for (int xi = 0; xi < 16; xi++) m[xi] = LD(mo + xi * plane + k);
                /* A^T down the rows of each column c, then along the columns */
                v8 s0 = m[0] + m[4] + m[8], d0 = m[4] - m[8] - m[12];
                v8 s1 = m[1] + m[5] + m[9], d1 = m[5] - m[9] - m[13];
                v8 s2 = m[2] + m[6] + m[10], d2 = m[6] - m[10] - m[14];
                v8 s3 = m[3] + m[7] + m[11], d3 = m[7] - m[11] - m[15];
                v8 r[4] = {s0 + s1 + s2 + b, s1 - s2 - s3 + b, d0 + d1 + d2 + b, d1 - d2 - d3 + b};
                for (int q = 0; q < 4; q++) {
                    if (affine) r[q] = r[q] * sc + sh;
                    /* max(v, 0) as v & (v > 0): 0 for NaN, as in the ReLU layer */
                    if (relu) r[q] = (v8)((vi8)r[q] & (vi8)(r[q] > (v8){0}));
                }
                if (pool) {            /* the tile's 4 outputs are one pooling window */
                    if (len - k < 8) { /* lanes past the segment read unwritten columns of M:
                                        * cleared, so that no comparison looks at them */
                        const vi8 lanes = {0, 1, 2, 3, 4, 5, 6, 7};
                        vi8 valid = lanes < len - k;
                        for (int q = 0; q < 4; q++) r[q] = (v8)((vi8)r[q] & valid);
                    }
                    pool4(r, pv + k, pi + k, (float)(2 * ty * OW + 2 * (tx + k)), OW);
                    continue;
                }
                ST(y0e + k, r[0]);
                ST(y0o + k, r[1]);
                ST(y1e + k, r[2]);
                ST(y1o + k, r[3]);
            }
            if (pool) {
                if (ty >= PH || tx >= PW) continue; /* an odd last row or column of tiles */
                size_t pat = (((size_t)s * OC + o) * PH + ty) * PW + tx;
                int np = PW - tx < len ? PW - tx : len;
                copy_floats(y + pat, pv, np);
                if (ep->pool_aux) copy_floats(ep->pool_aux + pat, pi, np);
                continue;
            }
            size_t at = ((size_t)s * OC + o) * OH * OW + (size_t)oy * OW + ox;
            float *yo = y + at;
            interleave(r0, y0e, y0o, len);
            if (ep->mask)
                copy_masked(yo, r0, ep->mask + at, cols);
            else
                copy_floats(yo, r0, cols);
            if (oy + 1 < OH) {
                interleave(r1, y1e, y1o, len);
                if (ep->mask)
                    copy_masked(yo + OW, r1, ep->mask + at + OW, cols);
                else
                    copy_floats(yo + OW, r1, cols);
            }
        }
    }
}

/* A dY A^T for the tiles of one segment and a block of on output channels
 * (two phases, as input_block). */
static void output_grad_block(dest d, const dn_wino *g, const float *dy, segment sg, int o0,
                              int on) {
    const int OC = g->OC, OH = g->OH, OW = g->OW, len = sg.len;
    int oy = 2 * sg.ty, ox = 2 * sg.tx;
    float rows[CB][2][2 * PAD];
    for (int oc = 0; oc < on; oc++) {
        const float *yo = dy + ((size_t)sg.s * OC + o0 + oc) * OH * OW;
        copy_row(rows[oc][0], yo + (size_t)oy * OW, OW, ox, 2 * len);
        copy_row(rows[oc][1], oy + 1 < OH ? yo + (size_t)(oy + 1) * OW : NULL, OW, ox, 2 * len);
    }
    for (int oc = 0; oc < on; oc++) {
        /* a = dY[0][0], b = dY[0][1], c = dY[1][0], d = dY[1][1] of each tile */
        float A[PAD], B[PAD], Cc[PAD], D[PAD];
        deinterleave(A, B, rows[oc][0], len);
        deinterleave(Cc, D, rows[oc][1], len);
        float *mo = d.out + oc * d.cs;
        for (int k = 0; k < len; k += 8) {
            v8 a = LD(A + k), b = LD(B + k), c = LD(Cc + k), e = LD(D + k);
            /* E = A dY: rows (a, b), (a+c, b+d), (a-c, b-d), (-c, -d); then E A^T:
             * each row (p, q) becomes (p, p+q, p-q, -q) */
            v8 p[4] = {a, a + c, a - c, -c}, q[4] = {b, b + e, b - e, -e};
            for (int r = 0; r < 4; r++) {
                ST(mo + (4 * r + 0) * d.xs + k, p[r]);
                ST(mo + (4 * r + 1) * d.xs + k, p[r] + q[r]);
                ST(mo + (4 * r + 2) * d.xs + k, p[r] - q[r]);
                ST(mo + (4 * r + 3) * d.xs + k, -q[r]);
            }
        }
    }
}

void dn_wino_output_grad(float *dM, const dn_wino *g, const float *dy, long t0, int nt, int ldt) {
    const size_t plane = (size_t)g->OC * ldt;
    for (segment sg = {0}; next_segment(g, t0, nt, &sg);)
        for (int o0 = 0; o0 < g->OC; o0 += CB) {
            dest d = {dM + (size_t)o0 * ldt + sg.j, plane, (size_t)ldt};
            output_grad_block(d, g, dy, sg, o0, g->OC - o0 < CB ? g->OC - o0 : CB);
        }
}

void dn_wino_output_grad_t(float *dMt, const dn_wino *g, const float *dy, long t0, int nt,
                           int ldt) {
    float tmp[16 * CB * PAD];
    for (segment sg = {0}; next_segment(g, t0, nt, &sg);)
        for (int o0 = 0; o0 < g->OC; o0 += CB) {
            int on = g->OC - o0 < CB ? g->OC - o0 : CB;
            output_grad_block((dest){tmp, (size_t)CB * PAD, PAD}, g, dy, sg, o0, on);
            store_transposed(dMt, tmp, g->OC, ldt, o0, on, sg.j, sg.len);
        }
}
