/*
 * image.c — image files in and out: decodes PNG (libpng), JPEG
 * (libjpeg-turbo) and PGM/PPM (P2, P3, P5, P6, parsed here) from memory into
 * 8-bit grayscale luminance, and encodes 8-bit grayscale PNG.
 *
 * Contract
 *   - The format is detected by content, never by file name.
 *   - Output is luminance as stored, 0 = black, 255 = white.  Colour becomes
 *     Rec. 601 luma on the encoded values (no gamma handling), 16-bit
 *     samples are rounded to 8 bits and alpha is composited over white.
 *   - Inputs are untrusted (uploads reach this code): the dimensions the
 *     decoder itself reads from the header are checked against the pixel
 *     budget (dn_image_limits) before any pixel is decoded, JPEG decoding
 *     is held to a memory and a work budget as it runs, truncation and
 *     corruption are errors, and library errors
 *     come back as statuses — libpng and libjpeg are wired to longjmp
 *     instead of exiting, and their warnings are swallowed, so nothing here
 *     prints or exits.
 *   - Normalisation to MNIST style is not done here (see preprocess.c).
 *
 * Built with DN_PNM_ONLY (the WebAssembly page, which has neither library
 * and gets its pixels from a canvas as PPM), only PGM/PPM are read: PNG and
 * JPEG are then an "unsupported" error and the PNG writers fail likewise.
 *
 * Whatever changes after a setjmp and is needed once the longjmp lands
 * lives in a reader struct owned by the caller's frame, so its value is well
 * defined after the jump without sprinkling volatile.
 */
#include "internal.h"

#include <limits.h>
#include <string.h>
#ifndef DN_PNM_ONLY
#include <jerror.h>
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#endif

#define DN_IMAGE_MAX_FILE ((size_t)256 << 20)
/* A progressive JPEG may legally carry thousands of tiny scans, each a full
 * pass over the coefficients: a cheap way to burn CPU.  Real encoders use
 * about ten; the work budget (pixels x components per scan) bounds the
 * rest. */
#define DN_JPEG_MAX_SCANS 500

static dn_image_limits limits_or_defaults(const dn_image_limits *l) {
    dn_image_limits d = {DN_IMAGE_MAX_PIXELS, (unsigned long long)1 << 30,
                         DN_IMAGE_MAX_PIXELS * 3ull * 16};
    if (l) {
        if (l->max_pixels) d.max_pixels = l->max_pixels;
        if (l->max_memory) d.max_memory = l->max_memory;
        if (l->max_work) d.max_work = l->max_work;
    }
    return d;
}

/* ================================================================ helpers */

static dn_status check_size(unsigned long w, unsigned long h, const dn_image_limits *lim,
                            const char *fmt, dn_error *err) {
    if (w == 0 || h == 0)
        return dn_fail(err, DN_E_FORMAT, "%s: image has zero width or height (%lux%lu)", fmt, w, h);
    if (w > lim->max_pixels || h > lim->max_pixels || (unsigned long long)w * h > lim->max_pixels)
        return dn_fail(err, DN_E_LIMIT, "%s: image is %lux%lu (%.1f megapixels); the limit is %.1f",
                       fmt, w, h, (double)w * (double)h / 1e6, (double)lim->max_pixels / 1e6);
    return DN_OK;
}

/* Rec. 601 weights, the ones MNIST-era tools and most image libraries use
 * for "convert to grayscale". */
static unsigned char luma(unsigned r, unsigned g, unsigned b) {
    return (unsigned char)((299 * r + 587 * g + 114 * b + 500) / 1000);
}

#ifndef DN_PNM_ONLY
/* A transparent pixel shows the page behind it; we take the page as white,
 * so strokes drawn on a transparent canvas keep their contrast. */
static unsigned char over_white(unsigned y, unsigned a) {
    return (unsigned char)((y * a + 255 * (255 - a) + 127) / 255);
}

/* Converts one decoded row of 1..4 8-bit channels (G, GA, RGB, RGBA). */
static void row_to_gray(const unsigned char *src, int channels, size_t w, unsigned char *dst) {
    switch (channels) {
    case 1:
        memcpy(dst, src, w);
        break;
    case 2:
        for (size_t x = 0; x < w; x++) dst[x] = over_white(src[2 * x], src[2 * x + 1]);
        break;
    case 3:
        for (size_t x = 0; x < w; x++) dst[x] = luma(src[3 * x], src[3 * x + 1], src[3 * x + 2]);
        break;
    default:
        for (size_t x = 0; x < w; x++) {
            const unsigned char *p = src + 4 * x;
            dst[x] = over_white(luma(p[0], p[1], p[2]), p[3]);
        }
        break;
    }
}
#endif

void dn_image_free(dn_image *img) {
    if (!img) return;
    free(img->pixels);
    img->pixels = NULL;
    img->width = img->height = 0;
}

#ifndef DN_PNM_ONLY
/* ================================================================ PNG read */

typedef struct png_reader {
    const dn_image_limits *lim;
    const unsigned char *data;
    size_t size, pos;
    char msg[200];
    unsigned char *rows;   /* decoded rows in libpng's output layout */
    unsigned char *pixels; /* the grayscale result */
    unsigned long width, height;
} png_reader;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_reader *r = png_get_error_ptr(png);
    snprintf(r->msg, sizeof r->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void png_on_read(png_structp png, png_bytep dst, size_t n) {
    png_reader *r = png_get_io_ptr(png);
    if (n > r->size - r->pos) png_error(png, "data is truncated");
    memcpy(dst, r->data + r->pos, n);
    r->pos += n;
}

/* Everything after setjmp; libpng failures longjmp out of here. */
static dn_status png_read_body(png_structp png, png_infop info, png_reader *r, dn_error *err) {
    /* IHDR is the first chunk of every PNG libpng reads (it refuses any
     * other order), so its size is checked from there before libpng reads
     * further, which it does up to the first IDAT */
    if (r->size >= 24 && !memcmp(r->data + 12, "IHDR", 4)) {
        const unsigned char *d = r->data + 16;
        unsigned long w = (unsigned long)d[0] << 24 | (unsigned long)d[1] << 16 | d[2] << 8 | d[3];
        unsigned long h = (unsigned long)d[4] << 24 | (unsigned long)d[5] << 16 | d[6] << 8 | d[7];
        if (w && h && (unsigned long long)w * h > r->lim->max_pixels)
            return check_size(w, h, r->lim, "PNG", err);
    }
    png_set_read_fn(png, r, png_on_read);
    /* Only IHDR, PLTE, tRNS and IDAT shape the pixels we produce (gamma and
     * colour profiles are ignored by design); discarding every other chunk
     * keeps untrusted bytes away from libpng's text and profile parsers. */
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    /* libpng's own default caps each side at a million pixels; the pixel
     * count checked below is the one rule for every format. */
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, ctype;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, NULL, NULL, NULL);
    dn_status st = check_size(w, h, r->lim, "PNG", err);
    if (st != DN_OK) return st;

    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (depth == 16) png_set_scale_16(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (channels < 1 || channels > 4 || rowbytes < (size_t)w * (size_t)channels)
        return dn_fail(err, DN_E_UNSUPPORTED, "PNG: unexpected pixel layout");

    /* Interlaced passes refine rows already read, so they need the whole
     * image; otherwise one row at a time keeps memory at width*channels. */
    size_t kept_rows = passes > 1 ? h : 1;
    r->pixels = malloc((size_t)w * h);
    r->rows = dn_calloc(kept_rows, rowbytes);
    if (!r->pixels || !r->rows) return dn_fail(err, DN_E_NOMEM, "PNG: out of memory");
    for (int pass = 0; pass < passes; pass++) {
        for (png_uint_32 y = 0; y < h; y++) {
            unsigned char *row = r->rows + (passes > 1 ? y * rowbytes : 0);
            png_read_row(png, row, NULL);
            if (passes == 1) row_to_gray(row, channels, w, r->pixels + (size_t)y * w);
        }
    }
    if (passes > 1)
        for (png_uint_32 y = 0; y < h; y++)
            row_to_gray(r->rows + y * rowbytes, channels, w, r->pixels + (size_t)y * w);
    /* Reaching IEND proves the stream was complete and its checksums held. */
    png_read_end(png, NULL);
    r->width = w;
    r->height = h;
    return DN_OK;
}

static dn_status png_decode(png_reader *r, dn_error *err) {
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, r, png_on_error, png_on_warning);
    if (!png) return dn_fail(err, DN_E_NOMEM, "PNG: out of memory");
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return dn_fail(err, DN_E_NOMEM, "PNG: out of memory");
    }
    dn_status st;
    if (setjmp(png_jmpbuf(png)))
        st = dn_fail(err, DN_E_FORMAT, "PNG: %s", r->msg);
    else
        st = png_read_body(png, info, r, err);
    png_destroy_read_struct(&png, &info, NULL);
    free(r->rows);
    r->rows = NULL;
    if (st != DN_OK) {
        free(r->pixels);
        r->pixels = NULL;
    }
    return st;
}

/* ================================================================ JPEG read */

typedef struct jpeg_reader {
    struct jpeg_decompress_struct cinfo; /* first, so callbacks can find the reader */
    struct jpeg_error_mgr jerr;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    dn_status status;
    char msg[JMSG_LENGTH_MAX];
    unsigned char *pixels;
    dn_image_limits lim;
    int scans_counted;       /* scans whose work has been added */
    unsigned long long work; /* pixels x components so far, over the scans */
} jpeg_reader;

static jpeg_reader *jpeg_reader_of(j_common_ptr cinfo) {
    return (jpeg_reader *)(void *)cinfo;
}

/* 1 (with the message set) when a frame header has been read and declares
 * an image over the pixel budget: a file that then ends or breaks (an image
 * bomb's header alone) is refused for its size. */
static int jpeg_oversize(jpeg_reader *r) {
    j_decompress_ptr c = &r->cinfo;
    if (!c->image_width || !c->image_height ||
        (unsigned long long)c->image_width * c->image_height <= r->lim.max_pixels)
        return 0;
    snprintf(r->msg, sizeof r->msg, "image is %ux%u (%.1f megapixels); the limit is %.1f",
             c->image_width, c->image_height, (double)c->image_width * c->image_height / 1e6,
             (double)r->lim.max_pixels / 1e6);
    r->status = DN_E_LIMIT;
    return 1;
}

static void jpeg_on_error(j_common_ptr cinfo) {
    jpeg_reader *r = jpeg_reader_of(cinfo);
    if (jpeg_oversize(r)) longjmp(r->jump, 1);
    cinfo->err->format_message(cinfo, r->msg);
    int code = cinfo->err->msg_code;
    /* over max_memory_to_use, libjpeg looks for a backing store we do not
     * give it: the memory budget */
    r->status = code == JERR_OUT_OF_MEMORY      ? DN_E_NOMEM
                : code == JERR_NO_BACKING_STORE ? DN_E_LIMIT
                                                : DN_E_FORMAT;
    if (code == JERR_NO_BACKING_STORE)
        snprintf(r->msg, sizeof r->msg, "decoding needs more than the %llu MB memory limit",
                 r->lim.max_memory >> 20);
    longjmp(r->jump, 1);
}

/* libjpeg reports a truncated file or damaged entropy data only as a
 * warning and then paints grey; for us those are corrupt inputs.  Other
 * warnings (odd JFIF versions, stray bytes between markers) leave the image
 * intact and are ignored, as is all trace output. */
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;
    int code = cinfo->err->msg_code;
    if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
        code == JWRN_MUST_RESYNC) {
        jpeg_reader *r = jpeg_reader_of(cinfo);
        if (!jpeg_oversize(r)) {
            cinfo->err->format_message(cinfo, r->msg);
            r->status = DN_E_FORMAT;
        }
        longjmp(r->jump, 1);
    }
}

static void jpeg_on_output(j_common_ptr cinfo) {
    (void)cinfo;
}

/* Called as the decoder reads: counts each new scan's work (its pixels
 * times its components, 8 times that for arithmetic coding) against the budget. */
static void jpeg_on_progress(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    j_decompress_ptr c = (j_decompress_ptr)cinfo;
    jpeg_reader *r = jpeg_reader_of(cinfo);
    if (c->input_scan_number > DN_JPEG_MAX_SCANS) {
        snprintf(r->msg, sizeof r->msg, "more than %d progressive scans", DN_JPEG_MAX_SCANS);
        r->status = DN_E_LIMIT;
        longjmp(r->jump, 1);
    }
    if (c->input_scan_number > r->scans_counted) {
        r->scans_counted = c->input_scan_number;
        r->work += (unsigned long long)c->image_width * c->image_height *
                   (c->comps_in_scan > 0 ? (unsigned)c->comps_in_scan : 1u) *
                   (c->arith_code ? 8u : 1u);
        if (r->work > r->lim.max_work) {
            snprintf(r->msg, sizeof r->msg,
                     "decoding would take more than the work limit (%d scans of a %ux%u image)",
                     c->input_scan_number, c->image_width, c->image_height);
            r->status = DN_E_LIMIT;
            longjmp(r->jump, 1);
        }
    }
}

static dn_status jpeg_read_body(jpeg_reader *r, const unsigned char *data, size_t size,
                                dn_error *err) {
    j_decompress_ptr c = &r->cinfo;
    c->progress = &r->progress;
    jpeg_mem_src(c, data, (unsigned long)size);
    c->mem->max_memory_to_use = (long)(r->lim.max_memory > LONG_MAX ? LONG_MAX : r->lim.max_memory);
    jpeg_read_header(c, TRUE);
    dn_status st = check_size(c->image_width, c->image_height, &r->lim, "JPEG", err);
    if (st != DN_OK) return st;
    if (c->jpeg_color_space == JCS_CMYK || c->jpeg_color_space == JCS_YCCK)
        return dn_fail(err, DN_E_UNSUPPORTED, "JPEG: CMYK images are not supported");
    /* For YCbCr the decoder simply keeps Y, which is the Rec. 601 luma. */
    c->out_color_space = JCS_GRAYSCALE;
    jpeg_start_decompress(c);
    if (c->output_components != 1 || c->output_width != c->image_width ||
        c->output_height != c->image_height)
        return dn_fail(err, DN_E_UNSUPPORTED, "JPEG: unexpected output layout");
    size_t w = c->output_width;
    r->pixels = malloc(w * c->output_height);
    if (!r->pixels) return dn_fail(err, DN_E_NOMEM, "JPEG: out of memory");
    while (c->output_scanline < c->output_height) {
        JSAMPROW row = r->pixels + (size_t)c->output_scanline * w;
        if (jpeg_read_scanlines(c, &row, 1) != 1)
            return dn_fail(err, DN_E_FORMAT, "JPEG: data is truncated");
    }
    jpeg_finish_decompress(c);
    return DN_OK;
}

static dn_status jpeg_decode(jpeg_reader *r, const unsigned char *data, size_t size,
                             dn_error *err) {
    if (size > (unsigned long)-1) return dn_fail(err, DN_E_UNSUPPORTED, "JPEG: data too large");
    r->cinfo.err = jpeg_std_error(&r->jerr);
    r->jerr.error_exit = jpeg_on_error;
    r->jerr.emit_message = jpeg_on_message;
    r->jerr.output_message = jpeg_on_output;
    r->progress.progress_monitor = jpeg_on_progress;
    dn_status st;
    if (setjmp(r->jump)) {
        st = dn_fail(err, r->status, "JPEG: %s", r->msg);
    } else {
        jpeg_create_decompress(&r->cinfo);
        st = jpeg_read_body(r, data, size, err);
    }
    jpeg_destroy_decompress(&r->cinfo);
    if (st != DN_OK) {
        free(r->pixels);
        r->pixels = NULL;
    }
    return st;
}

#endif /* DN_PNM_ONLY */

/* ================================================================ PGM/PPM */

typedef struct pnm_cursor {
    const unsigned char *p, *end;
} pnm_cursor;

static int pnm_is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void pnm_skip_blanks(pnm_cursor *c) {
    while (c->p < c->end) {
        if (*c->p == '#') {
            while (c->p < c->end && *c->p != '\n') c->p++;
        } else if (pnm_is_space(*c->p)) {
            c->p++;
        } else {
            break;
        }
    }
}

/* Reads a decimal number; returns 0 when there is none or it exceeds max. */
/* With saturate, a number over max reads as max (a header that declares an
 * absurd size is then refused as too large, not as malformed); without, it
 * is an error. */
static int pnm_read_number(pnm_cursor *c, unsigned long max, int saturate, unsigned long *out) {
    pnm_skip_blanks(c);
    unsigned long v = 0;
    const unsigned char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        unsigned long digit = (unsigned long)(*c->p - '0');
        if (v > (max - digit) / 10) {
            if (!saturate) return 0;
            v = max;
        } else {
            v = v * 10 + digit;
        }
        c->p++;
    }
    if (c->p == start) return 0;
    *out = v;
    return 1;
}

static int pnm_read_uint(pnm_cursor *c, unsigned long max, unsigned long *out) {
    return pnm_read_number(c, max, 0, out);
}

typedef struct pnm_header {
    int binary, samples; /* samples per pixel: 1 gray, 3 RGB */
    unsigned long w, h, maxval;
} pnm_header;

static dn_status pnm_read_header(pnm_cursor *c, pnm_header *hd, const dn_image_limits *lim,
                                 dn_error *err) {
    char kind = (char)c->p[1];
    c->p += 2;
    hd->binary = kind == '5' || kind == '6';
    hd->samples = kind == '3' || kind == '6' ? 3 : 1;
    if (c->p >= c->end || (!pnm_is_space(*c->p) && *c->p != '#'))
        return dn_fail(err, DN_E_FORMAT, "PGM/PPM: malformed header");
    if (!pnm_read_number(c, 1000000000ul, 1, &hd->w) ||
        !pnm_read_number(c, 1000000000ul, 1, &hd->h))
        return dn_fail(err, DN_E_FORMAT, "PGM/PPM: malformed width or height");
    dn_status st = check_size(hd->w, hd->h, lim, "PGM/PPM", err);
    if (st != DN_OK) return st;
    if (!pnm_read_uint(c, 65535, &hd->maxval) || hd->maxval == 0)
        return dn_fail(err, DN_E_FORMAT, "PGM/PPM: maxval must be 1..65535");
    /* Binary samples start after exactly one whitespace byte. */
    if (hd->binary) {
        if (c->p >= c->end || !pnm_is_space(*c->p))
            return dn_fail(err, DN_E_FORMAT, "PGM/PPM: malformed header");
        c->p++;
    }
    return DN_OK;
}

/* Fetches the next sample scaled to 0..255; returns 0 on truncation or a
 * sample above maxval. */
static int pnm_sample(pnm_cursor *c, const pnm_header *hd, unsigned *out) {
    unsigned long v;
    if (!hd->binary) {
        if (!pnm_read_uint(c, hd->maxval, &v)) return 0;
    } else if (hd->maxval > 255) {
        v = ((unsigned long)c->p[0] << 8) | c->p[1];
        c->p += 2;
        if (v > hd->maxval) return 0;
    } else {
        v = *c->p++;
        if (v > hd->maxval) return 0;
    }
    *out = (unsigned)((v * 255 + hd->maxval / 2) / hd->maxval);
    return 1;
}

static dn_status pnm_decode(const unsigned char *data, size_t size, const dn_image_limits *lim,
                            dn_image *out, dn_error *err) {
    pnm_cursor c = {data, data + size};
    pnm_header hd;
    dn_status st = pnm_read_header(&c, &hd, lim, err);
    if (st != DN_OK) return st;
    size_t n = (size_t)hd.w * hd.h;
    if (hd.binary) {
        size_t need = n * (size_t)hd.samples * (hd.maxval > 255 ? 2 : 1);
        if ((size_t)(c.end - c.p) < need)
            return dn_fail(err, DN_E_FORMAT, "PGM/PPM: data is truncated");
    }
    unsigned char *px = malloc(n);
    if (!px) return dn_fail(err, DN_E_NOMEM, "PGM/PPM: out of memory");
    for (size_t i = 0; i < n; i++) {
        unsigned s[3];
        for (int k = 0; k < hd.samples; k++) {
            if (!pnm_sample(&c, &hd, &s[k])) {
                free(px);
                return dn_fail(err, DN_E_FORMAT,
                               "PGM/PPM: pixel %zu is missing or exceeds maxval %lu", i, hd.maxval);
            }
        }
        px[i] = hd.samples == 1 ? (unsigned char)s[0] : luma(s[0], s[1], s[2]);
    }
    out->pixels = px;
    out->width = (int)hd.w;
    out->height = (int)hd.h;
    return DN_OK;
}

/* ================================================================ decode */

dn_status dn_image_decode(const void *data, size_t size, dn_image *out, dn_error *err) {
    return dn_image_decode_limited(data, size, NULL, out, err);
}

dn_status dn_image_decode_limited(const void *data, size_t size, const dn_image_limits *limits,
                                  dn_image *out, dn_error *err) {
    if (!out) return dn_fail(err, DN_E_ARG, "dn_image_decode: out is NULL");
    out->width = out->height = 0;
    out->pixels = NULL;
    const dn_image_limits lim = limits_or_defaults(limits);
    if (!data || size == 0) return dn_fail(err, DN_E_FORMAT, "image data is empty");
    const unsigned char *b = data;
#ifndef DN_PNM_ONLY
    if (size >= 8 && png_sig_cmp(b, 0, 8) == 0) {
        png_reader r = {.lim = &lim, .data = b, .size = size};
        dn_status st = png_decode(&r, err);
        if (st == DN_OK) *out = (dn_image){(int)r.width, (int)r.height, r.pixels};
        return st;
    }
    if (size >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
        jpeg_reader *r = calloc(1, sizeof *r);
        if (!r) return dn_fail(err, DN_E_NOMEM, "JPEG: out of memory");
        r->lim = lim;
        dn_status st = jpeg_decode(r, b, size, err);
        if (st == DN_OK)
            *out = (dn_image){(int)r->cinfo.output_width, (int)r->cinfo.output_height, r->pixels};
        free(r);
        return st;
    }
#endif
    if (size >= 2 && b[0] == 'P' && (b[1] == '2' || b[1] == '3' || b[1] == '5' || b[1] == '6'))
        return pnm_decode(b, size, &lim, out, err);
    return dn_fail(err, DN_E_UNSUPPORTED,
                   "unsupported image format (expected PNG, JPEG, PGM or PPM)");
}

dn_status dn_image_load(const char *path, dn_image *out, dn_error *err) {
    if (out) *out = (dn_image){0, 0, NULL};
    if (!path || !out) return dn_fail(err, DN_E_ARG, "dn_image_load: NULL argument");
    unsigned char *buf;
    size_t size;
    dn_status st = dn_read_file(path, DN_IMAGE_MAX_FILE, &buf, &size, err);
    if (st != DN_OK) return st;
    dn_error inner = {{0}};
    st = dn_image_decode(buf, size, out, &inner);
    free(buf);
    if (st != DN_OK) return dn_fail(err, st, "%s: %s", path, inner.msg);
    return DN_OK;
}

/* ================================================================ PNG write */
#ifdef DN_PNM_ONLY
dn_status dn_png_encode_gray(const unsigned char *pixels, int width, int height,
                             unsigned char **out, size_t *out_size, dn_error *err) {
    (void)pixels, (void)width, (void)height, (void)out, (void)out_size;
    return dn_fail(err, DN_E_UNSUPPORTED, "this build writes no PNG");
}
dn_status dn_png_save_gray(const char *path, const unsigned char *pixels, int width, int height,
                           dn_error *err) {
    (void)pixels, (void)width, (void)height;
    return dn_fail(err, DN_E_UNSUPPORTED, "%s: this build writes no PNG", path);
}
#else

typedef struct png_writer {
    unsigned char *buf;
    size_t size, cap;
    int out_of_memory;
    char msg[200];
} png_writer;

static void png_on_write_error(png_structp png, png_const_charp msg) {
    png_writer *w = png_get_error_ptr(png);
    snprintf(w->msg, sizeof w->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_write(png_structp png, png_bytep data, size_t n) {
    png_writer *w = png_get_io_ptr(png);
    if (n > w->cap - w->size) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap - w->size < n) {
            if (cap > SIZE_MAX / 2) png_error(png, "output too large");
            cap *= 2;
        }
        unsigned char *nb = realloc(w->buf, cap);
        w->out_of_memory = !nb;
        if (!nb) png_error(png, "out of memory");
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->size, data, n);
    w->size += n;
}

static void png_on_flush(png_structp png) {
    (void)png;
}

static void png_write_body(png_structp png, png_infop info, png_writer *w,
                           const unsigned char *pixels, int width, int height) {
    png_set_write_fn(png, w, png_on_write, png_on_flush);
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, pixels + (size_t)y * (size_t)width);
    png_write_end(png, NULL);
}

static dn_status png_encode(png_writer *w, const unsigned char *pixels, int width, int height,
                            dn_error *err) {
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, w, png_on_write_error, png_on_warning);
    if (!png) return dn_fail(err, DN_E_NOMEM, "PNG: out of memory");
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return dn_fail(err, DN_E_NOMEM, "PNG: out of memory");
    }
    dn_status st = DN_OK;
    if (setjmp(png_jmpbuf(png)))
        st = dn_fail(err, w->out_of_memory ? DN_E_NOMEM : DN_E_ARG, "PNG: cannot encode: %s",
                     w->msg);
    else
        png_write_body(png, info, w, pixels, width, height);
    png_destroy_write_struct(&png, &info);
    return st;
}

dn_status dn_png_encode_gray(const unsigned char *pixels, int width, int height,
                             unsigned char **out, size_t *out_size, dn_error *err) {
    if (out) *out = NULL;
    if (out_size) *out_size = 0;
    if (!pixels || !out || !out_size)
        return dn_fail(err, DN_E_ARG, "dn_png_encode_gray: NULL argument");
    if (width <= 0 || height <= 0 || (unsigned long long)width * height > DN_IMAGE_MAX_PIXELS)
        return dn_fail(err, DN_E_ARG, "dn_png_encode_gray: invalid size %dx%d", width, height);
    png_writer w = {0};
    dn_status st = png_encode(&w, pixels, width, height, err);
    if (st != DN_OK) {
        free(w.buf);
        return st;
    }
    *out = w.buf;
    *out_size = w.size;
    return DN_OK;
}

dn_status dn_png_save_gray(const char *path, const unsigned char *pixels, int width, int height,
                           dn_error *err) {
    if (!path) return dn_fail(err, DN_E_ARG, "dn_png_save_gray: path is NULL");
    unsigned char *png;
    size_t size;
    dn_status st = dn_png_encode_gray(pixels, width, height, &png, &size, err);
    if (st != DN_OK) return st;
    st = dn_write_atomic(path, png, size, err);
    free(png);
    return st;
}
#endif /* DN_PNM_ONLY */
