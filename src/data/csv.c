/*
 * csv.c — Kaggle digit-recognizer CSV files.
 *
 * Does: load "label,pixel0,...,pixel783" files (train.csv: 785 columns,
 * labels set) and "pixel0,...,pixel783" files (test.csv: 784 columns,
 * labels NULL) as 28x28 images; save a dataset in the same shape,
 * atomically.  The column count of the first line decides which kind a file
 * is and every row must match it.  A first line made only of numbers is
 * taken as a row of a headerless file rather than thrown away.
 *
 * Tolerated: \r\n line endings, a missing final newline, a UTF-8 byte order
 * mark, blank lines at the very end.  Rejected, naming the line (and column):
 * empty files, a header without rows, empty or non-integer fields, wrong
 * column counts, pixels outside 0..255, labels outside 0..9, blank lines
 * between rows, lines over 64 KiB, more than 100M rows.
 *
 * Does not: understand quoting, other separators or image sizes; the file is
 * streamed through a fixed buffer and never held in memory whole.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

#define CSV_SIDE 28
#define CSV_PIXELS (CSV_SIDE * CSV_SIDE)
#define CSV_MAX_LINE (1u << 16)
#define CSV_MAX_ROWS 100000000u
#define CSV_BUF (1u << 16)

/* ======================================================================== */
/* Line reader                                                              */
/* ======================================================================== */

typedef struct csv_reader {
    const char *path;
    FILE *f;
    unsigned char *buf; /* CSV_BUF bytes of file data */
    size_t pos, len;
    int eof;
    char *line; /* current line without its terminator, CSV_MAX_LINE bytes */
    size_t line_len;
    size_t lineno; /* 1-based number of the current line */
} csv_reader;

/* Reads the next line into r->line; *have is 0 at end of file. */
static dn_status csv_next_line(csv_reader *r, int *have, dn_error *err) {
    int any = 0;
    *have = 0;
    r->line_len = 0;
    for (;;) {
        if (r->pos == r->len) {
            if (r->eof) break;
            r->len = fread(r->buf, 1, CSV_BUF, r->f);
            r->pos = 0;
            if (r->len == 0) {
                if (ferror(r->f))
                    return dn_fail(err, DN_E_IO, "%s: read error: %s", r->path, strerror(errno));
                r->eof = 1;
                break;
            }
        }
        const unsigned char *start = r->buf + r->pos;
        const unsigned char *nl = memchr(start, '\n', r->len - r->pos);
        size_t take = nl ? (size_t)(nl - start) : r->len - r->pos;
        if (r->line_len + take > CSV_MAX_LINE)
            return dn_fail(err, DN_E_FORMAT, "%s: line %zu is longer than %u bytes", r->path,
                           r->lineno + 1, CSV_MAX_LINE);
        memcpy(r->line + r->line_len, start, take);
        r->line_len += take;
        r->pos += take;
        any = 1;
        if (nl) {
            r->pos++;
            break;
        }
    }
    *have = any;
    if (!any) return DN_OK;
    r->lineno++;
    if (r->line_len > 0 && r->line[r->line_len - 1] == '\r') r->line_len--;
    return DN_OK;
}

/* ======================================================================== */
/* Fields                                                                   */
/* ======================================================================== */

static size_t count_fields(const char *s, size_t len) {
    size_t n = 1;
    for (const char *p = s, *end = s + len; (p = memchr(p, ',', (size_t)(end - p))); p++) n++;
    return n;
}

/* Whether the line holds only digits and commas: a data row, not a header. */
static int all_numeric(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] != ',' && (s[i] < '0' || s[i] > '9')) return 0;
    return len > 0;
}

/* Names a 0-based column for messages: "label" or "pixelN". */
static void column_name(int labeled, size_t col, char *buf, size_t cap) {
    if (labeled && col == 0)
        snprintf(buf, cap, "label");
    else
        snprintf(buf, cap, "pixel%zu", col - (labeled ? 1 : 0));
}

/* Copies a field for a message, hiding bytes that would garble a terminal. */
static void printable(const char *s, size_t len, char *buf, size_t cap) {
    size_t n = len < cap - 4 ? len : cap - 4, i;
    for (i = 0; i < n; i++) buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (n < len) buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
    buf[i] = 0;
}

/* Parses one data row of `fields` integers into label (if labeled) and pixels. */
static dn_status parse_row(const csv_reader *r, int labeled, size_t fields, unsigned char *label,
                           unsigned char *pixels, dn_error *err) {
    const char *p = r->line, *end = r->line + r->line_len;
    size_t got = count_fields(p, r->line_len);
    if (got != fields)
        return dn_fail(err, DN_E_FORMAT, "%s: line %zu: has %zu columns, expected %zu", r->path,
                       r->lineno, got, fields);
    for (size_t col = 0; col < fields; col++) {
        const char *f = p;
        unsigned value = 0;
        int bad = 0;
        while (p < end && *p != ',') {
            if (*p < '0' || *p > '9')
                bad = 1;
            else if (value < 1000) /* saturate: anything above 255 is out of range */
                value = value * 10 + (unsigned)(*p - '0');
            p++;
        }
        size_t flen = (size_t)(p - f);
        p++; /* past the comma (or end) */
        char name[24], text[24];
        if (flen == 0 || bad) {
            column_name(labeled, col, name, sizeof name);
            if (flen == 0)
                return dn_fail(err, DN_E_FORMAT, "%s: line %zu, column %zu (%s): empty field",
                               r->path, r->lineno, col + 1, name);
            printable(f, flen, text, sizeof text);
            return dn_fail(err, DN_E_FORMAT,
                           "%s: line %zu, column %zu (%s): '%s' is not a non-negative integer",
                           r->path, r->lineno, col + 1, name, text);
        }
        if (labeled && col == 0) {
            if (value > 9) {
                printable(f, flen, text, sizeof text);
                return dn_fail(err, DN_E_FORMAT, "%s: line %zu: label %s is out of range 0..9",
                               r->path, r->lineno, text);
            }
            *label = (unsigned char)value;
        } else {
            if (value > 255) {
                column_name(labeled, col, name, sizeof name);
                printable(f, flen, text, sizeof text);
                return dn_fail(err, DN_E_FORMAT,
                               "%s: line %zu, column %zu (%s): pixel %s is out of range 0..255",
                               r->path, r->lineno, col + 1, name, text);
            }
            pixels[col - (labeled ? 1 : 0)] = (unsigned char)value;
        }
    }
    return DN_OK;
}

/* ======================================================================== */
/* Loading                                                                  */
/* ======================================================================== */

/* Makes room for one more row, doubling the buffers. */
static dn_status grow(csv_reader *r, int labeled, size_t count, size_t *cap, unsigned char **images,
                      unsigned char **labels, dn_error *err) {
    if (count < *cap) return DN_OK;
    if (count >= CSV_MAX_ROWS)
        return dn_fail(err, DN_E_FORMAT, "%s: more than %u rows", r->path, CSV_MAX_ROWS);
    size_t ncap = *cap ? *cap * 2 : 1024;
    if (ncap > CSV_MAX_ROWS) ncap = CSV_MAX_ROWS;
    if (ncap > SIZE_MAX / CSV_PIXELS)
        return dn_fail(err, DN_E_NOMEM, "%s: too many rows for memory at line %zu", r->path,
                       r->lineno);
    unsigned char *ni = realloc(*images, ncap * CSV_PIXELS);
    if (!ni) return dn_fail(err, DN_E_NOMEM, "%s: out of memory at line %zu", r->path, r->lineno);
    *images = ni;
    if (labeled) {
        unsigned char *nl = realloc(*labels, ncap);
        if (!nl)
            return dn_fail(err, DN_E_NOMEM, "%s: out of memory at line %zu", r->path, r->lineno);
        *labels = nl;
    }
    *cap = ncap;
    return DN_OK;
}

static dn_status csv_parse(csv_reader *r, dn_dataset *out, dn_error *err) {
    int have;
    dn_status st = csv_next_line(r, &have, err);
    if (st != DN_OK) return st;
    if (!have) return dn_fail(err, DN_E_FORMAT, "%s: is empty", r->path);
    /* a byte order mark is invisible in editors but would corrupt "label" */
    if (r->line_len >= 3 && memcmp(r->line, "\xef\xbb\xbf", 3) == 0) {
        memmove(r->line, r->line + 3, r->line_len - 3);
        r->line_len -= 3;
    }
    if (r->line_len == 0)
        return dn_fail(err, DN_E_FORMAT, "%s: line 1 is empty, expected a header", r->path);
    size_t fields = count_fields(r->line, r->line_len);
    if (fields != CSV_PIXELS + 1 && fields != CSV_PIXELS)
        return dn_fail(err, DN_E_FORMAT,
                       "%s: line 1 has %zu columns, expected %d (label,pixel0..pixel%d) or %d "
                       "(pixel0..pixel%d)",
                       r->path, fields, CSV_PIXELS + 1, CSV_PIXELS - 1, CSV_PIXELS, CSV_PIXELS - 1);
    int labeled = fields == CSV_PIXELS + 1;
    int pending = all_numeric(r->line, r->line_len); /* line 1 is already a row */

    unsigned char *images = NULL, *labels = NULL;
    size_t count = 0, cap = 0, blank = 0;
    for (;;) {
        if (!pending) {
            st = csv_next_line(r, &have, err);
            if (st != DN_OK || !have) break;
        }
        pending = 0;
        if (r->line_len == 0) {
            if (!blank) blank = r->lineno; /* an error only if a row follows */
            continue;
        }
        if (blank) {
            st = dn_fail(err, DN_E_FORMAT, "%s: line %zu is empty", r->path, blank);
            break;
        }
        st = grow(r, labeled, count, &cap, &images, &labels, err);
        if (st != DN_OK) break;
        unsigned char unused;
        st = parse_row(r, labeled, fields, labels ? labels + count : &unused,
                       images + count * CSV_PIXELS, err);
        if (st != DN_OK) break;
        count++;
    }
    if (st == DN_OK && count == 0)
        st = dn_fail(err, DN_E_NODATA, "%s: has a header but no rows", r->path);
    if (st != DN_OK) {
        free(images);
        free(labels);
        return st;
    }
    /* give back the slack of the last doubling */
    unsigned char *shrunk = realloc(images, count * CSV_PIXELS);
    if (shrunk) images = shrunk;
    if (labeled) {
        shrunk = realloc(labels, count);
        if (shrunk) labels = shrunk;
    }
    out->count = count;
    out->rows = out->cols = CSV_SIDE;
    out->images = images;
    out->labels = labels;
    return DN_OK;
}

dn_status dn_csv_load(const char *path, dn_dataset *out, dn_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return dn_fail(err, DN_E_ARG, "dn_csv_load: path and output are required");
    csv_reader r;
    memset(&r, 0, sizeof r);
    r.path = path;
    dn_status ost = dn_open_input(path, &r.f, NULL, err);
    if (ost != DN_OK) return ost;
    r.buf = malloc(CSV_BUF);
    r.line = malloc(CSV_MAX_LINE);
    dn_status st = (r.buf && r.line) ? csv_parse(&r, out, err)
                                     : dn_fail(err, DN_E_NOMEM, "%s: out of memory", path);
    free(r.buf);
    free(r.line);
    fclose(r.f);
    return st;
}

/* ======================================================================== */
/* Saving                                                                   */
/* ======================================================================== */

static size_t digits(unsigned v) {
    return v >= 100 ? 3 : v >= 10 ? 2 : 1;
}

static char *put_uint(char *p, unsigned v) {
    if (v >= 100) *p++ = (char)('0' + v / 100);
    if (v >= 10) *p++ = (char)('0' + v / 10 % 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

dn_status dn_csv_save(const dn_dataset *ds, const char *path, dn_error *err) {
    if (!ds || !path) return dn_fail(err, DN_E_ARG, "dn_csv_save: dataset and path are required");
    if (!ds->images || ds->count == 0)
        return dn_fail(err, DN_E_NODATA, "%s: the dataset holds no images", path);
    if (ds->rows != CSV_SIDE || ds->cols != CSV_SIDE)
        return dn_fail(err, DN_E_ARG, "%s: the CSV format holds %dx%d images, not %dx%d", path,
                       CSV_SIDE, CSV_SIDE, ds->rows, ds->cols);
    if (ds->count > CSV_MAX_ROWS)
        return dn_fail(err, DN_E_ARG, "%s: %zu rows exceed the limit of %u", path, ds->count,
                       CSV_MAX_ROWS);
    int labeled = ds->labels != NULL;

    /* Exact size first, so the file is built in one allocation and handed
     * to the atomic writer whole. */
    size_t size = labeled ? 6 : 0;                                       /* "label," */
    for (unsigned k = 0; k < CSV_PIXELS; k++) size += 5 + digits(k) + 1; /* "pixelK," or "\n" */
    for (size_t i = 0; i < ds->count; i++) {
        if (labeled && ds->labels[i] > 9)
            return dn_fail(err, DN_E_ARG, "%s: label %u at index %zu is out of range 0..9", path,
                           (unsigned)ds->labels[i], i);
        size_t row = labeled ? 2 : 0;
        const unsigned char *px = ds->images + i * CSV_PIXELS;
        for (size_t k = 0; k < CSV_PIXELS; k++) row += digits(px[k]) + 1;
        if (size > SIZE_MAX - row) return dn_fail(err, DN_E_ARG, "%s: dataset too large", path);
        size += row;
    }
    char *buf = malloc(size), *p = buf;
    if (!buf) return dn_fail(err, DN_E_NOMEM, "%s: out of memory for %zu bytes", path, size);
    if (labeled) {
        memcpy(p, "label,", 6);
        p += 6;
    }
    for (unsigned k = 0; k < CSV_PIXELS; k++) {
        memcpy(p, "pixel", 5);
        p = put_uint(p + 5, k);
        *p++ = k + 1 < CSV_PIXELS ? ',' : '\n';
    }
    for (size_t i = 0; i < ds->count; i++) {
        if (labeled) {
            *p++ = (char)('0' + ds->labels[i]);
            *p++ = ',';
        }
        const unsigned char *px = ds->images + i * CSV_PIXELS;
        for (size_t k = 0; k < CSV_PIXELS; k++) {
            p = put_uint(p, px[k]);
            *p++ = k + 1 < CSV_PIXELS ? ',' : '\n';
        }
    }
    dn_status st = (size_t)(p - buf) == size
                       ? dn_write_atomic(path, buf, size, err)
                       : dn_fail(err, DN_E_ARG, "%s: internal size mismatch", path);
    free(buf);
    return st;
}
