/*
 * augment.c — affine and elastic distortions (Simard et al. 2003 style).
 *
 * Every output pixel (x, y) reads the source at an inverse-mapped position:
 *   affine:   p' = S R (p - c) + c + t     c = image centre, R rotation by
 *             theta, S uniform scale, t shift
 *   elastic:  p'' = p' + alpha * smooth(U(-1,1) field), smoothed by a
 *             Gaussian of sigma 4 (separable), per axis
 * and interpolates bilinearly with zero outside the image. Parameters are
 * drawn uniformly from [-max, max] per image from the caller's RNG.
 */
#include "augment.h"

#include <math.h>
#include <string.h>

#define SIDE 28
#define ELASTIC_SIGMA 4.0
#define KRADIUS 12

int dn_augment_enabled(const dn_train_opts *o) {
    return o->aug_shift > 0 || o->aug_rotate > 0 || o->aug_scale > 0 || o->aug_elastic > 0;
}

static float sample(const float *img, float x, float y) {
    int x0 = (int)floorf(x), y0 = (int)floorf(y);
    float fx = x - (float)x0, fy = y - (float)y0, v = 0.0f;
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            int xx = x0 + dx, yy = y0 + dy;
            if (xx < 0 || yy < 0 || xx >= SIDE || yy >= SIDE) continue;
            float w = (dx ? fx : 1.0f - fx) * (dy ? fy : 1.0f - fy);
            v += w * img[yy * SIDE + xx];
        }
    return v;
}

static double uniform(dn_rng *rng, double max) {
    return (2.0 * dn_rng_uniform(rng) - 1.0) * max;
}

/* Separable Gaussian blur of a 28x28 field, in place, using tmp. */
static void blur(float *f, float *tmp) {
    double k[2 * KRADIUS + 1], sum = 0.0;
    for (int i = -KRADIUS; i <= KRADIUS; i++)
        sum += k[i + KRADIUS] = exp(-(double)(i * i) / (2 * ELASTIC_SIGMA * ELASTIC_SIGMA));
    for (int i = 0; i <= 2 * KRADIUS; i++) k[i] /= sum;
    for (int pass = 0; pass < 2; pass++) {
        const float *src = pass ? tmp : f;
        float *dst = pass ? f : tmp;
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                double acc = 0.0;
                for (int i = -KRADIUS; i <= KRADIUS; i++) {
                    int xx = pass ? x : x + i, yy = pass ? y + i : y;
                    if (xx < 0 || yy < 0 || xx >= SIDE || yy >= SIDE) continue;
                    acc += k[i + KRADIUS] * src[yy * SIDE + xx];
                }
                dst[y * SIDE + x] = (float)acc;
            }
    }
}

void dn_augment(const dn_train_opts *o, dn_rng *rng, const float *src, float *dst, float *scratch) {
    double theta = uniform(rng, o->aug_rotate) * 3.141592653589793 / 180.0;
    double scale = 1.0 + uniform(rng, o->aug_scale);
    double tx = uniform(rng, o->aug_shift), ty = uniform(rng, o->aug_shift);
    /* inverse map: source = R^-1 (dst - c - t) / s + c */
    double cs = cos(theta) / scale, sn = sin(theta) / scale, c = (SIDE - 1) / 2.0;
    float *ex = scratch, *ey = scratch + SIDE * SIDE, *tmp = scratch + 2 * SIDE * SIDE;
    int elastic = o->aug_elastic > 0;
    if (elastic) {
        for (int i = 0; i < SIDE * SIDE; i++) {
            ex[i] = (float)uniform(rng, 1.0);
            ey[i] = (float)uniform(rng, 1.0);
        }
        blur(ex, tmp);
        blur(ey, tmp);
    }
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            double dx = x - c - tx, dy = y - c - ty;
            double sx = cs * dx + sn * dy + c, sy = -sn * dx + cs * dy + c;
            if (elastic) {
                sx += o->aug_elastic * ex[y * SIDE + x];
                sy += o->aug_elastic * ey[y * SIDE + x];
            }
            dst[y * SIDE + x] = sample(src, (float)sx, (float)sy);
        }
}
