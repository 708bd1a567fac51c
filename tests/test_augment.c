/*
 * test_augment.c — the training distortions of augment.c, directly: zero
 * strength is the identity; a shift moves the centre of mass by exactly the
 * shift drawn; rotation keeps the ink mass of a blob within 2% and its
 * distance from the centre, elastic distortion keeps the mass within 6%; scaling by s scales its
 * spread by s; the same seed gives the same image and another seed another one.
 */
#include "augment.h"
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SIDE 28

/* A filled disc of radius r at (cx, cy) with soft edges, as a digit stand-in. */
static void blob(float *img, double cx, double cy, double r) {
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            double d = hypot(x - cx, y - cy);
            img[y * SIDE + x] = (float)(d <= r ? 1.0 : d >= r + 1 ? 0.0 : r + 1 - d);
        }
}

typedef struct moments {
    double mass, x, y, spread; /* sum, centre, mean distance from the centre */
} moments;

static moments moments_of(const float *img) {
    moments m = {0};
    for (int i = 0; i < SIDE * SIDE; i++) {
        m.mass += img[i];
        m.x += img[i] * (i % SIDE);
        m.y += img[i] * (i / SIDE);
    }
    m.x /= m.mass, m.y /= m.mass;
    for (int i = 0; i < SIDE * SIDE; i++)
        m.spread += img[i] * hypot(i % SIDE - m.x, i / SIDE - m.y);
    m.spread /= m.mass;
    return m;
}

static dn_train_opts none(void) {
    dn_train_opts o;
    dn_train_opts_default(&o);
    o.aug_shift = 0, o.aug_rotate = o.aug_scale = o.aug_elastic = 0;
    return o;
}

static void test_identity(void) {
    float src[784], dst[784], scratch[3 * 784];
    dn_rng r;
    dn_rng_seed(&r, 1);
    for (int i = 0; i < 784; i++) src[i] = (float)dn_rng_uniform(&r);
    dn_train_opts o = none();
    CHECK(!dn_augment_enabled(&o));
    dn_augment(&o, &r, src, dst, scratch);
    CHECK(!memcmp(src, dst, sizeof src));
}

static void test_shift(void) {
    float src[784], dst[784], scratch[3 * 784];
    blob(src, 13.5, 13.5, 4);
    moments a = moments_of(src);
    dn_train_opts o = none();
    o.aug_shift = 3;
    CHECK(dn_augment_enabled(&o));
    int moved = 0;
    for (uint64_t seed = 1; seed <= 50; seed++) {
        dn_rng r, copy;
        dn_rng_seed(&r, seed);
        copy = r; /* the draws of augment.h's order: rotation, scale, x, y */
        double u[4];
        for (int i = 0; i < 4; i++) u[i] = dn_rng_uniform(&copy);
        double tx = (2 * u[2] - 1) * 3, ty = (2 * u[3] - 1) * 3;
        dn_augment(&o, &r, src, dst, scratch);
        moments b = moments_of(dst);
        /* bilinear sampling moves the first moment exactly, mass stays */
        CHECK_MSG(fabs(b.x - a.x - tx) < 1e-4 && fabs(b.y - a.y - ty) < 1e-4,
                  "seed %llu: centre moved (%.4f, %.4f), shift (%.4f, %.4f)",
                  (unsigned long long)seed, b.x - a.x, b.y - a.y, tx, ty);
        CHECK_MSG(fabs(b.mass - a.mass) < 1e-3 * a.mass, "mass %g -> %g", a.mass, b.mass);
        moved += fabs(tx) > 0.5;
    }
    CHECK(moved > 10);
}

static void test_rotation_and_elastic(void) {
    float src[784], dst[784], scratch[3 * 784];
    blob(src, 11.0, 15.0, 4); /* off centre, so a rotation moves it */
    moments a = moments_of(src);
    dn_train_opts o = none();
    o.aug_rotate = 30;
    for (int pass = 0; pass < 2; pass++) {
        double worst = 0;
        for (uint64_t seed = 1; seed <= 50; seed++) {
            dn_rng r;
            dn_rng_seed(&r, seed);
            dn_augment(&o, &r, src, dst, scratch);
            moments b = moments_of(dst);
            worst = fmax(worst, fabs(b.mass - a.mass) / a.mass);
            if (!pass) { /* the centre stays at its distance from the image centre */
                double d0 = hypot(a.x - 13.5, a.y - 13.5), d1 = hypot(b.x - 13.5, b.y - 13.5);
                CHECK_MSG(fabs(d0 - d1) < 0.05, "rotation moved the radius %g -> %g", d0, d1);
            }
        }
        /* bilinear resampling of a rotation loses or gains a little at the
         * soft edges; an elastic field also compresses and stretches */
        double bound = pass ? 0.06 : 0.02;
        CHECK_MSG(worst < bound, "%s: ink mass changed by up to %.2f%%",
                  pass ? "elastic" : "rotation", 100 * worst);
        printf("%s: ink mass within %.2f%% over 50 seeds\n",
               pass ? "elastic alpha 2" : "rotation 30", 100 * worst);
        o.aug_rotate = 0, o.aug_elastic = 2; /* second pass: elastic alone */
    }
}

static void test_scale(void) {
    float src[784], dst[784], scratch[3 * 784];
    blob(src, 13.5, 13.5, 5);
    moments a = moments_of(src);
    dn_train_opts o = none();
    o.aug_scale = 0.2f;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        dn_rng r, copy;
        dn_rng_seed(&r, seed);
        copy = r;
        dn_rng_uniform(&copy); /* the rotation's draw */
        double s = 1 + (2 * dn_rng_uniform(&copy) - 1) * 0.2;
        dn_augment(&o, &r, src, dst, scratch);
        moments b = moments_of(dst);
        CHECK_MSG(fabs(b.spread / a.spread - s) < 0.03, "scale %.3f: spread x%.3f", s,
                  b.spread / a.spread);
    }
}

static void test_seeds(void) {
    float src[784], d1[784], d2[784], d3[784], scratch[3 * 784];
    blob(src, 13.5, 13.5, 4);
    dn_train_opts o = none();
    o.aug_shift = 2, o.aug_rotate = 15, o.aug_scale = 0.1f, o.aug_elastic = 2;
    dn_rng r1, r2, r3;
    dn_rng_seed(&r1, 42), dn_rng_seed(&r2, 42), dn_rng_seed(&r3, 43);
    dn_augment(&o, &r1, src, d1, scratch);
    dn_augment(&o, &r2, src, d2, scratch);
    dn_augment(&o, &r3, src, d3, scratch);
    CHECK(!memcmp(d1, d2, sizeof d1));
    CHECK(memcmp(d1, d3, sizeof d1) != 0);
    CHECK(memcmp(d1, src, sizeof d1) != 0);
}

int main(void) {
    test_identity();
    test_shift();
    test_rotation_and_elastic();
    test_scale();
    test_seeds();
    return check_report("test_augment");
}
