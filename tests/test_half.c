/*
 * test_half.c — binary16 model files (dn_model_save_half, the static
 * page's compact weights): the conversion against values worked by hand
 * (exact values, ties to even, subnormals, overflow, NaN), every one of
 * the 65,536 halves surviving float and back, a saved file that is about
 * half the size and loads back as the rounded parameters, a parameter
 * beyond binary16's range refused, and unknown flags refused; a float32
 * file (version 1) still comes out byte for byte as the shipped MLP was
 * written.
 */
#include "binio.h"
#include "check.h"
#include "digitnet.h"
#include "internal.h"
#include "model.h"

#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static float f_of_bits(uint32_t x) {
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static void conversion(void) {
    CHECK(dn_half_of(0.0f) == 0x0000);
    CHECK(dn_half_of(-0.0f) == 0x8000);
    CHECK(dn_half_of(1.0f) == 0x3C00);
    CHECK(dn_half_of(-2.0f) == 0xC000);
    CHECK(dn_half_of(0.5f) == 0x3800);
    CHECK(dn_half_of(65504.0f) == 0x7BFF); /* the largest half */
    CHECK(dn_half_of(65519.0f) == 0x7BFF); /* rounds down to it */
    CHECK(dn_half_of(65520.0f) == 0x7C00); /* halfway: to even, infinity */
    CHECK(dn_half_of(1e9f) == 0x7C00);
    CHECK(dn_half_of(f_of_bits(0x7F800000u)) == 0x7C00); /* infinity */
    CHECK((dn_half_of(f_of_bits(0x7FC00000u)) & 0x7C00) == 0x7C00 &&
          (dn_half_of(f_of_bits(0x7FC00000u)) & 0x3FF) != 0); /* NaN stays NaN */
    /* 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties go to the even 1 */
    CHECK(dn_half_of(1.0f + 0x1p-11f) == 0x3C00);
    /* 1 + 3*2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9: up */
    CHECK(dn_half_of(1.0f + 3 * 0x1p-11f) == 0x3C02);
    CHECK(dn_half_of(1.0f + 0x1p-11f + 0x1p-20f) == 0x3C01); /* just over half: up */
    CHECK(dn_half_of(2047.5f) == 0x6800);                    /* a carry into the exponent */
    CHECK(dn_half_of(0x1p-14f) == 0x0400);                   /* the smallest normal */
    CHECK(dn_half_of(0x1p-24f) == 0x0001);                   /* the smallest subnormal */
    CHECK(dn_half_of(0x1p-25f) == 0x0000);                   /* half of it: ties to even 0 */
    CHECK(dn_half_of(0x1.8p-24f) == 0x0002);                 /* 1.5 units: to even 2 */
    CHECK(dn_half_of(-3 * 0x1p-24f) == 0x8003);
    CHECK(dn_half_of(0x1p-30f) == 0x0000);
    CHECK(dn_float_of_half(0x3C00) == 1.0f);
    CHECK(dn_float_of_half(0x0001) == 0x1p-24f);
    CHECK(dn_float_of_half(0x7BFF) == 65504.0f);
    CHECK(dn_float_of_half(0xFC00) == -INFINITY);
    CHECK(isnan(dn_float_of_half(0x7E00)));
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = dn_float_of_half((uint16_t)h);
        if (isnan(f)) continue;
        if (dn_half_of(f) != h) bad++;
    }
    CHECK_MSG(bad == 0, "%d halves do not survive float and back", bad);
    /* every float rounds to a nearest half: spot-check a sweep */
    int far = 0;
    for (float v = -70000.0f; v < 70000.0f; v += 13.37f) {
        float r = dn_float_of_half(dn_half_of(v));
        if (fabsf(v) <= 65504.0f && !(fabsf(r - v) <= fabsf(v) * 0x1p-11f)) far++;
    }
    CHECK_MSG(far == 0, "%d values rounded further than half a unit", far);
}

static off_t size_of(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void files(void) {
    char dir[] = "/tmp/dn-half-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char full[64], half[64];
    snprintf(full, sizeof full, "%s/full.dnm", dir);
    snprintf(half, sizeof half, "%s/half.dnm", dir);
    dn_model *m = NULL, *h = NULL;
    CHECK_OK(dn_model_create("conv3x3x4-relu-pool2-fc10", NULL, 7, &m, NULL));
    if (!m) return;
    size_t n = m->nparams;
    float *p = m->params;
    p[0] = 1.0f + 0x1p-11f; /* a tie, to the even 1 */
    p[1] = -1e-3f;
    p[2] = 0x1p-26f; /* below half the smallest subnormal: 0 */
    CHECK_OK(dn_model_set_meta(m, "note", "kept"));
    CHECK_OK(dn_model_save(m, full, NULL));
    CHECK_OK(dn_model_save_half(m, half, NULL));
    off_t fs = size_of(full), hs = size_of(half);
    CHECK_MSG(hs > 0 && fs - hs == (off_t)(2 * n), "fp32 %lld bytes, fp16 %lld, %zu parameters",
              (long long)fs, (long long)hs, n);
    dn_error err = {{0}};
    CHECK(dn_model_load(half, &h, &err) == DN_OK);
    if (h) {
        const float *q = h->params;
        int wrong = 0;
        for (size_t i = 0; i < n; i++)
            if (q[i] != dn_float_of_half(dn_half_of(p[i]))) wrong++;
        CHECK_MSG(wrong == 0, "%d parameters are not the rounded originals", wrong);
        CHECK(q[0] == 1.0f && q[2] == 0.0f && fabsf(q[1] + 1e-3f) <= 1e-3f * 0x1p-11f);
        const char *note = dn_model_get_meta(h, "note");
        CHECK(note && strcmp(note, "kept") == 0);
        CHECK(strcmp(dn_model_arch(h), dn_model_arch(m)) == 0);
        dn_model_free(h);
    }
    /* version 2 with a flag this build does not know */
    unsigned char *data = NULL;
    size_t size = 0;
    CHECK_OK(dn_read_file(half, 1 << 24, &data, &size, NULL));
    if (data) {
        data[12] |= 2;
        uint32_t crc = dn_checksum(data, size - 4);
        for (int k = 0; k < 4; k++) data[size - 4 + k] = (unsigned char)(crc >> 8 * k);
        FILE *f = fopen(half, "wb");
        CHECK(f && fwrite(data, 1, size, f) == size);
        if (f) fclose(f);
        h = NULL;
        CHECK(dn_model_load(half, &h, &err) == DN_E_UNSUPPORTED && !h);
        CHECK_MSG(strstr(err.msg, "flags") != NULL, "%s", err.msg);
        free(data);
    }
    /* beyond binary16: refused, and nothing is written */
    p[3] = 70000.0f;
    unlink(half);
    CHECK(dn_model_save_half(m, half, &err) == DN_E_ARG);
    CHECK_MSG(strstr(err.msg, "65504") != NULL, "%s", err.msg);
    CHECK(size_of(half) < 0);
    dn_model_free(m);
    unlink(full);
    rmdir(dir);
}

/* Loading and saving the shipped MLP gives back its exact bytes. */
static void version1_unchanged(void) {
    const char *path = "models/mnist-mlp.dnm";
    char out[64];
    snprintf(out, sizeof out, "/tmp/dn-half-v1-%d.dnm", (int)getpid());
    if (access(path, R_OK) != 0) return;
    dn_model *m = NULL;
    CHECK_OK(dn_model_load(path, &m, NULL));
    if (m) CHECK_OK(dn_model_save(m, out, NULL));
    dn_model_free(m);
    unsigned char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    CHECK_OK(dn_read_file(path, 1 << 24, &a, &na, NULL));
    CHECK_OK(dn_read_file(out, 1 << 24, &b, &nb, NULL));
    CHECK_MSG(a && b && na == nb && memcmp(a, b, na) == 0, "%s re-saved differs (%zu vs %zu bytes)",
              path, na, nb);
    free(a);
    free(b);
    unlink(out);
}

int main(void) {
    conversion();
    files();
    version1_unchanged();
    return check_report("test_half");
}
