/*
 * test_image.c — decoding and encoding of PNG, JPEG, PGM and PPM.
 *
 * Images are built in memory (PNG through libpng directly for layouts our
 * encoder never writes: RGBA, palette, 16-bit, 1-bit, interlaced; JPEG
 * through libjpeg) and decoded back.  Every prefix of a valid PNG and JPEG
 * must fail cleanly, a header declaring 100000x100000 must fail at once,
 * and none of the failures may print: stderr is captured around them.
 */
#include "check.h"
#include "digitnet.h"

#include <jpeglib.h>
#include <png.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ---------------------------------------------------------------- builders */

typedef struct membuf {
    unsigned char *data;
    size_t size;
} membuf;

static void membuf_write(png_structp png, png_bytep data, size_t n) {
    membuf *m = png_get_io_ptr(png);
    m->data = realloc(m->data, m->size + n);
    if (!m->data) abort();
    memcpy(m->data + m->size, data, n);
    m->size += n;
}

static void membuf_flush(png_structp png) {
    (void)png;
}

typedef struct png_spec {
    int w, h, color_type, depth, interlace;
    const unsigned char *rows; /* packed rows as PNG stores them */
    const png_color *palette;
    int npalette;
    const png_byte *trans;
    int ntrans;
} png_spec;

/* Writes any PNG layout with libpng's default error handling: a failure
 * here is a broken test and may abort. */
static membuf make_png(const png_spec *s) {
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (!png || !info || setjmp(png_jmpbuf(png))) abort();
    png_set_write_fn(png, &m, membuf_write, membuf_flush);
    png_set_IHDR(png, info, (png_uint_32)s->w, (png_uint_32)s->h, s->depth, s->color_type,
                 s->interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (s->palette) png_set_PLTE(png, info, s->palette, s->npalette);
    if (s->trans) png_set_tRNS(png, info, s->trans, s->ntrans, NULL);
    png_write_info(png, info);
    int passes = png_set_interlace_handling(png);
    size_t rowbytes = png_get_rowbytes(png, info);
    for (int p = 0; p < passes; p++)
        for (int y = 0; y < s->h; y++) png_write_row(png, s->rows + (size_t)y * rowbytes);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return m;
}

/* A JPEG of px; with scans != NULL, progressive with that scan script. */
static membuf make_jpeg_scans(const unsigned char *px, int w, int h, int components, int quality,
                              const jpeg_scan_info *scans, int nscans) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *out = NULL;
    unsigned long size = 0;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &size);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = components;
    c.in_color_space = components == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    if (scans) c.scan_info = scans, c.num_scans = nscans;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * components);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return (membuf){out, size};
}

/* The decode budgets: a JPEG's work (pixels x components per scan) and
 * memory, and the pixel count, each refused as DN_E_LIMIT with a message
 * naming the budget; within them the same file decodes. */
static void test_decode_limits(void) {
    enum { W = 256, H = 192 };
    unsigned char *px = malloc(W * H);
    for (int i = 0; i < W * H; i++) px[i] = (unsigned char)((i * 13) ^ (i >> 5));
    /* progressive, 64 scans: the DC, then each AC coefficient on its own */
    static jpeg_scan_info scans[64];
    for (int i = 0; i < 64; i++) scans[i] = (jpeg_scan_info){1, {0}, i, i, 0, 0};
    membuf m = make_jpeg_scans(px, W, H, 1, 90, scans, 64);
    dn_image img = {0};
    dn_error err = {{0}};
    CHECK_OK(dn_image_decode(m.data, m.size, &img, &check_err_));
    CHECK(img.width == W && img.height == H);
    dn_image_free(&img);
    dn_image_limits work = {0, 0, (unsigned long long)W * H * 40}; /* 40 of the 64 scans */
    CHECK(dn_image_decode_limited(m.data, m.size, &work, &img, &err) == DN_E_LIMIT);
    CHECK_MSG(strstr(err.msg, "work limit (41 scans"), "%s", err.msg);
    CHECK(img.pixels == NULL);
    dn_image_limits mem = {0, 32 << 10, 0}; /* the coefficients alone need 96 KiB */
    CHECK(dn_image_decode_limited(m.data, m.size, &mem, &img, &err) == DN_E_LIMIT);
    CHECK_MSG(strstr(err.msg, "memory limit"), "%s", err.msg);
    dn_image_limits pixels = {W * H - 1, 0, 0};
    CHECK(dn_image_decode_limited(m.data, m.size, &pixels, &img, &err) == DN_E_LIMIT);
    CHECK_MSG(strstr(err.msg, "256x192"), "%s", err.msg);
    dn_image_limits roomy = {W * H, 64 << 20, (unsigned long long)W * H * 64};
    CHECK_OK(dn_image_decode_limited(m.data, m.size, &roomy, &img, &check_err_));
    dn_image_free(&img);
    free(m.data);
    free(px);
}

static membuf make_jpeg(const unsigned char *px, int w, int h, int components, int quality) {
    return make_jpeg_scans(px, w, h, components, quality, NULL, 0);
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Appends one PNG chunk with a correct CRC. */
static size_t put_chunk(unsigned char *p, const char *type, const unsigned char *data,
                        uint32_t len) {
    put_be32(p, len);
    memcpy(p + 4, type, 4);
    if (len) memcpy(p + 8, data, len);
    put_be32(p + 8 + len, (uint32_t)crc32(crc32(0, NULL, 0), p + 4, len + 4));
    return 12 + len;
}

static double mean_abs_diff(const unsigned char *a, const unsigned char *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += abs(a[i] - b[i]);
    return s / (double)n;
}

static int ref_luma(int r, int g, int b) {
    return (299 * r + 587 * g + 114 * b + 500) / 1000;
}

static int ref_over_white(int y, int a) {
    return (y * a + 255 * (255 - a) + 127) / 255;
}

/* stderr is pointed at a temporary file around calls that make libpng and
 * libjpeg complain; the library must leave it empty.  No CHECK runs while it
 * is redirected, so a failing check still shows. */
static int saved_stderr = -1;
static FILE *captured;

static void capture_stderr(void) {
    fflush(stderr);
    captured = tmpfile();
    if (!captured) return;
    saved_stderr = dup(2);
    dup2(fileno(captured), 2);
}

static long release_stderr(void) {
    if (!captured) return 0;
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    fseek(captured, 0, SEEK_END);
    long size = ftell(captured);
    rewind(captured);
    int c;
    while ((c = fgetc(captured)) != EOF) putchar(c);
    fclose(captured);
    captured = NULL;
    return size;
}

/* ---------------------------------------------------------------- PNG */

static void test_png_roundtrip(void) {
    /* the last is wider than libpng's default limit of a million pixels */
    int sizes[][2] = {{1, 1}, {3, 5}, {100, 37}, {1, 200}, {257, 1}, {1500000, 1}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int w = sizes[s][0], h = sizes[s][1];
        unsigned char *px = malloc((size_t)w * h), *png = NULL;
        for (int i = 0; i < w * h; i++) px[i] = (unsigned char)(i * 37 + i / 7);
        size_t size = 0;
        CHECK_OK(dn_png_encode_gray(px, w, h, &png, &size, NULL));
        dn_image img = {0};
        CHECK_OK(dn_image_decode(png, size, &img, NULL));
        CHECK(img.width == w && img.height == h);
        CHECK(img.pixels && memcmp(img.pixels, px, (size_t)w * h) == 0);
        dn_image_free(&img);
        CHECK(img.pixels == NULL && img.width == 0);
        free(png);
        free(px);
    }
}

static void test_png_alpha(void) {
    /* RGBA: transparent, opaque black, opaque red, half-transparent black,
     * quarter-opaque green */
    const unsigned char rgba[] = {0, 0,   0, 0, 0, 0,   0, 255, 255, 0,
                                  0, 255, 0, 0, 0, 128, 0, 255, 0,   64};
    png_spec s = {5, 1, PNG_COLOR_TYPE_RGB_ALPHA, 8, PNG_INTERLACE_NONE, rgba, NULL, 0, NULL, 0};
    membuf m = make_png(&s);
    dn_image img = {0};
    CHECK_OK(dn_image_decode(m.data, m.size, &img, NULL));
    CHECK(img.width == 5 && img.height == 1);
    if (img.pixels) {
        CHECK(img.pixels[0] == 255);
        CHECK(img.pixels[1] == 0);
        CHECK(img.pixels[2] == ref_luma(255, 0, 0));
        CHECK(img.pixels[3] == ref_over_white(0, 128));
        CHECK(img.pixels[4] == ref_over_white(ref_luma(0, 255, 0), 64));
    }
    dn_image_free(&img);
    free(m.data);

    const unsigned char ga[] = {0, 0, 0, 255, 100, 128, 200, 255};
    s = (png_spec){4, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, PNG_INTERLACE_NONE, ga, NULL, 0, NULL, 0};
    m = make_png(&s);
    CHECK_OK(dn_image_decode(m.data, m.size, &img, NULL));
    if (img.pixels) {
        CHECK(img.pixels[0] == 255 && img.pixels[1] == 0);
        CHECK(img.pixels[2] == ref_over_white(100, 128) && img.pixels[3] == 200);
    }
    dn_image_free(&img);
    free(m.data);
}

static void test_png_layouts(void) {
    dn_image img = {0};
    /* palette with a transparent entry */
    png_color pal[3] = {{255, 255, 255}, {0, 0, 0}, {0, 0, 255}};
    png_byte trans[1] = {0};
    const unsigned char idx[] = {0, 1, 2, 1};
    png_spec s = {2, 2, PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE, idx, pal, 3, trans, 1};
    membuf m = make_png(&s);
    CHECK_OK(dn_image_decode(m.data, m.size, &img, NULL));
    if (img.pixels) {
        const unsigned char want[4] = {255, 0, (unsigned char)ref_luma(0, 0, 255), 0};
        CHECK(memcmp(img.pixels, want, 4) == 0);
    }
    dn_image_free(&img);
    free(m.data);

    /* 16-bit gray, big-endian samples: 0x0000, 0xFFFF, 0x8080, 0x7F7F */
    const unsigned char g16[] = {0, 0, 0xFF, 0xFF, 0x80, 0x80, 0x7F, 0x7F};
    s = (png_spec){4, 1, PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_NONE, g16, NULL, 0, NULL, 0};
    m = make_png(&s);
    CHECK_OK(dn_image_decode(m.data, m.size, &img, NULL));
    if (img.pixels) {
        CHECK(img.pixels[0] == 0 && img.pixels[1] == 255);
        CHECK(img.pixels[2] == 128 && img.pixels[3] == 127);
    }
    dn_image_free(&img);
    free(m.data);

    /* 1-bit gray: 10110000 -> white, black, white, white, black... */
    const unsigned char g1[] = {0xB0};
    s = (png_spec){5, 1, PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE, g1, NULL, 0, NULL, 0};
    m = make_png(&s);
    CHECK_OK(dn_image_decode(m.data, m.size, &img, NULL));
    if (img.pixels) {
        const unsigned char want[5] = {255, 0, 255, 255, 0};
        CHECK(memcmp(img.pixels, want, 5) == 0);
    }
    dn_image_free(&img);
    free(m.data);

    /* interlaced RGB */
    int w = 13, h = 11;
    unsigned char *rgb = malloc((size_t)w * h * 3), *want = malloc((size_t)w * h);
    for (int i = 0; i < w * h; i++) {
        rgb[3 * i] = (unsigned char)(i * 3);
        rgb[3 * i + 1] = (unsigned char)(i * 5);
        rgb[3 * i + 2] = (unsigned char)(255 - i);
        want[i] = (unsigned char)ref_luma(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
    }
    s = (png_spec){w, h, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7, rgb, NULL, 0, NULL, 0};
    m = make_png(&s);
    CHECK_OK(dn_image_decode(m.data, m.size, &img, NULL));
    CHECK(img.pixels && img.width == w && img.height == h &&
          memcmp(img.pixels, want, (size_t)w * h) == 0);
    dn_image_free(&img);
    free(m.data);
    free(rgb);
    free(want);
}

/* Signature, IHDR for 100000x100000 8-bit gray, a tiny IDAT, IEND. */
static void test_png_bomb(void) {
    unsigned char buf[256], ihdr[13] = {0};
    memcpy(buf, "\x89PNG\r\n\x1a\n", 8);
    put_be32(ihdr, 100000);
    put_be32(ihdr + 4, 100000);
    ihdr[8] = 8; /* depth; colour type 0, no interlace */
    size_t n = 8 + put_chunk(buf + 8, "IHDR", ihdr, 13);
    unsigned char raw[64] = {0}, z[128];
    uLongf zlen = sizeof z;
    compress(z, &zlen, raw, sizeof raw);
    n += put_chunk(buf + n, "IDAT", z, (uint32_t)zlen);
    n += put_chunk(buf + n, "IEND", NULL, 0);

    dn_image img = {0};
    dn_error err = {{0}};
    /* refused from the header: a limit error naming the declared size (a
     * decode of 10^10 pixels would have failed for memory instead) */
    dn_status st = dn_image_decode(buf, n, &img, &err);
    CHECK(st == DN_E_LIMIT);
    CHECK(img.pixels == NULL);
    CHECK_MSG(strstr(err.msg, "100000x100000") && strstr(err.msg, "the limit is 50.0"), "%s",
              err.msg);

    /* zero width is malformed (libpng says so) */
    put_be32(buf + 16, 0);
    put_be32(buf + 29, (uint32_t)crc32(crc32(0, NULL, 0), buf + 12, 17));
    CHECK(dn_image_decode(buf, n, &img, NULL) == DN_E_FORMAT);
}

/* Every proper prefix of a PNG must fail, as must a flipped IDAT byte. */
static void test_png_damage(void) {
    unsigned char px[24 * 16];
    for (int i = 0; i < 24 * 16; i++) px[i] = (unsigned char)(i * 7);
    unsigned char *png = NULL;
    size_t size = 0;
    CHECK_OK(dn_png_encode_gray(px, 24, 16, &png, &size, NULL));
    int prefix_failures = 0;
    for (size_t len = 0; len < size; len++) {
        dn_image img = {0};
        dn_status st = dn_image_decode(png, len, &img, NULL);
        prefix_failures += st != DN_OK && img.pixels == NULL;
    }
    CHECK_MSG(prefix_failures == (int)size, "%d of %zu prefixes failed", prefix_failures, size);
    dn_image img = {0};
    dn_error err = {{0}};
    CHECK(dn_image_decode(png, size / 2, &img, &err) == DN_E_FORMAT);
    CHECK_MSG(strncmp(err.msg, "PNG: ", 5) == 0, "%s", err.msg);
    png[size - 20] ^= 0x55; /* inside IDAT: the CRC no longer matches */
    CHECK(dn_image_decode(png, size, &img, NULL) == DN_E_FORMAT);
    free(png);
}

/* ---------------------------------------------------------------- JPEG */

static void test_jpeg(void) {
    int w = 64, h = 48;
    unsigned char *gray = malloc((size_t)w * h), *rgb = malloc((size_t)w * h * 3);
    unsigned char *luma = malloc((size_t)w * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int i = y * w + x;
            gray[i] = (unsigned char)(x * 4);
            rgb[3 * i] = (unsigned char)(x * 4);
            rgb[3 * i + 1] = (unsigned char)(y * 5);
            rgb[3 * i + 2] = 128;
            luma[i] = (unsigned char)ref_luma(x * 4, y * 5, 128);
        }
    dn_image img = {0};
    membuf m = make_jpeg(gray, w, h, 1, 95);
    CHECK_OK(dn_image_decode(m.data, m.size, &img, NULL));
    CHECK(img.width == w && img.height == h);
    if (img.pixels) CHECK(mean_abs_diff(img.pixels, gray, (size_t)w * h) < 2.0);
    dn_image_free(&img);
    free(m.data);

    m = make_jpeg(rgb, w, h, 3, 95);
    CHECK_OK(dn_image_decode(m.data, m.size, &img, NULL));
    if (img.pixels) CHECK(mean_abs_diff(img.pixels, luma, (size_t)w * h) < 2.0);
    dn_image_free(&img);

    int prefix_failures = 0;
    for (size_t len = 0; len < m.size; len++) {
        dn_status st = dn_image_decode(m.data, len, &img, NULL);
        prefix_failures += st != DN_OK && img.pixels == NULL;
    }
    CHECK_MSG(prefix_failures == (int)m.size, "%d of %lu prefixes failed", prefix_failures,
              (unsigned long)m.size);
    dn_error err = {{0}};
    CHECK(dn_image_decode(m.data, m.size / 2, &img, &err) == DN_E_FORMAT);
    CHECK_MSG(strncmp(err.msg, "JPEG: ", 6) == 0, "%s", err.msg);

    /* patch the frame header to declare 60000x60000 */
    for (size_t i = 0; i + 8 < m.size; i++)
        if (m.data[i] == 0xFF && m.data[i + 1] == 0xC0) {
            m.data[i + 5] = m.data[i + 7] = 60000 >> 8;
            m.data[i + 6] = m.data[i + 8] = 60000 & 0xFF;
            break;
        }
    CHECK(dn_image_decode(m.data, m.size, &img, &err) == DN_E_LIMIT); /* from the header */
    CHECK_MSG(strstr(err.msg, "60000x60000") != NULL, "%s", err.msg);
    free(m.data);
    free(gray);
    free(rgb);
    free(luma);
}

/* ---------------------------------------------------------------- PNM */

static void decode_str(const char *s, size_t len, dn_status want, int w, int h,
                       const unsigned char *px) {
    dn_image img = {0};
    dn_error err = {{0}};
    dn_status st = dn_image_decode(s, len, &img, &err);
    CHECK_MSG(st == want, "%.2s: got %s (%s)", s, dn_strerror(st), err.msg);
    if (st == DN_OK && px) {
        CHECK(img.width == w && img.height == h);
        CHECK(img.pixels && memcmp(img.pixels, px, (size_t)w * h) == 0);
    }
    if (st != DN_OK) CHECK(img.pixels == NULL);
    dn_image_free(&img);
}

static void test_pnm(void) {
    static const char p5[] = "P5\n# made by hand\n3 2\n255\n\x00\x7f\xff\x10\x20\x30";
    const unsigned char p5_px[] = {0, 127, 255, 16, 32, 48};
    decode_str(p5, sizeof p5 - 1, DN_OK, 3, 2, p5_px);

    static const char p5_16[] = "P5 2 1 65535\n\x00\x00\xff\xff";
    const unsigned char p5_16_px[] = {0, 255};
    decode_str(p5_16, sizeof p5_16 - 1, DN_OK, 2, 1, p5_16_px);

    static const char p2[] = "P2\n# comment\n2 2 # inline\n15\n0 15\n 7\t8\n";
    const unsigned char p2_px[] = {0, 255, 119, 136};
    decode_str(p2, sizeof p2 - 1, DN_OK, 2, 2, p2_px);

    static const char p6[] = "P6 2 1 255\n\xff\x00\x00\x00\x00\xff";
    const unsigned char p6_px[] = {(unsigned char)ref_luma(255, 0, 0),
                                   (unsigned char)ref_luma(0, 0, 255)};
    decode_str(p6, sizeof p6 - 1, DN_OK, 2, 1, p6_px);

    static const char p3[] = "P3 1 2 255 0 255 0  255 255 255";
    const unsigned char p3_px[] = {(unsigned char)ref_luma(0, 255, 0), 255};
    decode_str(p3, sizeof p3 - 1, DN_OK, 1, 2, p3_px);

    decode_str(p5, sizeof p5 - 2, DN_E_FORMAT, 0, 0, NULL);        /* one byte short */
    decode_str(p2, sizeof p2 - 4, DN_E_FORMAT, 0, 0, NULL);        /* last sample cut */
    decode_str(p2, 20, DN_E_FORMAT, 0, 0, NULL);                   /* cut in the header */
    decode_str("P2 1 1 15 16", 12, DN_E_FORMAT, 0, 0, NULL);       /* above maxval */
    decode_str("P5 0 4 255\n", 11, DN_E_FORMAT, 0, 0, NULL);       /* zero width */
    decode_str("P5 2 2 0\n\0\0\0\0", 13, DN_E_FORMAT, 0, 0, NULL); /* maxval 0 */
    decode_str("P5 2 2 70000\n", 13, DN_E_FORMAT, 0, 0, NULL);     /* maxval too big */
    decode_str("P5", 2, DN_E_FORMAT, 0, 0, NULL);
    decode_str("P5x", 3, DN_E_FORMAT, 0, 0, NULL);
    decode_str("P5 -1 2 255\n", 12, DN_E_FORMAT, 0, 0, NULL);
    decode_str("P5 99999999999 2 255\n", 21, DN_E_LIMIT, 0, 0, NULL); /* a side over 1e9 */
    decode_str("P5 100000 100000 255\n", 21, DN_E_LIMIT, 0, 0, NULL); /* no pixel data needed */
}

/* ---------------------------------------------------------------- misc */

static void test_unknown_and_empty(void) {
    dn_image img = {0};
    dn_error err = {{0}};
    CHECK(dn_image_decode("GIF89a....", 10, &img, &err) == DN_E_UNSUPPORTED);
    CHECK(strcmp(err.msg, "unsupported image format (expected PNG, JPEG, PGM or PPM)") == 0);
    CHECK(dn_image_decode("\x89PNG", 4, &img, NULL) == DN_E_UNSUPPORTED);
    CHECK(dn_image_decode("P1 1 1 0", 8, &img, NULL) == DN_E_UNSUPPORTED);
    CHECK(dn_image_decode("x", 0, &img, NULL) == DN_E_FORMAT);
    CHECK(dn_image_decode(NULL, 10, &img, NULL) == DN_E_FORMAT);
    CHECK(dn_image_decode("P5 1 1 255\n\0", 12, NULL, NULL) == DN_E_ARG);
    CHECK(img.pixels == NULL);
    dn_image_free(NULL);
    dn_image_free(&img);
}

static void test_encode_args(void) {
    unsigned char px[4] = {0}, *out = (unsigned char *)1;
    size_t size = 1;
    CHECK(dn_png_encode_gray(NULL, 2, 2, &out, &size, NULL) == DN_E_ARG);
    CHECK(out == NULL && size == 0);
    CHECK(dn_png_encode_gray(px, 0, 2, &out, &size, NULL) == DN_E_ARG);
    CHECK(dn_png_encode_gray(px, 2, -1, &out, &size, NULL) == DN_E_ARG);
    CHECK(dn_png_encode_gray(px, 100000, 100000, &out, &size, NULL) == DN_E_ARG);
    CHECK(dn_png_encode_gray(px, 2, 2, NULL, &size, NULL) == DN_E_ARG);
}

static void test_files(void) {
    const char *tmp = getenv("TMPDIR");
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/dn_image_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp");
        return;
    }
    snprintf(path, sizeof path, "%s/digit.png", dir);
    unsigned char px[28 * 28];
    for (int i = 0; i < 28 * 28; i++) px[i] = (unsigned char)(i % 251);
    CHECK_OK(dn_png_save_gray(path, px, 28, 28, NULL));
    dn_image img = {0};
    CHECK_OK(dn_image_load(path, &img, NULL));
    CHECK(img.width == 28 && img.height == 28 && img.pixels && memcmp(img.pixels, px, 784) == 0);
    dn_image_free(&img);

    char tmpfile_path[620];
    snprintf(tmpfile_path, sizeof tmpfile_path, "%s.tmp", path);
    CHECK(access(tmpfile_path, F_OK) != 0); /* the atomic write cleaned up */

    FILE *f = fopen(path, "wb");
    if (f) {
        fputs("not an image", f);
        fclose(f);
    }
    dn_error err = {{0}};
    CHECK(dn_image_load(path, &img, &err) == DN_E_UNSUPPORTED);
    CHECK_MSG(strstr(err.msg, "digit.png: unsupported image format") != NULL, "%s", err.msg);
    unlink(path);
    CHECK(dn_image_load(path, &img, &err) == DN_E_IO);
    CHECK(dn_png_save_gray(path, NULL, 28, 28, NULL) == DN_E_ARG);
    CHECK(access(path, F_OK) != 0);
    rmdir(dir);
}

/* Damaged inputs of every kind, results ignored: only silence and the
 * absence of crashes (or sanitizer reports) are checked by the caller. */
static void exercise_failures(void) {
    unsigned char px[32 * 20];
    for (int i = 0; i < 32 * 20; i++) px[i] = (unsigned char)(i * 13);
    unsigned char *png = NULL;
    size_t size = 0;
    dn_image img = {0};
    if (dn_png_encode_gray(px, 32, 20, &png, &size, NULL) == DN_OK) {
        for (size_t len = 0; len < size; len++) dn_image_decode(png, len, &img, NULL);
        for (size_t i = 8; i < size; i += 3) {
            png[i] ^= 0xA5;
            dn_image_decode(png, size, &img, NULL);
            dn_image_free(&img);
            png[i] ^= 0xA5;
        }
        free(png);
    }
    membuf m = make_jpeg(px, 32, 20, 1, 90);
    for (size_t len = 0; len < m.size; len++) dn_image_decode(m.data, len, &img, NULL);
    for (size_t i = 2; i < m.size; i += 2) {
        m.data[i] ^= 0x5A;
        dn_image_decode(m.data, m.size, &img, NULL);
        dn_image_free(&img);
        m.data[i] ^= 0x5A;
    }
    free(m.data);
}

/* A tEXt chunk with a wrong CRC makes libpng warn; the image is intact. */
static void test_png_bad_ancillary(void) {
    unsigned char px[6] = {1, 2, 3, 4, 5, 6}, *png = NULL;
    size_t size = 0;
    CHECK_OK(dn_png_encode_gray(px, 3, 2, &png, &size, NULL));
    unsigned char *bad = malloc(size + 64);
    size_t at = 8 + 25; /* after the signature and IHDR */
    memcpy(bad, png, at);
    size_t n = at + put_chunk(bad + at, "tEXt", (const unsigned char *)"Title\0x", 7);
    bad[n - 1] ^= 1;
    memcpy(bad + n, png + at, size - at);
    dn_image img = {0};
    capture_stderr();
    dn_status st = dn_image_decode(bad, n + size - at, &img, NULL);
    long printed = release_stderr();
    CHECK(st == DN_OK && img.pixels && memcmp(img.pixels, px, 6) == 0);
    CHECK_MSG(printed == 0, "the library wrote %ld bytes to stderr", printed);
    dn_image_free(&img);
    free(bad);
    free(png);
}

int main(void) {
    test_decode_limits();
    test_png_roundtrip();
    test_png_alpha();
    test_png_layouts();
    test_png_bomb();
    test_png_damage();
    test_png_bad_ancillary();
    test_jpeg();
    test_pnm();
    test_unknown_and_empty();
    test_encode_args();
    test_files();

    capture_stderr();
    exercise_failures();
    long printed = release_stderr();
    CHECK_MSG(printed == 0, "the library wrote %ld bytes to stderr", printed);
    return check_report("test_image");
}
