/*
 * winograd.h — 3x3 stride-1 convolution by Winograd's minimal filtering
 * F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2016): each 2x2 block of outputs comes from a 4x4 block of
 * input as
 *
 *     Y = A^T [ (G g G^T) .* (B^T d B) ] A
 *
 * so a tile costs 16 multiplications per channel pair instead of 36. Over
 * many tiles the 16 element-wise products become 16 matrix products, one
 * per position xi of the 4x4 transformed tile:
 *
 *     M[xi] (OC x T) = U[xi] (OC x C) * V[xi] (C x T)
 *
 * with U = G g G^T (the weights), V = B^T d B (the input tiles) and T the
 * number of tiles. These are the transforms (plain functions over float*,
 * no allocation); conv2d.c runs the products and the parallel loop.
 *
 * The transforms work on whole vectors of 8 tiles: a range of nt tiles
 * is stored in rows of ldt >= nt + 8 floats, and the floats of a row past
 * its nt tiles may be read (garbage in, garbage out) and overwritten.
 *
 * Shapes: x [n, C, H, W]; w [OC, C, 3, 3]; y [n, OC, OH, OW] with
 * OH = H + 2*pad - 2. Tiles are numbered t = (sample * th + ty) * tw + tx
 * with th = ceil(OH/2), tw = ceil(OW/2); a range of nt tiles from t0 is
 * stored with leading dimension ldt: V[(xi*C + c)*ldt + j] for tile t0+j.
 *
 * Gradients: the weight gradient is taken in the transformed domain,
 *     dU[xi] = dM[xi] V[xi]^T,   dM = A dY A^T (dn_wino_output_grad),
 * a product over tiles, best fed with both operands tile-major
 * (dn_wino_input_t, dn_wino_output_grad_t): dU[xi] = dMt[xi]^T Vt[xi];
 *     dw += G^T dU G              (dn_wino_weights_grad);
 * the input gradient is the same kind of convolution, of dy with the
 * weights turned by 180 degrees and transposed (dn_wino_weights with
 * flipped = 1) and padding 2 - pad.
 */
#ifndef DN_WINOGRAD_H
#define DN_WINOGRAD_H

#include <stddef.h>

typedef struct dn_wino {
    int C, H, W; /* input channels and size */
    int OC, pad; /* output channels, zero padding (0..2) */
    int OH, OW;  /* output size */
    int th, tw;  /* tiles per column and per row of one sample */
} dn_wino;

/* Fills g for a 3x3 stride-1 convolution; returns 0, or -1 when the
 * geometry does not suit (pad outside 0..2 or an empty output). */
int dn_wino_init(dn_wino *g, int C, int H, int W, int OC, int pad);

/* The geometry of the input gradient's convolution: dy as input, C output
 * channels, padding 2 - pad, output H x W. */
int dn_wino_init_grad(dn_wino *gd, const dn_wino *g);

/* Row padding the transforms need past a range of tiles. */
#define DN_WINO_PAD 8

/* Tiles of n samples. */
static inline long dn_wino_tiles(const dn_wino *g, int n) {
    return (long)n * g->th * g->tw;
}

/* U [16, OC, C] = G w G^T for w [OC, C, 3, 3]. flipped = 1: for the input
 * gradient, U [16, C, OC] = G rot180(w[oc][c]) G^T (OC and C swapped). */
void dn_wino_weights(float *U, const float *w, int OC, int C, int flipped);

/* V (16 x C rows of ldt) <- B^T d B for tiles t0 .. t0+nt-1 of x. */
void dn_wino_input(float *V, const dn_wino *g, const float *x, long t0, int nt, int ldt);
/* The same for input channels c_lo .. c_hi - 1 only (their rows of V). */
void dn_wino_input_channels(float *V, const dn_wino *g, const float *x, long t0, int nt, int ldt,
                            int c_lo, int c_hi);

/* The same values tile-major, for the weight gradient's products:
 * position xi of tile t0+j, channel c at Vt[(xi * ldt + j) * C + c]
 * (ldt >= nt + 8 rows of C floats per position; rows past nt may be
 * overwritten). */
void dn_wino_input_t(float *Vt, const dn_wino *g, const float *x, long t0, int nt, int ldt);

/* What dn_wino_output does to each value v of output channel oc after
 * A^T M A: v + bias[oc] (bias may be NULL), then, when scale is not NULL,
 * v * scale[oc] + shift[oc] (a batch norm folded in at inference), then,
 * with relu, max(v, 0); and, when mask is not NULL (shaped as y), 0
 * wherever mask is not positive (an input gradient passing back through
 * the ReLU whose output the layer read). */
typedef struct dn_wino_epilogue {
    const float *bias, *scale, *shift;
    int relu;
    const float *mask;
    /* pool: then a 2x2 max pool at stride 2 (each tile's 4 outputs), so y
     * is the pooled [n, OC, OH/2, OW/2]; pool_aux (may be NULL) receives,
     * shaped as it, the index of each chosen output in its OH x OW plane,
     * as the max pool layer keeps them */
    int pool;
    float *pool_aux;
} dn_wino_epilogue;

/* y <- the epilogue of A^T M A for tiles t0 .. t0+nt-1, M (16 x OC rows of
 * ldt); outputs past OH, OW are dropped. */
void dn_wino_output(float *y, const dn_wino *g, const float *M, const dn_wino_epilogue *ep, long t0,
                    int nt, int ldt);
/* The same for output channels o_lo .. o_hi - 1 only. */
void dn_wino_output_channels(float *y, const dn_wino *g, const float *M, const dn_wino_epilogue *ep,
                             long t0, int nt, int ldt, int o_lo, int o_hi);

/* dM (16 x OC rows of ldt) <- A dY A^T for tiles t0 .. t0+nt-1 of dy [n,
 * OC, OH, OW] (the transpose of dn_wino_output; outputs past OH, OW count
 * as zero). */
void dn_wino_output_grad(float *dM, const dn_wino *g, const float *dy, long t0, int nt, int ldt);
/* The same, tile-major: dMt[(xi * ldt + j) * OC + o] (as dn_wino_input_t). */
void dn_wino_output_grad_t(float *dMt, const dn_wino *g, const float *dy, long t0, int nt, int ldt);

/* dw [OC, C, 3, 3] += G^T dU G for dU [16, OC, C]. */
void dn_wino_weights_grad(float *dw, const float *dU, int OC, int C);

#endif
