/*
 * test_vexp.c — dn_vexp against exp in double precision: about a million
 * float bit patterns spread over the whole range (relative error below
 * 2.5e-7 wherever the result is a normal float), the edges of that range,
 * the special values (0, infinities, NaN), and every array length from 0
 * to 40, so that the tail shorter than a vector is computed and nothing
 * past the end is touched.
 */
#include "check.h"
#include "kernels/vexp.h"

#include <float.h>
#include <stdint.h>
#include <string.h>

#define TOL 2.5e-7

static float f_of_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, 4);
    return f;
}

/* 1 when y is an acceptable exp(x) in float. */
static int good(float x, float y) {
    if (isnan(x)) return isnan(y);
    double e = exp((double)x);
    if (e > FLT_MAX) return isinf(y) && y > 0 ? 1 : fabs(y - e) <= TOL * e;
    if (e < FLT_MIN) /* no subnormal results: 0, or the nearest normal */
        return y == 0.0f || (y >= 0.0f && y <= FLT_MIN * (1 + TOL));
    return fabs((double)y - e) <= TOL * e;
}

static void sampled(void) {
    enum { N = 4096 };
    static float x[N], y[N];
    int bad = 0;
    uint64_t b = 0;
    /* a stride prime to 2^32 visits every bit pattern class once */
    while (b < (1ull << 32)) {
        size_t k = 0;
        for (; k < N && b < (1ull << 32); k++, b += 4093) x[k] = y[k] = f_of_bits((uint32_t)b);
        dn_vexp(y, k);
        for (size_t i = 0; i < k; i++)
            if (!good(x[i], y[i]) && bad++ < 5)
                fprintf(stderr, "exp(%.9g) = %.9g, want %.9g\n", (double)x[i], (double)y[i],
                        exp((double)x[i]));
    }
    CHECK_MSG(bad == 0, "%d of the sampled values off", bad);
}

static void special(void) {
    float x[] = {0.0f,     -0.0f,     1.0f,      -1.0f,  88.72283f, 88.7229f, 89.0f,
                 1000.0f,  -87.3365f, -87.3366f, -88.0f, -104.0f,   -1000.0f, FLT_MAX,
                 -FLT_MAX, INFINITY,  -INFINITY, NAN,    1e-30f,    -1e-30f,  0.6931472f};
    enum { N = sizeof x / sizeof x[0] };
    float y[N];
    memcpy(y, x, sizeof x);
    dn_vexp(y, N);
    CHECK(y[0] == 1.0f && y[1] == 1.0f);
    CHECK(y[6] == INFINITY && y[7] == INFINITY && y[13] == INFINITY && y[15] == INFINITY);
    CHECK(y[10] == 0.0f && y[11] == 0.0f && y[12] == 0.0f && y[14] == 0.0f && y[16] == 0.0f);
    CHECK(isnan(y[17]));
    CHECK(y[18] == 1.0f && y[19] == 1.0f);
    for (int i = 0; i < N; i++)
        CHECK_MSG(good(x[i], y[i]), "exp(%.9g) = %.9g", (double)x[i], (double)y[i]);
    /* results are never subnormal and never negative */
    for (int i = 0; i < N; i++) CHECK(y[i] != y[i] || y[i] == 0.0f || y[i] >= FLT_MIN);
}

static void lengths(void) {
    float buf[48];
    for (size_t n = 0; n <= 40; n++) {
        for (size_t i = 0; i < 48; i++) buf[i] = (float)i * 0.25f - 5.0f;
        dn_vexp(buf, n);
        int ok = 1;
        for (size_t i = 0; i < 48; i++) {
            float x = (float)i * 0.25f - 5.0f;
            ok &= i < n ? good(x, buf[i]) : buf[i] == x; /* past n: untouched */
        }
        CHECK_MSG(ok, "length %zu", n);
    }
}

int main(void) {
    special();
    lengths();
    sampled();
    return check_report("test_vexp");
}
