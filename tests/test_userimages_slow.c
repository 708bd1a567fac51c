/*
 * test_userimages_slow.c — the shipped model on pictures that look like a
 * user's own, through the path `digitnet predict` takes: encoded file bytes
 * -> dn_image_decode -> dn_image_normalize -> dn_model_predict.
 *
 * 1. User-like photos: 1,000 MNIST test digits (every tenth) enlarged 5-15x
 *    with bilinear interpolation, placed off-centre on a bigger canvas,
 *    mostly as dark ink on coloured paper (a quarter stay light on a dark
 *    board), with noise, encoded as JPEG (quality 50-95), RGB PNG or PPM.
 *    Their accuracy must stay within 1.5 points of the same digits
 *    untouched.
 * 2. Canvas drawings: each digit 0-9 in three hand-designed stroke variants
 *    (polylines and elliptic arcs), rasterised on 280x280 with an
 *    anti-aliased round brush of radius 9-12 px, white on black and black on
 *    white (60 images), encoded as PNG. Accuracy must reach the floor below,
 *    set under the measured figure.
 *
 * Both figures are printed. `test_userimages_slow --write DIR` instead writes a
 * few such images as files NN-LABEL.{jpg,png,ppm} for tests/predict.sh.
 * Needs models/mnist-mlp.dnm and the MNIST test images; skips (77) without.
 */
#include "check.h"
#include "digitnet.h"

#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#define MODEL_PATH "models/mnist-mlp.dnm"
#define N_USER 1000
#define MAX_DROP 1.5      /* points of accuracy user-like images may lose */
#define CANVAS_FLOOR 0.90 /* measured 98-100% over several seeds */

/* ======================================================================== */
/* Helpers: RNG, MNIST, encoders                                            */
/* ======================================================================== */

static uint64_t rng = 0x243f6a8885a308d3ull;

/* splitmix64 */
static uint64_t next_u64(void) {
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int uniform(int lo, int hi) { /* inclusive */
    return lo + (int)(next_u64() % (uint64_t)(hi - lo + 1));
}

static double uniformf(double lo, double hi) {
    return lo + (hi - lo) * (double)(next_u64() >> 11) / 9007199254740992.0;
}

static unsigned char clamp8(double v) {
    return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
}

/* The MNIST test set via the library (labels needed). */
static int load_test(dn_dataset *ds) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", check_mnist_dir());
    return dn_mnist_load(dir, "test", ds, NULL) == DN_OK ? 0 : -1;
}

typedef struct membuf {
    unsigned char *p;
    size_t n, cap;
} membuf;

static void mb_put(membuf *m, const void *data, size_t n) {
    if (m->n + n > m->cap) {
        m->cap = (m->n + n) * 2;
        m->p = realloc(m->p, m->cap);
        if (!m->p) abort();
    }
    memcpy(m->p + m->n, data, n);
    m->n += n;
}

static void png_put(png_structp png, png_bytep data, size_t n) {
    mb_put(png_get_io_ptr(png), data, n);
}

static void png_noflush(png_structp png) {
    (void)png;
}

/* RGB (channels 3) or gray (1) pixels as PNG; a failure aborts the test. */
static membuf encode_png(const unsigned char *px, int w, int h, int channels) {
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) abort();
    png_set_write_fn(png, &m, png_put, png_noflush);
    png_set_compression_level(png, 1);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                 channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, px + (size_t)y * (size_t)w * (size_t)channels);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return m;
}

static membuf encode_jpeg(const unsigned char *px, int w, int h, int quality) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *out = NULL;
    unsigned long size = 0;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &size);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * (size_t)w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return (membuf){out, size, size};
}

static membuf encode_ppm(const unsigned char *px, int w, int h) {
    membuf m = {0};
    char hdr[64];
    int k = snprintf(hdr, sizeof hdr, "P6\n%d %d\n255\n", w, h);
    mb_put(&m, hdr, (size_t)k);
    mb_put(&m, px, (size_t)w * (size_t)h * 3);
    return m;
}

/* ======================================================================== */
/* User-like photos of MNIST digits                                         */
/* ======================================================================== */

enum { ENC_JPEG, ENC_PNG, ENC_PPM, ENC_COUNT };
static const char *enc_name[] = {"JPEG", "PNG (RGB)", "PPM"};
static const char *enc_ext[] = {"jpg", "png", "ppm"};

/* Ink coverage of the digit enlarged by `scale` at pixel (x, y) of the
 * enlargement: bilinear between MNIST pixel centres. */
static double ink_at(const unsigned char *d, double scale, int x, int y) {
    double u = (x + 0.5) / scale - 0.5, v = (y + 0.5) / scale - 0.5;
    int x0 = (int)floor(u), y0 = (int)floor(v);
    double fx = u - x0, fy = v - y0, s = 0;
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 2; i++) {
            int xx = x0 + i, yy = y0 + j;
            if (xx < 0 || yy < 0 || xx > 27 || yy > 27) continue;
            s += d[yy * 28 + xx] * (i ? fx : 1 - fx) * (j ? fy : 1 - fy);
        }
    return s / 255.0;
}

/* Paints the digit on a new RGB canvas as a user's photo would show it;
 * returns the pixels (w*h*3) and size. */
static unsigned char *user_photo(const unsigned char *digit, int *w, int *h) {
    int scale = uniform(5, 15), side = 28 * scale;
    *w = (int)(side * uniformf(1.2, 1.8));
    *h = (int)(side * uniformf(1.2, 1.8));
    int ox = uniform(0, *w - side), oy = uniform(0, *h - side);
    int dark_ink = uniform(0, 3) != 0, noise = uniform(0, 16);
    double paper[3], ink[3];
    for (int c = 0; c < 3; c++) {
        paper[c] = dark_ink ? uniform(160, 255) : uniform(0, 80);
        ink[c] = dark_ink ? uniform(0, 70) : uniform(190, 255);
    }
    size_t n = (size_t)*w * (size_t)*h;
    unsigned char *px = malloc(n * 3);
    if (!px) abort();
    for (int y = 0; y < *h; y++)
        for (int x = 0; x < *w; x++) {
            int dx = x - ox, dy = y - oy;
            double a =
                dx >= 0 && dy >= 0 && dx < side && dy < side ? ink_at(digit, scale, dx, dy) : 0;
            unsigned char *p = px + ((size_t)y * (size_t)*w + (size_t)x) * 3;
            uint64_t r = next_u64(); /* 16 random bits per channel */
            for (int c = 0; c < 3; c++) {
                int e = (int)((r >> (16 * c)) & 0xffff) % (2 * noise + 1) - noise;
                p[c] = clamp8(paper[c] + (ink[c] - paper[c]) * a + e);
            }
        }
    return px;
}

static membuf encode_photo(const unsigned char *px, int w, int h, int enc) {
    if (enc == ENC_JPEG) return encode_jpeg(px, w, h, uniform(50, 95));
    if (enc == ENC_PNG) return encode_png(px, w, h, 3);
    return encode_ppm(px, w, h);
}

/* Decodes and normalises like `digitnet predict`; 0 on success. */
static int to_input(const membuf *file, float *x) {
    dn_image img;
    unsigned char d[784];
    dn_error err = {{0}};
    dn_status st = dn_image_decode(file->p, file->n, &img, &err);
    if (st == DN_OK) {
        st = dn_image_normalize(&img, d, &err);
        dn_image_free(&img);
    }
    if (st != DN_OK) {
        fprintf(stderr, "  pipeline failed: %s\n", err.msg);
        return -1;
    }
    dn_model_inputs_from_pixels(d, 784, x);
    return 0;
}

static int argmax(const float *p) {
    int b = 0;
    for (int k = 1; k < 10; k++)
        if (p[k] > p[b]) b = k;
    return b;
}

/* Accuracy of the model on n inputs; failed[i] marks inputs that are wrong
 * whatever the model says. */
static double accuracy(const dn_model *m, const float *x, const unsigned char *labels,
                       const unsigned char *failed, size_t n, size_t *per_enc_ok, const int *enc) {
    float *p = malloc(n * 10 * sizeof *p);
    if (!p) abort();
    CHECK_OK(dn_model_predict(m, x, n, p, NULL));
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        int right = !(failed && failed[i]) && argmax(p + i * 10) == labels[i];
        ok += (size_t)right;
        if (per_enc_ok && right) per_enc_ok[enc[i]]++;
    }
    free(p);
    return (double)ok / (double)n;
}

static void test_user_photos(const dn_model *m, const dn_dataset *ds) {
    size_t n = N_USER;
    float *plain = malloc(n * 784 * sizeof(float)), *user = malloc(n * 784 * sizeof(float));
    unsigned char *labels = malloc(n), *failed = calloc(n, 1);
    int *enc = malloc(n * sizeof *enc);
    size_t enc_n[ENC_COUNT] = {0}, enc_ok[ENC_COUNT] = {0};
    if (!plain || !user || !labels || !failed || !enc) abort();
    for (size_t i = 0; i < n; i++) {
        size_t k = i * (ds->count / n);
        const unsigned char *digit = ds->images + k * 784;
        labels[i] = ds->labels[k];
        dn_model_inputs_from_pixels(digit, 784, plain + i * 784);
        int w, h;
        unsigned char *px = user_photo(digit, &w, &h);
        enc[i] = uniform(0, ENC_COUNT - 1);
        enc_n[enc[i]]++;
        membuf file = encode_photo(px, w, h, enc[i]);
        if (to_input(&file, user + i * 784)) {
            failed[i] = 1;
            memset(user + i * 784, 0, 784 * sizeof(float));
        }
        free(file.p);
        free(px);
    }
    double a_plain = accuracy(m, plain, labels, NULL, n, NULL, NULL);
    double a_user = accuracy(m, user, labels, failed, n, enc_ok, enc);
    printf("untouched MNIST digits:  %.2f%% of %zu\n", 100 * a_plain, n);
    printf("user-like photos:        %.2f%% of %zu (difference %+.2f points)\n", 100 * a_user, n,
           100 * (a_user - a_plain));
    for (int e = 0; e < ENC_COUNT; e++)
        printf("  %-10s %6.2f%% of %zu\n", enc_name[e],
               enc_n[e] ? 100.0 * enc_ok[e] / enc_n[e] : 0.0, enc_n[e]);
    CHECK_MSG(a_user >= a_plain - MAX_DROP / 100, "user-like %.2f%% vs untouched %.2f%%",
              100 * a_user, 100 * a_plain);
    CHECK(a_plain > 0.95);
    free(plain);
    free(user);
    free(labels);
    free(failed);
    free(enc);
}

/* ======================================================================== */
/* Canvas drawings                                                          */
/* ======================================================================== */

/* A pen path in the unit box (y down); x = NAN lifts the pen. */
typedef struct path {
    double x[400], y[400];
    int n;
} path;

static void to(path *p, double x, double y) {
    if (p->n < 400) {
        p->x[p->n] = x;
        p->y[p->n++] = y;
    }
}

static void lift(path *p) {
    to(p, NAN, NAN);
}

/* Elliptic arc from angle a0 to a1 (degrees; 0 = right, 90 = down). */
static void arc(path *p, double cx, double cy, double rx, double ry, double a0, double a1) {
    int steps = (int)(fabs(a1 - a0) / 10) + 1;
    for (int i = 0; i <= steps; i++) {
        double a = (a0 + (a1 - a0) * i / steps) * 3.14159265358979 / 180;
        to(p, cx + rx * cos(a), cy + ry * sin(a));
    }
}

/* Appends n points given as x0, y0, x1, y1, ... */
static void poly(path *p, int n, ...) {
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        double x = va_arg(ap, double);
        to(p, x, va_arg(ap, double));
    }
    va_end(ap);
}

/* The strokes of digit d, variant v (0..2), in the unit box. */
static void digit_zero_to_four(int d, int v, path *p) {
    switch (d) {
    case 0: /* an oval; v1 overshoots its start, v2 is rounder */
        arc(p, 0.5, 0.5, v == 2 ? 0.33 : 0.27, v == 2 ? 0.42 : 0.45, v == 1 ? -110 : -90,
            v == 1 ? 280 : 270);
        break;
    case 1: /* a bar; v1 adds a flag, v2 a flag and a base */
        if (v) poly(p, 1, 0.34, 0.2);
        poly(p, 2, 0.52, 0.05, 0.5, 0.95);
        if (v == 2) {
            lift(p);
            poly(p, 2, 0.32, 0.95, 0.7, 0.95);
        }
        break;
    case 2: /* a hook, a diagonal and a base */
        arc(p, 0.5, 0.3, 0.27, 0.25, v == 2 ? 190 : 200, v == 1 ? 380 : 400);
        poly(p, 2, 0.2, 0.93, 0.84, v == 1 ? 0.9 : 0.93);
        break;
    case 3: /* two bowls; v1 has a flat top */
        if (v == 1) {
            poly(p, 3, 0.25, 0.06, 0.76, 0.06, 0.45, 0.42);
            arc(p, 0.5, 0.68, 0.28, 0.26, 250, 520);
        } else {
            arc(p, 0.48, 0.28, 0.25, 0.22, 200, v ? 430 : 450);
            arc(p, 0.48, 0.72, 0.28, 0.23, v ? 260 : 270, 520);
        }
        break;
    default: /* 4: closed in one stroke (v0) or open in two */
        if (v == 0) {
            poly(p, 4, 0.68, 0.95, 0.68, 0.05, 0.15, 0.68, 0.88, 0.68);
        } else {
            poly(p, 3, v == 1 ? 0.25 : 0.3, 0.05, 0.2, 0.62, 0.85, 0.62);
            lift(p);
            poly(p, 2, v == 1 ? 0.68 : 0.72, v == 1 ? 0.25 : 0.05, 0.66, 0.95);
        }
        break;
    }
}

static void digit_five_to_nine(int d, int v, path *p) {
    switch (d) {
    case 5: /* stem and bowl, the top bar drawn first (v1) or last */
        if (v == 1) poly(p, 1, 0.78, 0.06);
        poly(p, 2, 0.32, 0.06, 0.28, 0.45);
        arc(p, 0.5, 0.68, v == 2 ? 0.3 : 0.28, 0.26, 235, 520);
        if (v != 1) {
            lift(p);
            poly(p, 2, 0.32, 0.06, 0.78, 0.06);
        }
        break;
    case 6: /* a curved (v0, v2) or straight (v1) stem into a loop */
        if (v == 1)
            poly(p, 2, 0.62, 0.05, 0.3, 0.55);
        else
            poly(p, 4, 0.68, 0.05, 0.48, 0.2, 0.33, 0.42, 0.25, 0.68);
        arc(p, 0.5, v == 2 ? 0.68 : 0.72, v == 2 ? 0.26 : 0.22, v == 2 ? 0.26 : 0.22, 180, -170);
        break;
    case 7: /* v1 is crossed, v2 has a bent stem */
        if (v == 2)
            poly(p, 4, 0.18, 0.1, 0.82, 0.08, 0.6, 0.45, 0.5, 0.95);
        else
            poly(p, 3, 0.2, 0.08, 0.8, 0.08, 0.42, 0.95);
        if (v == 1) {
            lift(p);
            poly(p, 2, 0.38, 0.5, 0.72, 0.5);
        }
        break;
    case 8: /* two loops: one stroke (v1) or two circles */
        if (v == 1) {
            arc(p, 0.5, 0.27, 0.21, 0.21, 90, -270);
            arc(p, 0.5, 0.71, 0.25, 0.23, -90, 270);
        } else {
            arc(p, 0.5, 0.27, v ? 0.19 : 0.21, 0.21, 0, 360);
            lift(p);
            arc(p, 0.5, 0.71, v ? 0.27 : 0.25, 0.23, 0, 360);
        }
        break;
    default: /* 9: a loop and a straight (v0, v2) or curved (v1) tail */
        arc(p, 0.48, 0.3, 0.24, 0.22, 0, -360);
        if (v == 1)
            poly(p, 2, 0.7, 0.7, 0.55, 0.95);
        else
            poly(p, 2, 0.72, v ? 0.25 : 0.3, v ? 0.72 : 0.68, 0.95);
        break;
    }
}

/* Distance from (px, py) to the segment a-b. */
static double seg_dist(double px, double py, double ax, double ay, double bx, double by) {
    double dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
    double t = l2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return hypot(px - ax - t * dx, py - ay - t * dy);
}

/* Rasterises the path on a size x size gray canvas: height hgt px, width
 * factor wf, slant, centre (cx, cy), brush radius r; ink 255 on 0. */
static void rasterise(const path *p, unsigned char *img, int size, double hgt, double wf,
                      double slant, double cx, double cy, double r) {
    double X[400], Y[400];
    for (int i = 0; i < p->n; i++) {
        X[i] = cx + (p->x[i] - 0.5) * hgt * wf + slant * (0.5 - p->y[i]) * hgt;
        Y[i] = cy + (p->y[i] - 0.5) * hgt;
    }
    for (int i = 0; i + 1 < p->n; i++) {
        if (isnan(X[i]) || isnan(X[i + 1])) continue;
        int x0 = (int)floor(fmin(X[i], X[i + 1]) - r - 1),
            x1 = (int)ceil(fmax(X[i], X[i + 1]) + r + 1);
        int y0 = (int)floor(fmin(Y[i], Y[i + 1]) - r - 1),
            y1 = (int)ceil(fmax(Y[i], Y[i + 1]) + r + 1);
        for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < size; y++)
            for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < size; x++) {
                double d = seg_dist(x + 0.5, y + 0.5, X[i], Y[i], X[i + 1], Y[i + 1]);
                double cov = r + 0.5 - d;
                unsigned char v = clamp8(255 * (cov < 0 ? 0 : cov > 1 ? 1 : cov));
                if (v > img[y * size + x]) img[y * size + x] = v;
            }
    }
}

/* Draws digit d, variant v (0..2) like a web canvas 280x280, white on black
 * unless dark_on_light; returns PNG bytes. */
static membuf canvas_drawing(int d, int v, int dark_on_light) {
    enum { SIZE = 280 };
    path p = {.n = 0};
    if (d < 5)
        digit_zero_to_four(d, v, &p);
    else
        digit_five_to_nine(d, v, &p);
    unsigned char img[SIZE * SIZE];
    memset(img, 0, sizeof img);
    for (int i = 0; i < p.n; i++) { /* a hand's wobble */
        p.x[i] += uniformf(-0.025, 0.025);
        p.y[i] += uniformf(-0.025, 0.025);
    }
    rasterise(&p, img, SIZE, uniformf(110, 230), uniformf(0.75, 1.2), uniformf(-0.2, 0.35),
              140 + uniformf(-45, 45), 140 + uniformf(-30, 30), uniformf(8, 13));
    if (dark_on_light)
        for (int i = 0; i < SIZE * SIZE; i++) img[i] = (unsigned char)(255 - img[i]);
    return encode_png(img, SIZE, SIZE, 1);
}

static void test_canvas(const dn_model *m) {
    enum { N = 60 };
    float *x = malloc(N * 784 * sizeof(float));
    unsigned char labels[N], failed[N] = {0};
    if (!x) abort();
    for (int i = 0; i < N; i++) {
        int d = i / 6, v = i % 3, dark = (i / 3) % 2;
        labels[i] = (unsigned char)d;
        membuf file = canvas_drawing(d, v, dark);
        if (to_input(&file, x + i * 784)) {
            failed[i] = 1;
            memset(x + i * 784, 0, 784 * sizeof(float));
        }
        free(file.p);
    }
    float p[N * 10];
    CHECK_OK(dn_model_predict(m, x, N, p, NULL));
    int ok = 0, ok_dark = 0;
    for (int i = 0; i < N; i++) {
        int right = !failed[i] && argmax(p + i * 10) == labels[i];
        ok += right;
        ok_dark += right && (i / 3) % 2;
        if (!right)
            printf("  canvas digit %d variant %d (%s) read as %d\n", labels[i], i % 3,
                   (i / 3) % 2 ? "black on white" : "white on black", argmax(p + i * 10));
    }
    printf("canvas drawings:         %.2f%% of %d (white on black %d/30, black on white %d/30)\n",
           100.0 * ok / N, N, ok - ok_dark, ok_dark);
    CHECK_MSG(ok >= CANVAS_FLOOR * N, "%d of %d canvas drawings recognised", ok, N);
    free(x);
}

/* ======================================================================== */
/* Fixture files for the shell test                                         */
/* ======================================================================== */

static int write_file(const char *dir, int i, int label, const char *ext, const membuf *m) {
    char name[1200];
    snprintf(name, sizeof name, "%s/%02d-%d.%s", dir, i, label, ext);
    FILE *f = fopen(name, "wb");
    int bad = !f || fwrite(m->p, 1, m->n, f) != m->n;
    if (f && fclose(f)) bad = 1;
    if (bad) fprintf(stderr, "cannot write %s\n", name);
    return bad;
}

/* Nine user-like photos (three per encoding) and two canvas drawings. */
static int write_fixtures(const char *dir, const dn_dataset *ds) {
    int bad = 0;
    for (int i = 0; i < 9; i++) {
        size_t k = (size_t)i * 37;
        int w, h, enc = i % ENC_COUNT;
        unsigned char *px = user_photo(ds->images + k * 784, &w, &h);
        membuf file = encode_photo(px, w, h, enc);
        bad |= write_file(dir, i, ds->labels[k], enc_ext[enc], &file);
        free(file.p);
        free(px);
    }
    for (int i = 0; i < 2; i++) {
        membuf file = canvas_drawing(i ? 7 : 3, 0, i);
        bad |= write_file(dir, 9 + i, i ? 7 : 3, "png", &file);
        free(file.p);
    }
    return bad;
}

int main(int argc, char **argv) {
    dn_dataset ds = {0};
    dn_model *m = NULL;
    if (load_test(&ds)) {
        printf("skip: MNIST test set not found in %s\n", check_mnist_dir());
        return 77;
    }
    if (argc == 3 && !strcmp(argv[1], "--write")) {
        int bad = write_fixtures(argv[2], &ds);
        dn_dataset_free(&ds);
        return bad;
    }
    if (dn_model_load(MODEL_PATH, &m, NULL) != DN_OK) {
        dn_dataset_free(&ds);
        printf("skip: %s not found\n", MODEL_PATH);
        return 77;
    }
    test_user_photos(m, &ds);
    test_canvas(m);
    dn_model_free(m);
    dn_dataset_free(&ds);
    return check_report("test_userimages");
}
