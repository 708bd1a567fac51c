/*
 * test_preprocess.c — dn_image_normalize against real MNIST digits.
 *
 * An MNIST digit is already normalised, so the pipeline should nearly
 * reproduce it; the same digit enlarged, moved off-centre, inverted onto a
 * grey noisy "paper" (or with specks, or inside a huge image) should come
 * back close to the original too.  Mean absolute pixel differences are
 * printed in 0..255 units; bounds sit a little above the measured values so
 * a regression in any step shows.  Also covers blank and degenerate images.
 * Needs data/mnist/t10k-images-idx3-ubyte (or DN_MNIST_DIR); the MNIST
 * parts are skipped without it.
 */
#include "check.h"
#include "digitnet.h"

#include <stdint.h>
#include <string.h>

#define N_IDENTITY 1000
#define N_PHOTO 100

/* ---------------------------------------------------------------- helpers */

/* Reads the IDX image file directly (16-byte header, then 28x28 bytes per
 * image), so this test depends only on the module under test. */
static unsigned char *load_mnist(size_t want, size_t *count) {
    char path[1024];
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", check_mnist_dir());
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char hdr[16];
    unsigned char *buf = NULL;
    if (fread(hdr, 1, 16, f) == 16 && hdr[2] == 8 && hdr[3] == 3 && hdr[11] == 28 &&
        hdr[15] == 28) {
        size_t n = (size_t)hdr[4] << 24 | (size_t)hdr[5] << 16 | (size_t)hdr[6] << 8 | hdr[7];
        if (n > want) n = want;
        buf = malloc(n * 784);
        if (buf && fread(buf, 784, n, f) == n)
            *count = n;
        else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

static double mean_abs_diff(const unsigned char *a, const unsigned char *b) {
    long sum = 0;
    for (int i = 0; i < 784; i++) sum += abs(a[i] - b[i]);
    return (double)sum / 784.0;
}

/* xorshift64; calls are kept in separate statements so every compiler draws
 * the same images. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static unsigned char clamp255(int v) {
    return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Draws `digit` enlarged `scale` times (pixel replication) at (ox, oy) as
 * dark ink on a `bg` page: level bg - m*(bg-ink)/255 plus uniform noise of
 * +-noise.  The canvas must be filled by the caller. */
static void draw_digit(dn_image *img, const unsigned char *digit, int scale, int ox, int oy, int bg,
                       int ink) {
    for (int y = 0; y < 28 * scale; y++)
        for (int x = 0; x < 28 * scale; x++) {
            int m = digit[(y / scale) * 28 + x / scale];
            img->pixels[(size_t)(oy + y) * img->width + ox + x] =
                clamp255(bg - m * (bg - ink) / 255);
        }
}

static void add_noise(dn_image *img, int noise) {
    size_t n = (size_t)img->width * img->height;
    for (size_t i = 0; i < n; i++)
        img->pixels[i] = clamp255(img->pixels[i] + (int)rnd(2 * noise + 1) - noise);
}

static int make_canvas(dn_image *img, int w, int h, int level) {
    img->width = w;
    img->height = h;
    img->pixels = malloc((size_t)w * h);
    if (!img->pixels) return 0;
    memset(img->pixels, level, (size_t)w * h);
    return 1;
}

/* ---------------------------------------------------------------- MNIST */

static void test_identity(const unsigned char *digits, size_t n) {
    double sum = 0, worst = 0;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char copy[784], out[784];
        memcpy(copy, digits + i * 784, 784);
        dn_image img = {28, 28, copy};
        if (dn_image_normalize(&img, out, NULL) != DN_OK) continue;
        ok++;
        double d = mean_abs_diff(out, digits + i * 784);
        sum += d;
        if (d > worst) worst = d;
    }
    double mean = ok ? sum / (double)ok : 1e9;
    printf("MNIST digit -> normalise: mean abs diff %.3f (worst %.2f) over %zu digits\n", mean,
           worst, ok);
    CHECK(ok == n);
    CHECK_MSG(mean < 0.5, "mean abs diff %.3f", mean);
}

/* A 10x enlargement on a 400x300 grey, noisy page, dark ink, off-centre. */
static void test_photo_like(const unsigned char *digits, size_t n) {
    double sum = 0, worst = 0;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        dn_image img;
        if (!make_canvas(&img, 400, 300, 0)) break;
        int bg = 150 + (int)rnd(60), ink = 20 + (int)rnd(40);
        memset(img.pixels, bg, 400 * 300);
        int ox = (int)rnd(120), oy = (int)rnd(20);
        draw_digit(&img, digits + i * 784, 10, ox, oy, bg, ink);
        add_noise(&img, 12);
        unsigned char out[784];
        dn_status st = dn_image_normalize(&img, out, NULL);
        free(img.pixels);
        if (st != DN_OK) continue;
        ok++;
        double d = mean_abs_diff(out, digits + i * 784);
        sum += d;
        if (d > worst) worst = d;
    }
    double mean = ok ? sum / (double)ok : 1e9;
    printf("10x, off-centre, inverted, grey noisy page: mean abs diff %.3f (worst %.2f) over %zu "
           "digits\n",
           mean, worst, ok);
    CHECK(ok == n);
    CHECK_MSG(mean < 5.0, "mean abs diff %.3f", mean);
}

/* Paper lit from one side: the page darkens from 230 to 110 across the
 * diagonal, so no single background level fits. */
static void test_lighting(const unsigned char *digits, size_t n) {
    double sum = 0;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        dn_image img;
        if (!make_canvas(&img, 400, 300, 0)) break;
        for (int y = 0; y < 300; y++)
            for (int x = 0; x < 400; x++)
                img.pixels[y * 400 + x] = (unsigned char)(230 - 120 * (x + y) / 700);
        const unsigned char *d = digits + i * 784;
        int ox = 60 + (int)rnd(60), oy = (int)rnd(20);
        for (int y = 0; y < 280; y++)
            for (int x = 0; x < 280; x++) {
                unsigned char *p = &img.pixels[(oy + y) * 400 + ox + x];
                *p = clamp255(*p - d[(y / 10) * 28 + x / 10] * (*p - 30) / 255);
            }
        add_noise(&img, 6);
        unsigned char out[784];
        dn_status st = dn_image_normalize(&img, out, NULL);
        free(img.pixels);
        if (st != DN_OK) continue;
        ok++;
        sum += mean_abs_diff(out, d);
    }
    double mean = ok ? sum / (double)ok : 1e9;
    printf("10x on a page shaded 230..110: mean abs diff %.3f over %zu digits\n", mean, ok);
    CHECK(ok == n);
    CHECK_MSG(mean < 5.0, "mean abs diff %.3f", mean);
}

/* Cropped tightly: the strokes run into the image's edges, where the
 * background and noise are measured. */
static void test_tight_crop(const unsigned char *digits, size_t n) {
    double sum = 0;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *d = digits + i * 784;
        int x0 = 28, y0 = 28, x1 = 0, y1 = 0;
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++)
                if (d[y * 28 + x]) {
                    x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
                    y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
                }
        dn_image img;
        if (!make_canvas(&img, (x1 - x0 + 1) * 10, (y1 - y0 + 1) * 10, 0)) break;
        for (int y = 0; y < img.height; y++)
            for (int x = 0; x < img.width; x++)
                img.pixels[y * img.width + x] =
                    (unsigned char)(235 - d[(y0 + y / 10) * 28 + x0 + x / 10] * 200 / 255);
        add_noise(&img, 8);
        unsigned char out[784];
        dn_status st = dn_image_normalize(&img, out, NULL);
        free(img.pixels);
        if (st != DN_OK) continue;
        ok++;
        sum += mean_abs_diff(out, d);
    }
    double mean = ok ? sum / (double)ok : 1e9;
    printf("10x, cropped to the strokes, dark on light: mean abs diff %.3f over %zu digits\n", mean,
           ok);
    CHECK(ok == n);
    CHECK_MSG(mean < 4.0, "mean abs diff %.3f", mean);
}

/* Scattered single-pixel specks and small dots must not widen the crop. */
static void test_specks(const unsigned char *digit) {
    dn_image img;
    if (!make_canvas(&img, 400, 300, 255)) return;
    draw_digit(&img, digit, 8, 150, 30, 255, 0);
    for (int k = 0; k < 300; k++) {
        unsigned y = rnd(300), x = rnd(400);
        img.pixels[y * 400 + x] = (unsigned char)rnd(60);
    }
    unsigned char out[784];
    CHECK_OK(dn_image_normalize(&img, out, NULL));
    double d = mean_abs_diff(out, digit);
    printf("8x on white with 300 dark specks: mean abs diff %.3f\n", d);
    CHECK_MSG(d < 3.0, "mean abs diff %.3f", d);
    free(img.pixels);
}

/* A 6000x4000 page goes through the reduced working image. */
static void test_large(const unsigned char *digit) {
    dn_image img;
    if (!make_canvas(&img, 6000, 4000, 230)) return;
    draw_digit(&img, digit, 100, 2500, 500, 230, 40);
    unsigned char out[784];
    CHECK_OK(dn_image_normalize(&img, out, NULL));
    double d = mean_abs_diff(out, digit);
    printf("100x on a 6000x4000 page: mean abs diff %.3f\n", d);
    CHECK_MSG(d < 4.0, "mean abs diff %.3f", d);
    free(img.pixels);
}

/* ---------------------------------------------------------------- synthetic */

static int ink_pixels(const unsigned char *out) {
    int n = 0;
    for (int i = 0; i < 784; i++) n += out[i] > 0;
    return n;
}

/* In pixel-index units, as MNIST's digits have it in [13.5, 14.5). */
static void centre_of_mass(const unsigned char *out, double *cx, double *cy) {
    double m = 0, mx = 0, my = 0;
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++) {
            m += out[y * 28 + x];
            mx += out[y * 28 + x] * x;
            my += out[y * 28 + x] * y;
        }
    *cx = m > 0 ? mx / m : -1;
    *cy = m > 0 ? my / m : -1;
}

/* A tall bar keeps its aspect ratio: 20 rows high, 2 columns wide, centred. */
static void test_aspect(void) {
    dn_image img;
    if (!make_canvas(&img, 200, 200, 0)) return;
    for (int y = 50; y < 150; y++) memset(img.pixels + y * 200 + 90, 200, 10);
    unsigned char out[784];
    CHECK_OK(dn_image_normalize(&img, out, NULL));
    int rows = 0, cols = 0, max = 0;
    for (int y = 0; y < 28; y++) {
        int any = 0;
        for (int x = 0; x < 28; x++) {
            any |= out[y * 28 + x] > 0;
            if (out[y * 28 + x] > max) max = out[y * 28 + x];
        }
        rows += any;
    }
    for (int x = 0; x < 28; x++) {
        int any = 0;
        for (int y = 0; y < 28; y++) any |= out[y * 28 + x] > 0;
        cols += any;
    }
    CHECK(rows == 20);
    CHECK(cols == 2);
    CHECK(max == 255);
    double cx, cy;
    centre_of_mass(out, &cx, &cy);
    CHECK_MSG(cx >= 13.5 && cx <= 14.5 && cy >= 13.5 && cy <= 14.5, "COM (%.2f, %.2f)", cx, cy);
    free(img.pixels);
}

static void test_blank_and_degenerate(void) {
    unsigned char out[784];
    dn_image img;
    if (!make_canvas(&img, 64, 48, 200)) return;
    CHECK(dn_image_normalize(&img, out, NULL) == DN_E_NODATA);
    add_noise(&img, 10);
    dn_error err = {{0}};
    CHECK(dn_image_normalize(&img, out, &err) == DN_E_NODATA);
    CHECK(strcmp(err.msg, "image has no ink") == 0);
    /* a faint smudge is not a digit either */
    for (int y = 10; y < 30; y++) memset(img.pixels + y * 64 + 20, 190, 10);
    CHECK(dn_image_normalize(&img, out, NULL) == DN_E_NODATA);
    free(img.pixels);

    unsigned char one = 0;
    img = (dn_image){1, 1, &one};
    CHECK(dn_image_normalize(&img, out, NULL) == DN_E_NODATA);
    one = 255;
    CHECK(dn_image_normalize(&img, out, NULL) == DN_E_NODATA);

    /* thin strips must not crash; whatever comes out is a valid image */
    unsigned char strip[300];
    for (int i = 0; i < 300; i++) strip[i] = i > 100 && i < 180 ? 0 : 255;
    int shapes[3][2] = {{300, 1}, {1, 300}, {100, 3}};
    for (int s = 0; s < 3; s++) {
        img = (dn_image){shapes[s][0], shapes[s][1], strip};
        dn_status st = dn_image_normalize(&img, out, NULL);
        CHECK(st == DN_OK || st == DN_E_NODATA);
        if (st == DN_OK) CHECK(ink_pixels(out) > 0);
    }

    /* a 2x2 image holding one dark pixel: a speck, not a digit */
    unsigned char tiny[4] = {255, 255, 0, 255};
    img = (dn_image){2, 2, tiny};
    CHECK(dn_image_normalize(&img, out, NULL) == DN_E_NODATA);
}

static void test_arguments(void) {
    unsigned char out[784], px[4] = {0};
    dn_image img = {2, 2, NULL};
    CHECK(dn_image_normalize(&img, out, NULL) == DN_E_ARG);
    CHECK(dn_image_normalize(NULL, out, NULL) == DN_E_ARG);
    img.pixels = px;
    img.width = 0;
    CHECK(dn_image_normalize(&img, out, NULL) == DN_E_ARG);
    img = (dn_image){-3, 2, px};
    CHECK(dn_image_normalize(&img, out, NULL) == DN_E_ARG);
    /* rejected from the declared size alone, before any pixel is read */
    img = (dn_image){10000, 5001, px};
    CHECK(dn_image_normalize(&img, out, NULL) == DN_E_ARG);
}

/* The largest accepted image: 50 megapixels, linear time, bounded memory. */
static void test_limit(void) {
    dn_image img;
    if (!make_canvas(&img, 10000, 5000, 255)) return;
    for (int y = 1000; y < 4000; y++) memset(img.pixels + (size_t)y * 10000 + 4000, 0, 600);
    unsigned char out[784];
    CHECK_OK(dn_image_normalize(&img, out, NULL));
    CHECK(ink_pixels(out) > 0);
    free(img.pixels);
}

int main(void) {
    test_arguments();
    test_blank_and_degenerate();
    test_aspect();
    test_limit();
    size_t n = 0;
    unsigned char *digits = load_mnist(N_IDENTITY, &n);
    if (!digits || n < N_IDENTITY) {
        printf("test_preprocess: MNIST test images not found, skipping the MNIST checks\n");
    } else {
        test_identity(digits, n);
        test_photo_like(digits, N_PHOTO);
        test_lighting(digits + N_PHOTO * 784, N_PHOTO / 2);
        test_tight_crop(digits + 2 * N_PHOTO * 784, N_PHOTO);
        test_specks(digits + 7 * 784);
        test_large(digits + 3 * 784);
    }
    free(digits);
    return check_report("test_preprocess");
}
