/*
 * im2col.c — window unrolling for convolution (see im2col.h), plus the
 * direct convolution used as the reference in tests.
 */
#include "kernels/im2col.h"
#include "kernels/vec.h"

#include <string.h>

/* Output columns [lo, hi) of a row read inside the image; outside them the
 * window hangs over the padding. */
static void valid_range(int OW, int W, int s, int off, int *lo, int *hi) {
    /* need 0 <= ow*s + off < W */
    int a = off >= 0 ? 0 : (-off + s - 1) / s;
    int b = W - off <= 0 ? 0 : (W - off + s - 1) / s;
    *lo = a < OW ? a : OW;
    *hi = b < OW ? b : OW;
    if (*hi < *lo) *hi = *lo;
}

void dn_im2col(const float *x, int C, int H, int W, int k, int s, int p, float *col) {
    int OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
    for (int c = 0; c < C; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                float *dst = col + ((long)(c * k + ki) * k + kj) * OH * OW;
                int lo, hi, off = kj - p;
                valid_range(OW, W, s, off, &lo, &hi);
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * s + ki - p;
                    float *row = dst + (long)oh * OW;
                    if (ih < 0 || ih >= H) {
                        memset(row, 0, sizeof(float) * (size_t)OW);
                        continue;
                    }
                    const float *src = x + ((long)c * H + ih) * W;
                    if (s == 1 && OW <= TW) { /* a short row: one masked copy */
                        tv v, z = {0};
                        if (lo > 0 || hi < OW) store_part(row, &z, OW);
                        load_part(&v, src + off + lo, hi - lo);
                        store_part(row + lo, &v, hi - lo);
                        continue;
                    }
                    for (int ow = 0; ow < lo; ow++) row[ow] = 0.0f;
                    /* rows are short (tens of floats): an inline loop beats memcpy */
                    if (s == 1)
                        for (int ow = lo; ow < hi; ow++) row[ow] = src[ow + off];
                    else
                        for (int ow = lo; ow < hi; ow++) row[ow] = src[ow * s + off];
                    for (int ow = hi; ow < OW; ow++) row[ow] = 0.0f;
                }
            }
}

/* d[0..n) += r[0..n): the column buffer and the image never overlap, so
 * the loop vectorises without a runtime overlap check. */
static inline void add_row(float *restrict d, const float *restrict r, int n) {
    for (int i = 0; i < n; i++) d[i] += r[i];
}

void dn_col2im(const float *col, int C, int H, int W, int k, int s, int p, float *dx) {
    int OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
    for (int c = 0; c < C; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                const float *srcc = col + ((long)(c * k + ki) * k + kj) * OH * OW;
                int lo, hi, off = kj - p;
                valid_range(OW, W, s, off, &lo, &hi);
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * s + ki - p;
                    if (ih < 0 || ih >= H) continue;
                    const float *row = srcc + (long)oh * OW;
                    float *dst = dx + ((long)c * H + ih) * W;
                    if (s == 1)
                        add_row(dst + off + lo, row + lo, hi - lo);
                    else
                        for (int ow = lo; ow < hi; ow++) dst[ow * s + off] += row[ow];
                }
            }
}

void dn_conv_naive(const float *x, int C, int H, int W, const float *w, const float *b, int OC,
                   int k, int s, int p, float *y) {
    int OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
    for (int o = 0; o < OC; o++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                double acc = b ? b[o] : 0.0;
                for (int c = 0; c < C; c++)
                    for (int ki = 0; ki < k; ki++)
                        for (int kj = 0; kj < k; kj++) {
                            int ih = oh * s + ki - p, iw = ow * s + kj - p;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            acc += (double)x[((long)c * H + ih) * W + iw] *
                                   w[(((long)o * C + c) * k + ki) * k + kj];
                        }
                y[((long)o * OH + oh) * OW + ow] = (float)acc;
            }
}
