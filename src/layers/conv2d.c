/*
 * conv2d.c — 2-D convolution via im2col + GEMM, batch split across threads.
 *
 * Shapes: x [n, C, H, W], W [OC, C, k, k], b [OC], y [n, OC, OH, OW] with
 * OH = (H + 2p - k)/s + 1. Per sample, with col = im2col(x) [C*k*k, OH*OW]:
 *   forward   y = W col + b                      (gemm OC x OH*OW x C*k*k)
 *   backward  dW += dy col^T,  db += sum dy,  dcol = W^T dy,  dx = col2im(dcol)
 * Each thread takes a contiguous range of samples with its own col/dcol and
 * gradient scratch; the per-thread gradients are summed in thread order, so
 * a fixed thread count gives reproducible results.
 *
 * im2col+GEMM beats a direct loop at these sizes because the product runs
 * at near-peak FLOP rate while the direct loop's inner trip count is k*k.
 *
 * 3x3 stride-1 convolutions with at least WINO_MIN_C input channels go
 * through Winograd's F(2x2, 3x3) instead (kernels/winograd.h): forward
 * y = A^T[U .* V]A as 16 products per chunk of tiles, the input gradient
 * as the same convolution of dy with the flipped weights, and the weight
 * gradient as dU = dM V^T in the transformed domain. They need 16 instead
 * of 36 multiplications per 2x2 outputs, keep nothing between forward and
 * backward but x, and each thread works on its own chunks of tiles with
 * private scratch (and a private dU, summed in thread order).
 */
#include "kernels/gemm.h"
#include "kernels/conv1.h"
#include "kernels/im2col.h"
#include "kernels/winograd.h"
#include "layers/layer.h"

#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* fewer input channels than this: im2col (the products would be too thin) */
#define WINO_MIN_C 4

static int use_wino(const dn_layer *l) {
    return l->cfg.k == 3 && l->cfg.stride == 1 && l->cfg.pad <= 2 && l->in.c >= WINO_MIN_C;
}

int dn_conv_pools(const dn_layer *l) {
    return use_wino(l);
}

/* One input channel at stride 1 (a first layer): the direct loop of
 * conv1.c, without a column matrix. */
static int use_direct(const dn_layer *l) {
    return l->in.c == 1 && l->cfg.stride == 1 &&
           dn_conv1_fits(l->in.h, l->in.w, l->cfg.k, l->cfg.pad);
}

/* Tiles per chunk: V and M of a chunk (16 x (C + OC) rows of about that
 * many floats) stay within about 384 KiB of cache. A multiple of
 * DN_GEMM_N4, the Winograd products' block width. Rows are DN_WINO_PAD
 * floats longer (wino_ldt). */
static int wino_chunk(int C, int OC) {
    int t = 6144 / (C + OC);
    t = (t + DN_GEMM_N4 - 1) / DN_GEMM_N4 * DN_GEMM_N4;
    return t < 2 * DN_GEMM_N4 ? 2 * DN_GEMM_N4 : t > 11 * DN_GEMM_N4 ? 11 * DN_GEMM_N4 : t;
}

static int wino_ldt(int C, int OC) {
    return wino_chunk(C, OC) + DN_WINO_PAD;
}

static dn_status conv_setup(dn_layer *l, dn_error *err) {
    const dn_layer_cfg *c = &l->cfg;
    if (c->k <= 0 || c->k > 64 || c->stride <= 0 || c->pad < 0 || c->pad >= c->k || c->ch <= 0 ||
        c->ch > 4096)
        return dn_fail(err, DN_E_ARG,
                       "conv layer: invalid kernel %d, stride %d, padding %d or %d "
                       "channels",
                       c->k, c->stride, c->pad, c->ch);
    int oh = (l->in.h + 2 * c->pad - c->k) / c->stride + 1;
    int ow = (l->in.w + 2 * c->pad - c->k) / c->stride + 1;
    if (l->in.h + 2 * c->pad < c->k || l->in.w + 2 * c->pad < c->k || oh <= 0 || ow <= 0)
        return dn_fail(err, DN_E_ARG, "conv%dx%d: input %dx%d is too small", c->k, c->k, l->in.h,
                       l->in.w);
    l->out = (dn_shape){c->ch, oh, ow};
    /* training keeps each sample's im2col matrix for backward (unless the
     * convolution is 1x1, which needs none) */
    l->aux_per_sample = use_wino(l) || use_direct(l) || (c->k == 1 && c->stride == 1 && c->pad == 0)
                            ? 0
                            : (size_t)l->in.c * c->k * c->k * oh * ow;
    l->nparams = (size_t)c->ch * l->in.c * c->k * c->k + (size_t)c->ch;
    return DN_OK;
}

static size_t col_size(const dn_layer *l) {
    return (size_t)l->in.c * l->cfg.k * l->cfg.k * l->out.h * l->out.w;
}

/* Floats of the transformed weights U [16, OC, C] followed by the 16 packed
 * products' A, for either direction (OC and C swapped). */
static size_t wino_u_size(const dn_layer *l) {
    int C = l->in.c, OC = l->cfg.ch;
    size_t packed = dn_gemm_pack4_size(OC, C) > dn_gemm_pack4_size(C, OC)
                        ? dn_gemm_pack4_size(OC, C)
                        : dn_gemm_pack4_size(C, OC);
    return 16 * ((size_t)C * OC + packed);
}

static size_t wino_per_thread(const dn_layer *l) {
    size_t C = (size_t)l->in.c, OC = (size_t)l->cfg.ch;
    return 16 * (C + OC) * (size_t)wino_ldt(l->in.c, l->cfg.ch) + 16 * C * OC;
}

static size_t conv_work(const dn_layer *l, int n, int threads) {
    if (use_wino(l)) {
        /* U and its packed form, then per thread V, M (or dM) and a private dU */
        return wino_u_size(l) + (size_t)threads * wino_per_thread(l);
    }
    /* per thread: col + dcol + private parameter gradients */
    return (size_t)threads * (2 * col_size(l) + l->nparams);
}

static void conv_init(dn_layer *l, dn_rng *rng) {
    int fan_in = l->in.c * l->cfg.k * l->cfg.k, fan_out = l->cfg.ch * l->cfg.k * l->cfg.k;
    double scale = l->init_gain_relu ? sqrt(2.0 / fan_in) : sqrt(2.0 / (fan_in + fan_out));
    size_t nw = l->nparams - (size_t)l->cfg.ch;
    for (size_t i = 0; i < nw; i++) l->w[i] = (float)(scale * dn_rng_normal(rng));
    memset(l->w + nw, 0, sizeof(float) * (size_t)l->cfg.ch);
}

/* 8 floats (GCC/Clang vector extension), loadable from any float address */
typedef float v8 __attribute__((vector_size(32), aligned(4)));

/* The sum of P floats of one channel (a bias's gradient): in two vectors
 * of partial sums, a fixed order whatever the vector unit (one float
 * after another, each add waited for the one before: it was the most
 * time of this file's own code). */
static float plane_sum(const float *d, size_t P) {
    v8 a = {0}, b = {0};
    size_t q = 0;
    for (; q + 16 <= P; q += 16) a += *(const v8 *)(d + q), b += *(const v8 *)(d + q + 8);
    a += b;
    float acc = 0.0f;
    for (int i = 0; i < 8; i++) acc += a[i];
    for (; q < P; q++) acc += d[q];
    return acc;
}

static int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* ---------------------------------------------------------------- Winograd */

/* U [16, OC, C] packed for the products into Up. */
static void wino_pack(const dn_wino *g, const float *U, float *Up) {
    size_t uplane = (size_t)g->OC * g->C, pplane = dn_gemm_pack4_size(g->OC, g->C);
    for (int xi = 0; xi < 16; xi++)
        dn_gemm_pack4(Up + xi * pplane, g->OC, g->C, U + xi * uplane, g->C);
}

/* Tiles in fewer chunks than threads (a single image's 14x14 output: 49
 * tiles, one chunk) shared between the threads by channels, chunk after
 * chunk: each thread transforms its share of the input channels into the
 * one V, then, past a barrier, computes its share of the output channels
 * (in blocks of 4 rows, as Up is packed) and their output transform. Split
 * by tiles, the 49 went in chunks of 32 and 17. Every value is computed as
 * in one thread. */
static void wino_run_split(const dn_wino *g, const float *Up, const float *x, float *y,
                           const dn_wino_epilogue *ep, long T, int chunk, float *scratch, int ldt,
                           int threads) {
    float *V = scratch, *M = V + 16 * (size_t)g->C * ldt;
    int chunks = (int)((T + chunk - 1) / chunk), blocks = (g->OC + 3) / 4;
    int even = (int)((T + chunks - 1) / chunks + DN_GEMM_NPAD - 1) / DN_GEMM_NPAD * DN_GEMM_NPAD;
    if (even < chunk) chunk = even, chunks = (int)((T + chunk - 1) / chunk); /* chunks alike */
    size_t pplane = dn_gemm_pack4_size(g->OC, g->C);
#pragma omp parallel num_threads(threads)
    {
        int t = thread_id(), tn = threads;
#ifdef _OPENMP
        tn = omp_get_num_threads();
#endif
        int c_lo = g->C * t / tn, c_hi = g->C * (t + 1) / tn;
        int o_lo = 4 * (blocks * t / tn), o_hi = 4 * (blocks * (t + 1) / tn);
        if (o_hi > g->OC) o_hi = g->OC;
        for (int k = 0; k < chunks; k++) {
            long t0 = (long)k * chunk;
            int nt = (int)(T - t0 < chunk ? T - t0 : chunk);
            int np = (nt + DN_GEMM_NPAD - 1) / DN_GEMM_NPAD * DN_GEMM_NPAD;
#pragma omp barrier /* (past the first chunk) every thread's products are done with V */
            dn_wino_input_channels(V, g, x, t0, nt, ldt, c_lo, c_hi);
            if (np > nt)
                for (int xi = 0; xi < 16; xi++)
                    for (int c = c_lo; c < c_hi; c++)
                        memset(V + ((size_t)xi * g->C + c) * ldt + nt, 0,
                               sizeof(float) * (size_t)(np - nt));
#pragma omp barrier /* V is whole */
            for (int xi = 0; xi < 16 && o_hi > o_lo; xi++)
                dn_gemm_pack4_run(M + ((size_t)xi * g->OC + o_lo) * ldt, ldt, o_hi - o_lo, np, g->C,
                                  Up + xi * pplane + (size_t)o_lo * g->C,
                                  V + (size_t)xi * g->C * ldt, ldt);
            dn_wino_output_channels(y, g, M, ep, t0, nt, ldt, o_lo, o_hi);
        }
    }
}

/* A convolution's chunks of tiles, for wino_chunk_run. */
typedef struct wino_job {
    const dn_wino *g;
    const float *Up, *x;
    float *y;
    const dn_wino_epilogue *ep;
    long T;
    int chunk;
    float *scratch;
    size_t per_thread;
    int ldt;
} wino_job;

/* Chunk k of job j, in the calling thread's scratch. */
static void wino_chunk_run(const wino_job *j, int k) {
    const dn_wino *g = j->g;
    int ldt = j->ldt;
    float *V = j->scratch + (size_t)thread_id() * j->per_thread, *M = V + 16 * (size_t)g->C * ldt;
    long t0 = (long)k * j->chunk;
    int nt = (int)(j->T - t0 < j->chunk ? j->T - t0 : j->chunk);
    int np = (nt + DN_GEMM_NPAD - 1) / DN_GEMM_NPAD * DN_GEMM_NPAD;
    size_t pplane = dn_gemm_pack4_size(g->OC, g->C);
    dn_wino_input(V, g, j->x, t0, nt, ldt);
    /* the products run over whole column blocks: zero the tiles past nt */
    if (np > nt)
        for (int r = 0; r < 16 * g->C; r++)
            memset(V + (size_t)r * ldt + nt, 0, sizeof(float) * (size_t)(np - nt));
    for (int xi = 0; xi < 16; xi++)
        dn_gemm_pack4_run(M + (size_t)xi * g->OC * ldt, ldt, g->OC, np, g->C, j->Up + xi * pplane,
                          V + (size_t)xi * g->C * ldt, ldt);
    dn_wino_output(j->y, g, M, j->ep, t0, nt, ldt);
}

/* The convolution of geometry g: y <- conv(x) with the transformed weights
 * already packed in Up (+ bias), chunks of tiles spread over threads. */
static void wino_run(const dn_wino *g, const float *Up, const float *x, float *y,
                     const dn_wino_epilogue *ep, int n, float *scratch, size_t per_thread, int ldt,
                     int threads) {
    long T = dn_wino_tiles(g, n);
    int chunk = ldt - DN_WINO_PAD, chunks = (int)((T + chunk - 1) / chunk);
    if (threads > 1 && chunks < threads) { /* too few chunks to share out */
        wino_run_split(g, Up, x, y, ep, T, chunk, scratch, ldt, threads);
        return;
    }
    int dealt = threads > 1 && chunks < 4 * threads;
    if (dealt) {
        /* Few chunks, dealt out one at a time: the chunk size (whole column
         * blocks) whose busiest thread has the fewest tiles. One image's 196
         * tiles of a 28x28 output go in chunks of 96, 96 and 4, 100 tiles
         * to one thread and 96 to the other (in equal chunks of 64, 64, 64
         * and 4 they went 128 and 68). Each tile is computed alike whatever
         * its chunk. */
        long best = -1;
        for (int c2 = DN_GEMM_NPAD; c2 <= ldt - DN_WINO_PAD; c2 += DN_GEMM_NPAD) {
            long k2 = (T + c2 - 1) / c2, busiest = 0;
            for (int t = 0; t < threads; t++) {
                long tiles = 0;
                for (long k = t; k < k2; k += threads) tiles += T - k * c2 < c2 ? T - k * c2 : c2;
                if (tiles > busiest) busiest = tiles;
            }
            if (best < 0 || busiest <= best) best = busiest, chunk = c2; /* ties: fewer chunks */
        }
        chunks = (int)((T + chunk - 1) / chunk);
    }
    wino_job job = {g, Up, x, y, ep, T, chunk, scratch, per_thread, ldt};
    if (dealt) {
#pragma omp parallel for schedule(static, 1) num_threads(threads)
        for (int k = 0; k < chunks; k++) wino_chunk_run(&job, k);
    } else {
        /* many chunks: a contiguous run of them per thread (dealt one at a
         * time, neighbouring chunks' rows of x and y were shared between
         * the cores: the cnn preset trained 10% slower) */
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && chunks > 1)
        for (int k = 0; k < chunks; k++) wino_chunk_run(&job, k);
    }
}

static void wino_forward(const dn_layer *l, const float *x, float *y, int n, dn_layer_ctx *c) {
    int C = l->in.c, OC = l->cfg.ch;
    dn_wino g;
    dn_wino_init(&g, C, l->in.h, l->in.w, OC, l->cfg.pad);
    float *U = c->work, *Up = U + 16 * (size_t)OC * C;
    if (c->prep) { /* an inference executor transformed and packed them once */
        Up = (float *)c->prep;
    } else {
        dn_wino_weights(U, l->w, OC, C, 0);
        wino_pack(&g, U, Up);
    }
    dn_wino_epilogue ep = {.bias = l->w + (size_t)OC * C * 9,
                           .scale = c->post,
                           .shift = c->post ? c->post + OC : NULL,
                           .relu = c->relu,
                           .pool = c->pool,
                           .pool_aux = c->pool_aux};
    wino_run(&g, Up, x, y, &ep, n, U + wino_u_size(l), wino_per_thread(l), wino_ldt(C, OC),
             c->threads);
}

/* Inference executors keep the forward's packed transformed weights (Up
 * first, as wino_forward reads them, then U, from which they are packed). */
static size_t conv_prepare(const dn_layer *l, float *prep) {
    if (!use_wino(l)) return 0;
    int C = l->in.c, OC = l->cfg.ch;
    size_t packed = 16 * dn_gemm_pack4_size(OC, C), u = 16 * (size_t)OC * C;
    if (prep) {
        dn_wino g;
        dn_wino_init(&g, C, l->in.h, l->in.w, OC, l->cfg.pad);
        dn_wino_weights(prep + packed, l->w, OC, C, 0);
        wino_pack(&g, prep + packed, prep);
    }
    return packed + u;
}

static void wino_backward(const dn_layer *l, const float *x, const float *dy, float *dx, int n,
                          dn_layer_ctx *c) {
    int C = l->in.c, OC = l->cfg.ch, ldt = wino_ldt(C, OC);
    dn_wino g, gd;
    dn_wino_init(&g, C, l->in.h, l->in.w, OC, l->cfg.pad);
    dn_wino_init_grad(&gd, &g);
    size_t plane = (size_t)OC * C, per = wino_per_thread(l), P = (size_t)g.OH * g.OW;
    float *U = c->work, *scratch = U + wino_u_size(l);
    int threads = c->threads > 1 ? c->threads : 1;
    /* weight gradient: dU[xi] += dM[xi] V[xi]^T per thread, over chunks */
    long T = dn_wino_tiles(&g, n);
    int chunk = ldt - DN_WINO_PAD, chunks = (int)((T + chunk - 1) / chunk);
    if (chunks < threads) threads = chunks;
    for (int t = 0; t < threads; t++) {
        float *dU = scratch + (size_t)t * per + 16 * (size_t)(C + OC) * ldt;
        memset(dU, 0, sizeof(float) * 16 * plane);
    }
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int k = 0; k < chunks; k++) {
        float *V = scratch + (size_t)thread_id() * per, *dM = V + 16 * (size_t)C * ldt;
        float *dU = dM + 16 * (size_t)OC * ldt;
        long t0 = (long)k * chunk;
        int nt = (int)(T - t0 < chunk ? T - t0 : chunk);
        /* tile-major, so the products over tiles need no transposes */
        dn_wino_input_t(V, &g, x, t0, nt, ldt);
        dn_wino_output_grad_t(dM, &g, dy, t0, nt, ldt);
        for (int xi = 0; xi < 16; xi++)
            dn_gemm_tn_acc(dU + xi * plane, C, OC, C, nt, dM + (size_t)xi * ldt * OC, OC,
                           V + (size_t)xi * ldt * C, C);
    }
    float *dU0 = scratch + 16 * (size_t)(C + OC) * ldt;
    for (int t = 1; t < threads; t++) {
        const float *dUt = dU0 + (size_t)t * per;
        for (size_t i = 0; i < 16 * plane; i++) dU0[i] += dUt[i];
    }
    dn_wino_weights_grad(c->gw, dU0, OC, C);
    float *gb = c->gw + plane * 9;
    for (int i = 0; i < n; i++)
        for (int o = 0; o < OC; o++) gb[o] += plane_sum(dy + ((size_t)i * OC + o) * P, P);
    /* input gradient: the flipped convolution of dy */
    if (dx) {
        dn_wino_weights(U, l->w, OC, C, 1);
        wino_pack(&gd, U, U + 16 * plane);
        dn_wino_epilogue ep = {.mask = c->relu_in ? x : NULL};
        wino_run(&gd, U + 16 * plane, dy, dx, &ep, n, scratch, per, ldt, c->threads);
    }
}

/* ---------------------------------------------------------------- im2col */

/* Sample i of the batch: im2col (or the direct loop) and its product, with
 * `gemm` sequential or threaded. */
static void conv_sample(const dn_layer *l, const float *x, float *y, int i, float *col,
                        const dn_layer_ctx *c,
                        void (*gemm)(int, int, int, int, int, float, const float *, int,
                                     const float *, int, float, float *, int)) {
    int C = l->in.c, H = l->in.h, W = l->in.w, k = l->cfg.k, s = l->cfg.stride, p = l->cfg.pad;
    int OC = l->cfg.ch, P = l->out.h * l->out.w, ckk = C * k * k;
    size_t in_sz = dn_shape_size(l->in), out_sz = dn_shape_size(l->out);
    const float *Wt = l->w, *b = l->w + (size_t)OC * ckk;
    float *yi = y + (size_t)i * out_sz;
    if (use_direct(l)) {
        dn_conv1_forward(x + (size_t)i * in_sz, H, W, k, p, Wt, b, OC, yi);
    } else {
        if (k == 1 && s == 1 && p == 0) {
            gemm(0, 0, OC, P, ckk, 1.0f, Wt, ckk, x + (size_t)i * in_sz, P, 0.0f, yi, P);
        } else {
            dn_im2col(x + (size_t)i * in_sz, C, H, W, k, s, p, col);
            gemm(0, 0, OC, P, ckk, 1.0f, Wt, ckk, col, P, 0.0f, yi, P);
        }
        for (int o = 0; o < OC; o++)
            for (int q = 0; q < P; q++) yi[(size_t)o * P + q] += b[o];
    }
    dn_layer_epilogue(yi, 0, OC, OC, (size_t)P, c);
}

static void conv_forward(const dn_layer *l, const float *x, float *y, int n, dn_layer_ctx *c) {
    if (use_wino(l)) {
        wino_forward(l, x, y, n, c);
        return;
    }
    size_t per_thread = 2 * col_size(l) + l->nparams;
    if (c->threads > 1 && n == 1 && use_direct(l)) {
        /* one image through the direct loop: the output channels shared
         * between the threads, in blocks of 8 */
        int OC = l->cfg.ch, kk = l->cfg.k * l->cfg.k, blocks = (OC + 7) / 8;
        size_t P = (size_t)l->out.h * l->out.w;
        const float *b = l->w + (size_t)OC * kk;
#pragma omp parallel num_threads(c->threads)
        {
            int t = thread_id(), tn = c->threads;
#ifdef _OPENMP
            tn = omp_get_num_threads();
#endif
            int o_lo = 8 * (blocks * t / tn), o_hi = 8 * (blocks * (t + 1) / tn);
            if (o_hi > OC) o_hi = OC;
            if (o_hi > o_lo) {
                dn_conv1_forward(x, l->in.h, l->in.w, l->cfg.k, l->cfg.pad,
                                 l->w + (size_t)o_lo * kk, b + o_lo, o_hi - o_lo,
                                 y + (size_t)o_lo * P);
                dn_layer_epilogue(y, o_lo, o_hi, OC, P, c);
            }
        }
        return;
    }
    if (c->threads > 1 && n < c->threads) {
        /* fewer samples than threads (single-image inference): each product
         * uses the threads instead, outside any parallel construct (inside
         * even an inactive one, libgomp would start a new team each time) */
        for (int i = 0; i < n; i++)
            conv_sample(l, x, y, i, c->aux ? c->aux + (size_t)i * l->aux_per_sample : c->work, c,
                        dn_gemm_portable);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(c->threads) if (c->threads > 1)
    for (int i = 0; i < n; i++)
        conv_sample(l, x, y, i,
                    c->aux ? c->aux + (size_t)i * l->aux_per_sample
                           : c->work + (size_t)thread_id() * per_thread,
                    c, dn_gemm_portable_st);
}

static void conv_backward(const dn_layer *l, const float *x, const float *y, const float *dy,
                          float *dx, int n, dn_layer_ctx *c) {
    if (use_wino(l)) {
        wino_backward(l, x, dy, dx, n, c);
        return;
    }
    int C = l->in.c, H = l->in.h, W = l->in.w, k = l->cfg.k, s = l->cfg.stride, p = l->cfg.pad;
    int OC = l->cfg.ch, P = l->out.h * l->out.w, ckk = C * k * k;
    size_t in_sz = dn_shape_size(l->in), out_sz = dn_shape_size(l->out), cs = col_size(l);
    size_t per_thread = 2 * cs + l->nparams;
    int threads = c->threads > 1 && n > 1 ? c->threads : 1, direct = use_direct(l);
    for (int t = 0; t < threads; t++)
        memset(c->work + (size_t)t * per_thread + 2 * cs, 0, sizeof(float) * l->nparams);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int i = 0; i < n; i++) {
        float *col = c->work + (size_t)thread_id() * per_thread, *dcol = col + cs;
        float *gW = dcol + cs, *gb = gW + (size_t)OC * ckk;
        const float *xi = x + (size_t)i * in_sz, *dyi = dy + (size_t)i * out_sz;
        if (direct) {
            dn_conv1_weight_grad(xi, H, W, k, p, dyi, OC, gW);
        } else {
            if (c->aux && l->aux_per_sample)
                col = c->aux + (size_t)i * l->aux_per_sample;
            else if (k == 1 && s == 1 && p == 0)
                col = (float *)xi;
            else
                dn_im2col(xi, C, H, W, k, s, p, col);
            dn_gemm_portable_st(0, 1, OC, ckk, P, 1.0f, dyi, P, col, P, 1.0f, gW, ckk);
        }
        for (int o = 0; o < OC; o++) gb[o] += plane_sum(dyi + (size_t)o * P, (size_t)P);
        if (dx) {
            float *dxi = dx + (size_t)i * in_sz;
            dn_gemm_portable_st(1, 0, ckk, P, OC, 1.0f, l->w, ckk, dyi, P, 0.0f, dcol, P);
            memset(dxi, 0, sizeof(float) * in_sz);
            dn_col2im(dcol, C, H, W, k, s, p, dxi);
            if (c->relu_in) /* the ReLU before this layer */
                for (size_t q = 0; q < in_sz; q++) dxi[q] = xi[q] > 0.0f ? dxi[q] : 0.0f;
        }
    }
    for (int t = 0; t < threads; t++) {
        const float *g = c->work + (size_t)t * per_thread + 2 * cs;
        for (size_t j = 0; j < l->nparams; j++) c->gw[j] += g[j];
    }
}

const dn_layer_ops dn_conv_ops = {"conv",       conv_setup,    conv_work,   conv_init,
                                  conv_forward, conv_backward, conv_prepare};
