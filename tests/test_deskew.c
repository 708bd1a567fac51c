/*
 * test_deskew.c — the deskew layer (src/layers/deskew.c):
 *   - a bar slanted by 0.4 pixels per row comes out upright, with its
 *     centre row in place; an upright bar and a blank image pass unchanged;
 *   - backward is the exact transpose of the forward resampling:
 *     <dy, S v> = <B dy, v> for random dy and v at the forward's slant;
 *   - the token parses, formats back and builds only on a single channel.
 */
#include "check.h"
#include "model.h"
#include "spec.h"

#include <string.h>

enum { H = 28, W = 28, P = H * W };

static void bar(float *x, double slope, double at) {
    memset(x, 0, sizeof(float) * P);
    for (int i = 4; i < 24; i++) {
        double j = at + slope * (i - 14);
        int j0 = (int)floor(j);
        double f = j - j0;
        if (j0 >= 0 && j0 < W) x[i * W + j0] += (float)(1 - f);
        if (j0 + 1 < W) x[i * W + j0 + 1] += (float)f;
    }
}

/* The ink's mean column in row i. */
static double row_centre(const float *y, int i) {
    double s = 0, sj = 0;
    for (int j = 0; j < W; j++) s += y[i * W + j], sj += y[i * W + j] * j;
    return s > 0 ? sj / s : -1;
}

static void setup(dn_layer *l) {
    memset(l, 0, sizeof *l);
    l->cfg.kind = DN_L_DESKEW;
    l->ops = dn_layer_ops_for(DN_L_DESKEW);
    l->in = (dn_shape){1, H, W};
    CHECK(l->ops && l->ops->setup(l, NULL) == DN_OK);
    CHECK(l->out.c == 1 && l->out.h == H && l->out.w == W && l->nparams == 0);
}

static void test_forward(void) {
    dn_layer l;
    setup(&l);
    static float x[3 * P], y[3 * P], aux[6];
    bar(x, 0.4, 14);
    bar(x + P, 0.0, 9.5);
    /* x + 2P stays blank */
    dn_layer_ctx c = {.aux = aux};
    l.ops->forward(&l, x, y, 3, &c);
    CHECK_MSG(fabs(aux[0] - 0.4) < 0.02, "slant %g, drawn 0.4", (double)aux[0]);
    CHECK_MSG(fabs(aux[1] - 13.5) < 0.01, "centre row %g", (double)aux[1]);
    double lo = 99, hi = -99;
    for (int i = 4; i < 24; i++) {
        double m = row_centre(y, i);
        if (m < lo) lo = m;
        if (m > hi) hi = m;
    }
    CHECK_MSG(hi - lo < 0.1, "the slanted bar's rows span %g..%g after deskew", lo, hi);
    CHECK_MSG(fabs((lo + hi) / 2 - 14) < 0.3, "it moved to column %g", (lo + hi) / 2);
    CHECK(fabs(aux[2]) < 1e-6);
    CHECK(!memcmp(x + P, y + P, sizeof(float) * P)); /* upright: untouched */
    float zero[P] = {0};
    CHECK(!memcmp(zero, y + 2 * P, sizeof zero) && aux[4] == 0);
    /* a slant beyond one pixel per row is held at one */
    memset(x, 0, sizeof(float) * P);
    for (int i = 10; i < 18; i++) x[i * W + 14 + 3 * (i - 14) / 2] = 1; /* 1.5 per row */
    l.ops->forward(&l, x, y, 1, &c);
    CHECK(aux[0] == 1.0f);
}

static void test_adjoint(void) {
    dn_layer l;
    setup(&l);
    static float x[P], y[P], dy[P], dx[P], v[P], sv[P], aux[2];
    uint64_t s = 99;
    for (int trial = 0; trial < 20; trial++) {
        bar(x, -0.8 + 0.08 * trial, 8 + trial % 10);
        for (int i = 0; i < P; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            dy[i] = (float)((s >> 40) % 2001) / 1000.0f - 1.0f;
            v[i] = (float)((s >> 20) % 1001) / 1000.0f;
        }
        dn_layer_ctx c = {.aux = aux};
        l.ops->forward(&l, x, y, 1, &c);
        l.ops->backward(&l, x, y, dy, dx, 1, &c);
        dn_deskew_apply(v, sv, H, W, aux[0], aux[1]);
        double a = 0, b = 0;
        for (int i = 0; i < P; i++) a += (double)dy[i] * sv[i], b += (double)dx[i] * v[i];
        CHECK_MSG(fabs(a - b) < 1e-3 * (fabs(a) + 1), "trial %d: <dy, Sv> %g, <dx, v> %g", trial, a,
                  b);
    }
    l.ops->backward(&l, x, y, dy, NULL, 1, &(dn_layer_ctx){.aux = aux}); /* dx NULL: nothing */
}

static void test_spec(void) {
    dn_spec sp;
    char buf[256];
    CHECK(dn_spec_parse("deskew-conv3x3x4p1-relu-pool2-fc10", NULL, &sp, NULL) == DN_OK);
    CHECK(dn_spec_format(&sp, buf, sizeof buf) == DN_OK &&
          !strcmp(buf, "deskew-conv3x3x4p1-relu-pool2-fc10"));
    dn_model *m = NULL;
    CHECK(dn_model_create("deskew-conv3x3x4p1-relu-pool2-fc10", NULL, 1, &m, NULL) == DN_OK);
    if (m) {
        float img[P], p[10];
        bar(img, 0.3, 12);
        CHECK(dn_model_predict(m, img, 1, p, NULL) == DN_OK);
        double sum = 0;
        for (int k = 0; k < 10; k++) sum += p[k];
        CHECK(fabs(sum - 1) < 1e-5);
    }
    dn_model_free(m);
    dn_error err = {{0}};
    CHECK(dn_model_create("conv3x3x4-deskew-fc10", NULL, 1, &m, &err) == DN_E_ARG);
    CHECK_MSG(strstr(err.msg, "single-channel") != NULL, "%s", err.msg);
}

int main(void) {
    test_forward();
    test_adjoint();
    test_spec();
    return check_report("test_deskew");
}
