/*
 * make_corpus.c — writes the seed corpora of the fuzz targets:
 * `make_corpus DIR` fills DIR/{idx,csv,model,image,api,upload,request}/ with small valid
 * inputs in each target's input layout (see the comment at the top of each
 * tests/fuzz/fuzz_*.c).  Run through `make fuzz-corpus`.
 *
 * Every file is produced by the library's own writers (dn_idx_save,
 * dn_csv_save, dn_model_save, dn_png_encode_gray) or by libpng/libjpeg for
 * the colour types and JPEG flavours the library reads but never writes,
 * from drawings made here.  The output is deterministic: running it again
 * rewrites identical bytes.  A tool, not part of the library: it prints and
 * exits on failure.
 */
#include "digitnet.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char *out_dir;
static char tmp_dir[256];

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "make_corpus: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void ok(dn_status st, const dn_error *err, const char *what) {
    if (st != DN_OK) die("%s: %s", what, err->msg);
}

/* ---------------------------------------------------------------- buffers */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *data, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) die("out of memory");
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void put_byte(buf *b, unsigned v) {
    uint8_t c = (uint8_t)v;
    put(b, &c, 1);
}

static void put_str(buf *b, const char *s) {
    put(b, s, strlen(s));
}

static void putf(buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(b, tmp, (size_t)n);
}

static buf read_file(const char *path) {
    buf b = {0};
    FILE *f = fopen(path, "rb");
    if (!f) die("%s: cannot open", path);
    uint8_t tmp[4096];
    size_t r;
    while ((r = fread(tmp, 1, sizeof tmp, f)) > 0) put(&b, tmp, r);
    fclose(f);
    return b;
}

/* Writes DIR/target/name. */
static void emit(const char *target, const char *name, const buf *b) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->p, 1, b->n, f) != b->n || fclose(f) != 0) die("%s: cannot write", path);
}

static const char *tmp_path(const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    return path;
}

/* ---------------------------------------------------------------- drawings */

/* A ring ("0") of the given ink on the given background. */
static void draw_ring(uint8_t *px, int w, int h, uint8_t bg, uint8_t ink) {
    double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0, r = (w < h ? w : h) * 0.32;
    double t = r * 0.35;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double dx = x - cx, dy = (y - cy) * 0.8, d = dx * dx + dy * dy;
            double in = (r - t) * (r - t), out = (r + t) * (r + t);
            px[y * w + x] = d >= in && d <= out ? ink : bg;
        }
}

/* A slanted bar ("1"). */
static void draw_bar(uint8_t *px, int w, int h, uint8_t bg, uint8_t ink) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int c = w / 2 + (h / 2 - y) / 4;
            px[y * w + x] =
                y > h / 6 && y < h - h / 6 && x >= c - w / 12 && x <= c + w / 12 ? ink : bg;
        }
}

/* ---------------------------------------------------------------- IDX */

/* Packs the fuzz_idx layout: flags, label length, labels, images. */
static buf idx_input(unsigned flags, const buf *labels, const buf *images) {
    buf b = {0};
    put_byte(&b, flags);
    if (flags & 1) {
        put_byte(&b, (unsigned)(labels->n & 0xff));
        put_byte(&b, (unsigned)(labels->n >> 8));
        put(&b, labels->p, labels->n);
    }
    put(&b, images->p, images->n);
    return b;
}

/* A gzip member holding data[0..n). */
static void gzip_member(buf *b, const uint8_t *data, size_t n) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) die("zlib");
    uint8_t out[1 << 14];
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)n;
    int rc;
    do {
        zs.next_out = out;
        zs.avail_out = sizeof out;
        rc = deflate(&zs, Z_FINISH);
        put(b, out, sizeof out - zs.avail_out);
    } while (rc == Z_OK);
    if (rc != Z_STREAM_END) die("zlib deflate");
    deflateEnd(&zs);
}

static void save_pair(const dn_dataset *ds, int gzip, buf *images, buf *labels) {
    dn_error err = {{0}};
    char ip[512], lp[512];
    snprintf(ip, sizeof ip, "%s", tmp_path("images"));
    snprintf(lp, sizeof lp, "%s", tmp_path("labels"));
    ok(dn_idx_save(ds, ip, ds->labels ? lp : NULL, gzip, &err), &err, "dn_idx_save");
    *images = read_file(ip);
    unlink(ip);
    if (ds->labels) {
        *labels = read_file(lp);
        unlink(lp);
    }
}

static void make_idx(void) {
    uint8_t px28[2 * 784], lab28[2] = {0, 1};
    draw_ring(px28, 28, 28, 0, 255);
    draw_bar(px28 + 784, 28, 28, 0, 255);
    dn_dataset mnist = {2, 28, 28, px28, lab28};
    uint8_t small[3 * 20], lab_small[3] = {9, 4, 7};
    for (int i = 0; i < 60; i++) small[i] = (uint8_t)(i * 37);
    dn_dataset tiny = {3, 4, 5, small, lab_small};
    uint8_t lone[21];
    draw_bar(lone, 3, 7, 0, 200);
    dn_dataset unlabeled = {1, 7, 3, lone, NULL};

    buf im, lb = {0}, in;
    save_pair(&mnist, 0, &im, &lb);
    in = idx_input(1, &lb, &im);
    emit("idx", "mnist-2-labeled", &in);
    free(in.p), free(im.p), free(lb.p);

    save_pair(&tiny, 0, &im, &lb);
    in = idx_input(1, &lb, &im);
    emit("idx", "tiny-4x5-labeled", &in);
    free(in.p);
    in = idx_input(1 | 2 | 4, &lb, &im); /* the harness gzips both */
    emit("idx", "tiny-4x5-harness-gzip", &in);
    free(in.p);
    /* the image file alone, in two gzip members split inside the header */
    buf two = {0};
    gzip_member(&two, im.p, 6);
    gzip_member(&two, im.p + 6, im.n - 6);
    buf none = {0};
    in = idx_input(0, &none, &two);
    emit("idx", "tiny-4x5-two-members", &in);
    free(in.p), free(two.p), free(im.p), free(lb.p);

    save_pair(&tiny, 1, &im, &lb);
    in = idx_input(1, &lb, &im);
    emit("idx", "tiny-4x5-gz-files", &in);
    free(in.p), free(im.p), free(lb.p);

    lb = (buf){0};
    save_pair(&unlabeled, 0, &im, &lb);
    in = idx_input(0, &lb, &im);
    emit("idx", "lone-7x3-images-only", &in);
    free(in.p), free(im.p);
}

/* ---------------------------------------------------------------- CSV */

static void make_csv(void) {
    uint8_t px[2 * 784], lab[2] = {0, 1};
    draw_ring(px, 28, 28, 0, 255);
    draw_bar(px + 784, 28, 28, 0, 128);
    dn_error err = {{0}};
    dn_dataset labeled = {2, 28, 28, px, lab}, unlabeled = {1, 28, 28, px + 784, NULL};
    const char *path = tmp_path("data.csv");

    ok(dn_csv_save(&labeled, path, &err), &err, "dn_csv_save");
    buf b = read_file(path);
    emit("csv", "labeled-2", &b);
    /* the same rows without the header line */
    uint8_t *nl = memchr(b.p, '\n', b.n);
    buf rows = {0};
    put(&rows, nl + 1, b.n - (size_t)(nl + 1 - b.p));
    emit("csv", "headerless-2", &rows);
    free(rows.p), free(b.p);

    ok(dn_csv_save(&unlabeled, path, &err), &err, "dn_csv_save");
    b = read_file(path);
    emit("csv", "unlabeled-1", &b);
    /* a byte order mark, CRLF line ends and no final newline */
    buf crlf = {0};
    put_str(&crlf, "\xef\xbb\xbf");
    for (size_t i = 0; i < b.n; i++) {
        if (b.p[i] == '\n') {
            if (i + 1 < b.n) put_str(&crlf, "\r\n");
        } else {
            put_byte(&crlf, b.p[i]);
        }
    }
    emit("csv", "unlabeled-bom-crlf", &crlf);
    free(crlf.p), free(b.p);
    unlink(path);
}

/* ---------------------------------------------------------------- models */

/* half: stored with binary16 parameters (format version 2). */
static void make_model(const char *name, const char *arch, unsigned flags, int meta, int half) {
    dn_model *m;
    dn_error err = {{0}};
    ok(dn_model_create(arch, NULL, 7, &m, &err), &err, arch);
    if (meta) {
        dn_model_set_meta(m, "test_accuracy", "0.1");
        dn_model_set_meta(m, "epochs", "1");
        dn_model_set_meta(m, "history", "1 2.3 0.1 0.1\n");
    }
    const char *path = tmp_path("model.dnm");
    ok(half ? dn_model_save_half(m, path, &err) : dn_model_save(m, path, &err), &err,
       "dn_model_save");
    dn_model_free(m);
    buf f = read_file(path), in = {0};
    unlink(path);
    put_byte(&in, flags);
    put(&in, f.p, f.n);
    emit("model", name, &in);
    free(f.p), free(in.p);
}

static void make_models(void) {
    make_model("gap-fc10-meta", "gap-fc10", 1, 1, 0);
    make_model("gap-fc10-crc-as-is", "gap-fc10", 0, 0, 0);
    make_model("conv-bn-pools", "conv3x3x2s2p1-bn-relu-pool2-avgpool7-flatten-fc10", 1, 1, 0);
    make_model("dense-acts-dropout", "avgpool7-fc4-tanh-drop0.5-fc8-sigmoid-fc10", 1, 0, 0);
    make_model("pool-conv-same-bn-gap", "pool4-conv3x3x1same-bn-gap-fc10", 1, 0, 0);
    make_model("gap-fc10-half", "gap-fc10", 1, 1, 1);
    make_model("conv-half-crc-as-is", "conv3x3x4-relu-pool2-fc10", 0, 0, 1);
}

/* ---------------------------------------------------------------- PNG */

typedef struct png_out {
    buf b;
} png_out;

static void png_write_cb(png_structp png, png_bytep data, size_t n) {
    put(&((png_out *)png_get_io_ptr(png))->b, data, n);
}

static void png_flush_cb(png_structp png) {
    (void)png;
}

/* Encodes rows of `channels` samples of `depth` bits (packed as libpng
 * expects) with the given colour type; palette/trns may be NULL. */
static buf png_encode(int w, int h, int depth, int ctype, int interlace, const uint8_t *data,
                      size_t rowbytes, const png_color *palette, int npal, const uint8_t *trns,
                      int ntrns) {
    png_out o = {{0}};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) die("libpng");
    if (setjmp(png_jmpbuf(png))) die("libpng write failed");
    png_set_write_fn(png, &o, png_write_cb, png_flush_cb);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, ctype, interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette) png_set_PLTE(png, info, palette, npal);
    if (trns) png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    int passes = png_set_interlace_handling(png);
    for (int p = 0; p < passes; p++)
        for (int y = 0; y < h; y++) png_write_row(png, data + (size_t)y * rowbytes);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return o.b;
}

static void emit_image(const char *name, unsigned flags, const buf *file) {
    buf in = {0};
    put_byte(&in, flags);
    put(&in, file->p, file->n);
    emit("image", name, &in);
    free(in.p);
    /* the same file as an upload (fuzz_upload: content type in bits 0-1) */
    buf up = {0};
    unsigned type = !strncmp(name, "png", 3)    ? 0
                    : !strncmp(name, "jpeg", 4) ? 1
                    : !strncmp(name, "p", 1)    ? 2
                                                : 3;
    put_byte(&up, type);
    put(&up, file->p, file->n);
    emit("upload", name, &up);
    free(up.p);
    if (type == 0) { /* and once with the inside view */
        char explained[128];
        snprintf(explained, sizeof explained, "%s-explain", name);
        up = (buf){0};
        put_byte(&up, type | 4);
        put(&up, file->p, file->n);
        emit("upload", explained, &up);
        free(up.p);
    }
}

static void make_pngs(void) {
    uint8_t g[28 * 28];
    dn_error err = {{0}};
    draw_ring(g, 28, 28, 0, 255);
    buf b = {0};
    ok(dn_png_encode_gray(g, 28, 28, &b.p, &b.n, &err), &err, "dn_png_encode_gray");
    emit_image("png-gray8-mnist-style", 1, &b);
    free(b.p);

    enum { S = 16 };
    uint8_t ring[S * S], rgb[S * S * 3], rgba[S * S * 4], pal[S * S], bits[S * 2];
    uint8_t ga16[S * S * 4];
    draw_ring(ring, S, S, 230, 20);
    for (int i = 0; i < S * S; i++) {
        rgb[3 * i] = ring[i];
        rgb[3 * i + 1] = (uint8_t)(ring[i] / 2 + 40);
        rgb[3 * i + 2] = (uint8_t)(255 - ring[i] / 3);
        rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = 0;
        rgba[4 * i + 3] = ring[i] < 128 ? 255 : 0; /* ink on a transparent canvas */
        pal[i] = ring[i] < 128 ? 1 : 0;
        unsigned v = ring[i] * 257u, a = 65535;
        ga16[4 * i] = (uint8_t)(v >> 8), ga16[4 * i + 1] = (uint8_t)v;
        ga16[4 * i + 2] = (uint8_t)(a >> 8), ga16[4 * i + 3] = (uint8_t)a;
    }
    for (int y = 0; y < S; y++)
        for (int xb = 0; xb < 2; xb++) {
            uint8_t v = 0;
            for (int k = 0; k < 8; k++) v = (uint8_t)(v << 1 | (ring[y * S + xb * 8 + k] > 128));
            bits[y * 2 + xb] = v;
        }
    png_color colors[2] = {{250, 250, 240}, {10, 10, 80}};
    uint8_t trns[2] = {0, 255};

    b = png_encode(S, S, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, rgb, S * 3, NULL, 0, NULL, 0);
    emit_image("png-rgb8", 1, &b);
    free(b.p);
    b = png_encode(S, S, 8, PNG_COLOR_TYPE_RGB_ALPHA, PNG_INTERLACE_NONE, rgba, S * 4, NULL, 0,
                   NULL, 0);
    emit_image("png-rgba8-transparent", 1, &b);
    free(b.p);
    b = png_encode(S, S, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, pal, S, colors, 2, trns, 2);
    emit_image("png-palette-trns", 1, &b);
    free(b.p);
    b = png_encode(S, S, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, bits, 2, NULL, 0, NULL, 0);
    emit_image("png-gray1", 1, &b);
    free(b.p);
    b = png_encode(S, S, 16, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_INTERLACE_NONE, ga16, S * 4, NULL, 0,
                   NULL, 0);
    emit_image("png-gray-alpha16", 1, &b);
    free(b.p);
    b = png_encode(S, S, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_ADAM7, ring, S, NULL, 0, NULL, 0);
    emit_image("png-gray8-interlaced", 1, &b);
    free(b.p);
}

/* ---------------------------------------------------------------- JPEG */

static buf jpeg_encode(const uint8_t *px, int w, int h, int comps, J_COLOR_SPACE cs,
                       int progressive, int restart) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    unsigned char *mem = NULL;
    unsigned long mem_size = 0;
    jpeg_mem_dest(&c, &mem, &mem_size);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = cs;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 85, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    c.restart_in_rows = restart;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(uintptr_t)(px + (size_t)c.next_scanline * (size_t)w * comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    buf b = {0};
    put(&b, mem, mem_size);
    free(mem);
    return b;
}

static void make_jpegs(void) {
    enum { S = 16 };
    uint8_t ring[S * S], rgb[S * S * 3], cmyk[S * S * 4];
    draw_ring(ring, S, S, 235, 15);
    for (int i = 0; i < S * S; i++) {
        rgb[3 * i] = ring[i];
        rgb[3 * i + 1] = ring[i];
        rgb[3 * i + 2] = (uint8_t)(ring[i] < 128 ? 120 : 240);
        cmyk[4 * i] = cmyk[4 * i + 1] = cmyk[4 * i + 2] = 0;
        cmyk[4 * i + 3] = (uint8_t)(255 - ring[i]);
    }
    buf b = jpeg_encode(ring, S, S, 1, JCS_GRAYSCALE, 0, 0);
    emit_image("jpeg-gray-baseline", 0, &b);
    free(b.p);
    b = jpeg_encode(rgb, S, S, 3, JCS_RGB, 0, 1);
    emit_image("jpeg-rgb-restarts", 0, &b);
    free(b.p);
    b = jpeg_encode(rgb, S, S, 3, JCS_RGB, 1, 0);
    emit_image("jpeg-rgb-progressive", 0, &b);
    free(b.p);
    b = jpeg_encode(cmyk, 8, 8, 4, JCS_CMYK, 0, 0);
    emit_image("jpeg-cmyk-unsupported", 0, &b);
    free(b.p);
}

/* ---------------------------------------------------------------- PGM/PPM */

static buf pnm(const char *magic, int w, int h, unsigned maxval, const uint8_t *gray, int rgb,
               const char *comment) {
    buf b = {0};
    putf(&b, "%s\n", magic);
    if (comment) putf(&b, "# %s\n", comment);
    putf(&b, "%d %d\n%u\n", w, h, maxval);
    int ascii = magic[1] == '2' || magic[1] == '3';
    for (int i = 0; i < w * h; i++)
        for (int k = 0; k < (rgb ? 3 : 1); k++) {
            unsigned v = (unsigned)gray[i] * maxval / 255u;
            if (k == 2) v = maxval - v / 2;
            if (ascii)
                putf(&b, "%u%c", v, (i % w == w - 1 && k == (rgb ? 2 : 0)) ? '\n' : ' ');
            else if (maxval > 255)
                put_byte(&b, v >> 8), put_byte(&b, v & 0xff);
            else
                put_byte(&b, v);
        }
    return b;
}

static void make_pnms(void) {
    uint8_t g16[16 * 16], g8[8 * 8];
    draw_ring(g16, 16, 16, 0, 255);
    draw_bar(g8, 8, 8, 255, 0);
    buf b = pnm("P5", 16, 16, 255, g16, 0, "a ring");
    emit_image("pgm-p5", 0, &b);
    free(b.p);
    b = pnm("P2", 8, 8, 15, g8, 0, NULL);
    emit_image("pgm-p2-ascii", 0, &b);
    free(b.p);
    b = pnm("P5", 8, 8, 65535, g8, 0, NULL);
    emit_image("pgm-p5-16bit", 0, &b);
    free(b.p);
    b = pnm("P6", 8, 8, 255, g8, 1, "colour");
    emit_image("ppm-p6", 0, &b);
    free(b.p);
    b = pnm("P3", 8, 8, 255, g8, 1, NULL);
    emit_image("ppm-p3-ascii", 0, &b);
    free(b.p);
}

/* ---------------------------------------------------------------- API */

static void emit_api(const char *name, unsigned b0, unsigned b1, const buf *body) {
    buf in = {0};
    put_byte(&in, b0);
    put_byte(&in, b1);
    if (body) put(&in, body->p, body->n);
    emit("api", name, &in);
    free(in.p);
}

static buf json_pixels(const uint8_t *px, int unit, int label) {
    buf b = {0};
    put_str(&b, "{\"pixels\": [");
    for (int i = 0; i < 784; i++) {
        if (unit)
            putf(&b, "%s%g", i ? "," : "", px[i] / 255.0 < 0.5 ? 0.0 : 1.0);
        else
            putf(&b, "%s%u", i ? "," : "", px[i]);
    }
    put_str(&b, "]");
    if (label >= 0) putf(&b, ", \"label\": %d", label);
    put_str(&b, "}\n");
    return b;
}

static void make_api(void) {
    /* byte 0: content type in bits 0-2, samples = 8, other route = 16,
     * query in bits 5-7 (7 = from the body); byte 1: fix PNG CRCs = 1,
     * no collect directory = 2 (see fuzz_api.c) */
    uint8_t px[784], bar[784];
    draw_ring(px, 28, 28, 0, 255);
    draw_bar(bar, 28, 28, 0, 255);
    buf b = json_pixels(px, 0, -1);
    emit_api("predict-json", 1, 2, &b);
    free(b.p);
    b = json_pixels(bar, 1, -1);
    emit_api("predict-json-unit-sniffed", 0, 2, &b);
    free(b.p);
    b = json_pixels(px, 0, 7);
    emit_api("samples-json-label", 8 | 1, 0, &b);
    free(b.p);
    b = (buf){0};
    put_str(&b, "{\"pixels\": [1, 2, 3], \"label\": 1.5}");
    emit_api("predict-json-short", 1, 2, &b);
    free(b.p);

    uint8_t img[24 * 20];
    draw_ring(img, 24, 20, 240, 30);
    dn_error err = {{0}};
    b = (buf){0};
    ok(dn_png_encode_gray(img, 24, 20, &b.p, &b.n, &err), &err, "dn_png_encode_gray");
    emit_api("predict-png", 2, 1 | 2, &b);
    free(b.p);
    b = jpeg_encode(img, 24, 20, 1, JCS_GRAYSCALE, 0, 0);
    emit_api("predict-jpeg", 3, 2, &b);
    free(b.p);
    b = pnm("P5", 24, 20, 255, img, 0, NULL);
    emit_api("samples-pgm-query-label", 8 | 4 | 2 << 5, 0, &b);
    buf q = {0};
    put_str(&q, "label=%35&x=y\n");
    put(&q, b.p, b.n);
    emit_api("samples-pgm-query-in-body", 8 | 4 | 7u << 5, 0, &q);
    free(q.p), free(b.p);
    emit_api("get-model", 16 | 5, 0, NULL);
}

/* ---------------------------------------------------------------- main */

/* Request heads as clients send them (fuzz_request: the raw bytes). */
static void make_requests(void) {
    static const struct {
        const char *name, *text;
    } heads[] = {
        {"get-healthz", "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88\r\n"
                        "Accept: */*\r\n\r\n"},
        {"post-png-continue", "POST /api/predict?explain=1 HTTP/1.1\r\nHost: t\r\n"
                              "Content-Type: image/png\r\nContent-Length: 1234\r\n"
                              "Expect: 100-continue\r\n\r\n"},
        {"post-chunked", "POST /api/samples?label=%37 HTTP/1.1\r\nHost: t\r\n"
                         "Transfer-Encoding: chunked\r\nConnection: keep-alive, close\r\n\r\n"},
        {"head-http10-lf", "\r\nHEAD /app.js HTTP/1.0\nX-A: b\n\n"},
    };
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) {
        buf b = {0};
        put_str(&b, heads[i].text);
        emit("request", heads[i].name, &b);
        free(b.p);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus DIR\n");
        return 2;
    }
    out_dir = argv[1];
    mkdir(out_dir, 0755);
    const char *t = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/digitnet-corpus-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmp_dir)) die("cannot create a temporary directory");
    dn_set_threads(1);
    make_idx();
    make_csv();
    make_models();
    make_pngs();
    make_jpegs();
    make_pnms();
    make_api();
    make_requests();
    rmdir(tmp_dir);
    return 0;
}
