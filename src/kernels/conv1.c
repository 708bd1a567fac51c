/*
 * conv1.c — direct one-channel convolution (see conv1.h). Each output row
 * goes in chunks of TW columns; a chunk of OB output channels keeps its
 * sums in registers while the k x k taps each load one vector of the
 * padded image (at a column offset, unaligned) and multiply it by one
 * weight per channel. The weight gradient is the same loop turned
 * around: per channel and window row, k sums of dy times shifted image
 * vectors, summed across lanes at the end.
 */
#include "kernels/conv1.h"
#include "kernels/vec.h"

#include <string.h>

/* Output channels per block: OB vectors of sums in registers. */
#if defined(__AVX512F__) || defined(__aarch64__)
#define OB 8
#else
#define OB 4
#endif

/* Row stride of the padded image: a vector loaded at the last chunk of
 * columns plus the widest tap stays inside the row. */
static int pad_ld(int W, int p) {
    return W + 2 * p + TW;
}

int dn_conv1_fits(int H, int W, int k, int p) {
    return H > 0 && W > 0 && p >= 0 && k >= 1 && k <= 16 && k <= H + 2 * p && k <= W + 2 * p &&
           (long)(H + 2 * p) * pad_ld(W, p) <= DN_CONV1_PAD;
}

static void pad_image(const float *x, int H, int W, int p, float *xp) {
    int ld = pad_ld(W, p);
    memset(xp, 0, sizeof(float) * (size_t)(H + 2 * p) * ld);
    for (int i = 0; i < H; i++) memcpy(xp + (size_t)(i + p) * ld + p, x + (size_t)i * W, 4 * W);
}

/* Inlined with a constant K, the taps unroll. */
static inline __attribute__((always_inline)) void forward_k(int K, const float *xp, int ld, int OH,
                                                            int OW, const float *w, const float *b,
                                                            int OC, float *y) {
    const int P = OH * OW;
    for (int o0 = 0; o0 < OC; o0 += OB) {
        int nb = OC - o0 < OB ? OC - o0 : OB;
        const float *wo[OB];
        for (int q = 0; q < OB; q++) wo[q] = w + (size_t)(o0 + (q < nb ? q : nb - 1)) * K * K;
        for (int i = 0; i < OH; i++)
            for (int j0 = 0; j0 < OW; j0 += TW) {
                tv acc[OB];
#pragma GCC unroll 8
                for (int q = 0; q < OB; q++) {
                    tv z = {0};
                    acc[q] = z + b[o0 + (q < nb ? q : nb - 1)];
                }
                for (int di = 0; di < K; di++) {
                    const float *row = xp + (size_t)(i + di) * ld + j0;
#pragma GCC unroll 7
                    for (int dj = 0; dj < K; dj++) {
                        tv xv = *(const tv *)(row + dj);
#pragma GCC unroll 8
                        for (int q = 0; q < OB; q++) acc[q] += wo[q][di * K + dj] * xv;
                    }
                }
                int J = OW - j0 < TW ? OW - j0 : TW;
                for (int q = 0; q < nb; q++)
                    store_part(y + (size_t)(o0 + q) * P + (size_t)i * OW + j0, &acc[q], J);
            }
    }
}

void dn_conv1_forward(const float *x, int H, int W, int k, int p, const float *w, const float *b,
                      int OC, float *y) {
    float xp[DN_CONV1_PAD];
    int ld = pad_ld(W, p), OH = H + 2 * p - k + 1, OW = W + 2 * p - k + 1;
    pad_image(x, H, W, p, xp);
    switch (k) {
    case 3:
        forward_k(3, xp, ld, OH, OW, w, b, OC, y);
        break;
    case 5:
        forward_k(5, xp, ld, OH, OW, w, b, OC, y);
        break;
    default:
        forward_k(k, xp, ld, OH, OW, w, b, OC, y);
        break;
    }
}

static inline __attribute__((always_inline)) void
grad_k(int K, const float *xp, int ld, int OH, int OW, const float *dy, int OC, float *gw) {
    const int P = OH * OW;
    for (int o = 0; o < OC; o++)
        for (int di = 0; di < K; di++) {
            tv acc[16] = {{0}};
            for (int i = 0; i < OH; i++) {
                const float *row = xp + (size_t)(i + di) * ld,
                            *d = dy + (size_t)o * P + (size_t)i * OW;
                for (int j0 = 0; j0 < OW; j0 += TW) {
                    tv dv;
                    load_part(&dv, d + j0, OW - j0 < TW ? OW - j0 : TW); /* zero past OW */
#pragma GCC unroll 7
                    for (int dj = 0; dj < K; dj++) acc[dj] += dv * *(const tv *)(row + j0 + dj);
                }
            }
            for (int dj = 0; dj < K; dj++) gw[((size_t)o * K + di) * K + dj] += hsum(&acc[dj]);
        }
}

void dn_conv1_weight_grad(const float *x, int H, int W, int k, int p, const float *dy, int OC,
                          float *gw) {
    float xp[DN_CONV1_PAD];
    int ld = pad_ld(W, p), OH = H + 2 * p - k + 1, OW = W + 2 * p - k + 1;
    pad_image(x, H, W, p, xp);
    switch (k) {
    case 3:
        grad_k(3, xp, ld, OH, OW, dy, OC, gw);
        break;
    case 5:
        grad_k(5, xp, ld, OH, OW, dy, OC, gw);
        break;
    default:
        grad_k(k, xp, ld, OH, OW, dy, OC, gw);
        break;
    }
}
