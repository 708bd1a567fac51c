/*
 * idx.c — IDX image and label files, the format MNIST and Fashion-MNIST
 * ship in, raw or gzipped.
 *
 * Does: load an image file (magic 0x00000803: unsigned bytes, 3 dimensions
 * count x rows x cols) and optionally its label file (0x00000801: unsigned
 * bytes, 1 dimension), gzip detected by content; find the MNIST-named pair
 * in a directory; save a dataset as IDX, optionally gzipped, atomically.
 *
 * Validation is strict because these files come from downloads that can be
 * cut short or mixed up: magic, element type, dimension count, limits
 * (1..4096 rows and columns, 1..100M items, at most 1 GiB of pixels),
 * exact payload length (a short file is "truncated", a long one has
 * "trailing data"), gzip integrity (CRC, truncation, bytes after the
 * stream), matching image and label counts and labels 0..9. Every error
 * names the file.
 *
 * Does not: read element types other than unsigned bytes (a valid IDX file
 * of floats is DN_E_UNSUPPORTED), nor trust a declared size for memory —
 * buffers grow with the data that actually arrives, so a lying header or a
 * gzip bomb cannot make us allocate or inflate more than it really holds
 * (plus one byte, read to prove the file ends where it should).
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_MAX_ITEMS 100000000u
#define IDX_MAX_SIDE 4096u
/* The memory budget of one image file's pixels (MNIST's training set is
 * 47 MB, EMNIST's largest split 638 MB): checked against the header before
 * anything is read or inflated, so a small gzip bomb that declares and
 * really holds gigabytes of zeros is refused at once. */
#define IDX_MAX_BYTES ((uint64_t)1 << 30)
#define IDX_UBYTE 0x08
#define IDX_INBUF (1u << 16)
/* First allocation for a payload; doubled up to the declared size. */
#define IDX_FIRST_CHUNK ((size_t)1 << 24)

/* ======================================================================== */
/* Byte source: a raw file or a gzip stream, read on demand                 */
/* ======================================================================== */

typedef struct idx_src {
    const char *path;
    FILE *f;
    int gz;          /* content is gzip */
    int zlive;       /* inflateInit2 succeeded, inflateEnd is owed */
    int member_done; /* a gzip member ended; only another member or EOF may follow */
    int in_eof;      /* the file has no more compressed bytes */
    int gz_short;    /* the gzip stream stopped before its end */
    z_stream zs;
    unsigned char *in;
} idx_src;

static void src_close(idx_src *s) {
    if (s->zlive) inflateEnd(&s->zs);
    if (s->f) fclose(s->f);
    free(s->in);
    memset(s, 0, sizeof *s);
}

static dn_status src_open(idx_src *s, const char *path, dn_error *err) {
    memset(s, 0, sizeof *s);
    s->path = path;
    dn_status ost = dn_open_input(path, &s->f, NULL, err);
    if (ost != DN_OK) return ost;
    int c0 = getc(s->f), c1 = c0 == EOF ? EOF : getc(s->f);
    if (ferror(s->f)) {
        dn_status st = dn_fail(err, DN_E_IO, "%s: read error: %s", path, strerror(errno));
        src_close(s);
        return st;
    }
    rewind(s->f);
    s->gz = c0 == 0x1f && c1 == 0x8b;
    if (!s->gz) return DN_OK;
    s->in = malloc(IDX_INBUF);
    /* 15 + 16: gzip wrapper only, so a zlib or raw deflate stream is rejected */
    if (!s->in || inflateInit2(&s->zs, 15 + 16) != Z_OK) {
        src_close(s);
        return dn_fail(err, DN_E_NOMEM, "%s: out of memory", path);
    }
    s->zlive = 1;
    return DN_OK;
}

static dn_status src_read_raw(idx_src *s, unsigned char *buf, size_t n, size_t *got,
                              dn_error *err) {
    *got = fread(buf, 1, n, s->f);
    if (*got < n && ferror(s->f))
        return dn_fail(err, DN_E_IO, "%s: read error: %s", s->path, strerror(errno));
    return DN_OK;
}

/* Ensures compressed input is available unless the file is exhausted. */
static dn_status src_fill(idx_src *s, dn_error *err) {
    if (s->zs.avail_in > 0 || s->in_eof) return DN_OK;
    size_t r = fread(s->in, 1, IDX_INBUF, s->f);
    if (r == 0) {
        if (ferror(s->f))
            return dn_fail(err, DN_E_IO, "%s: read error: %s", s->path, strerror(errno));
        s->in_eof = 1;
    }
    s->zs.next_in = s->in;
    s->zs.avail_in = (uInt)r;
    return DN_OK;
}

static dn_status src_read_gz(idx_src *s, unsigned char *buf, size_t n, size_t *got, dn_error *err) {
    *got = 0;
    while (*got < n) {
        dn_status st = src_fill(s, err);
        if (st != DN_OK) return st;
        if (s->member_done) {
            if (s->zs.avail_in == 0) return DN_OK; /* clean end of the last member */
            /* Concatenated members are valid gzip; anything else is not. */
            if (s->zs.next_in[0] != 0x1f)
                return dn_fail(err, DN_E_FORMAT, "%s: trailing garbage after the gzip stream",
                               s->path);
            inflateReset(&s->zs);
            s->member_done = 0;
        }
        size_t want = n - *got;
        s->zs.next_out = buf + *got;
        s->zs.avail_out = want > UINT_MAX ? UINT_MAX : (uInt)want;
        uInt before = s->zs.avail_out;
        int rc = inflate(&s->zs, Z_NO_FLUSH);
        *got += before - s->zs.avail_out;
        if (rc == Z_STREAM_END) {
            s->member_done = 1;
        } else if (rc == Z_BUF_ERROR && s->in_eof && s->zs.avail_in == 0) {
            /* inflate wants more input and the file has none */
            s->gz_short = 1;
            return DN_OK;
        } else if (rc == Z_MEM_ERROR) {
            return dn_fail(err, DN_E_NOMEM, "%s: out of memory", s->path);
        } else if (rc != Z_OK) {
            return dn_fail(err, DN_E_FORMAT, "%s: corrupt gzip data: %s", s->path,
                           s->zs.msg ? s->zs.msg : "inflate failed");
        }
    }
    return DN_OK;
}

/* Reads up to n bytes; *got < n means the data ended (check s->gz_short). */
static dn_status src_read(idx_src *s, unsigned char *buf, size_t n, size_t *got, dn_error *err) {
    return s->gz ? src_read_gz(s, buf, n, got, err) : src_read_raw(s, buf, n, got, err);
}

/* Suffix for truncation messages: says whether the gzip stream itself is cut. */
static const char *src_kind(const idx_src *s) {
    return s->gz_short ? " (gzip stream ends early)" : "";
}

/* Proves the data ends exactly here: one more byte must not exist. */
static dn_status src_expect_end(idx_src *s, const char *what, size_t declared, dn_error *err) {
    unsigned char extra;
    size_t got;
    dn_status st = src_read(s, &extra, 1, &got, err);
    if (st != DN_OK) return st;
    if (got > 0)
        return dn_fail(err, DN_E_FORMAT, "%s: trailing data after the %zu declared %s bytes",
                       s->path, declared, what);
    if (s->gz_short)
        return dn_fail(err, DN_E_FORMAT, "%s: truncated gzip stream (ends before its trailer)",
                       s->path);
    return DN_OK;
}

/* ======================================================================== */
/* Header                                                                   */
/* ======================================================================== */

/* Reads and checks the magic and dimensions; ndim is 3 for images, 1 for labels. */
static dn_status read_header(idx_src *s, int ndim, uint32_t dims[3], dn_error *err) {
    const char *kind = ndim == 3 ? "image" : "label", *article = ndim == 3 ? "an" : "a";
    const unsigned magic = ndim == 3 ? 0x803u : 0x801u;
    unsigned char h[16] = {0};
    size_t need = 4 + 4 * (size_t)ndim, got;
    dn_status st = src_read(s, h, need, &got, err);
    if (st != DN_OK) return st;
    if (got == 0) return dn_fail(err, DN_E_FORMAT, "%s: is empty%s", s->path, src_kind(s));
    if (got >= 4 && (h[0] != 0 || h[1] != 0))
        return dn_fail(err, DN_E_FORMAT,
                       "%s: not an IDX file (magic %02x %02x %02x %02x, expected 0x%08x)", s->path,
                       h[0], h[1], h[2], h[3], magic);
    if (got >= 4 && h[2] != IDX_UBYTE) {
        /* 0x09..0x0e are the other IDX element types: valid files we cannot use */
        int known = h[2] == 0x09 || (h[2] >= 0x0b && h[2] <= 0x0e);
        return dn_fail(err, known ? DN_E_UNSUPPORTED : DN_E_FORMAT,
                       "%s: IDX element type 0x%02x is %s; only unsigned bytes (0x08) are "
                       "supported",
                       s->path, h[2], known ? "not supported" : "unknown");
    }
    if (got >= 4 && h[3] != ndim) {
        const char *hint = h[3] == 1   ? " (is this a label file?)"
                           : h[3] == 3 ? " (is this an image file?)"
                                       : "";
        return dn_fail(err, DN_E_FORMAT,
                       "%s: IDX file has %d dimensions, expected %d for %s %s file (magic "
                       "0x%08x)%s",
                       s->path, h[3], ndim, article, kind, magic, hint);
    }
    if (got < need)
        return dn_fail(err, DN_E_FORMAT, "%s: truncated: expected a %zu-byte header, got %zu%s",
                       s->path, need, got, src_kind(s));
    for (int i = 0; i < ndim; i++) dims[i] = dn_get_be32(h + 4 + 4 * i);
    if (dims[0] == 0) return dn_fail(err, DN_E_NODATA, "%s: holds no %ss", s->path, kind);
    if (dims[0] > IDX_MAX_ITEMS)
        return dn_fail(err, DN_E_FORMAT, "%s: declares %u %ss, more than the limit of %u", s->path,
                       dims[0], kind, IDX_MAX_ITEMS);
    if (ndim == 3 &&
        (dims[1] < 1 || dims[1] > IDX_MAX_SIDE || dims[2] < 1 || dims[2] > IDX_MAX_SIDE))
        return dn_fail(err, DN_E_FORMAT, "%s: image size %ux%u is out of range 1..%u", s->path,
                       dims[1], dims[2], IDX_MAX_SIDE);
    if (ndim == 3 && (uint64_t)dims[0] * dims[1] * dims[2] > IDX_MAX_BYTES)
        return dn_fail(err, DN_E_FORMAT,
                       "%s: declares %u images of %ux%u (%llu MB), over the limit of %llu MB",
                       s->path, dims[0], dims[1], dims[2],
                       (unsigned long long)((uint64_t)dims[0] * dims[1] * dims[2] >> 20),
                       (unsigned long long)(IDX_MAX_BYTES >> 20));
    return DN_OK;
}

/* ======================================================================== */
/* Payload                                                                  */
/* ======================================================================== */

/* Reads exactly `total` bytes, growing the buffer only as data arrives. */
static dn_status read_payload(idx_src *s, size_t total, const char *what, unsigned char **out,
                              dn_error *err) {
    *out = NULL;
    size_t cap = total < IDX_FIRST_CHUNK ? total : IDX_FIRST_CHUNK, have = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) return dn_fail(err, DN_E_NOMEM, "%s: out of memory", s->path);
    for (;;) {
        size_t got;
        dn_status st = src_read(s, buf + have, cap - have, &got, err);
        have += got;
        if (st != DN_OK) {
            free(buf);
            return st;
        }
        if (have < cap || cap == total) break;
        size_t ncap = cap > total / 2 ? total : cap * 2;
        unsigned char *nb = realloc(buf, ncap);
        if (!nb) {
            free(buf);
            return dn_fail(err, DN_E_NOMEM, "%s: out of memory for %zu %s bytes", s->path, total,
                           what);
        }
        buf = nb;
        cap = ncap;
    }
    if (have < total) {
        free(buf);
        return dn_fail(err, DN_E_FORMAT, "%s: truncated: expected %zu %s bytes, got %zu%s", s->path,
                       total, what, have, src_kind(s));
    }
    dn_status st = src_expect_end(s, what, total, err);
    if (st != DN_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    return DN_OK;
}

/* ======================================================================== */
/* Loading                                                                  */
/* ======================================================================== */

dn_status dn_idx_load(const char *images_path, const char *labels_path, dn_dataset *out,
                      dn_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!images_path || !out)
        return dn_fail(err, DN_E_ARG, "dn_idx_load: images path and output are required");

    idx_src im, lb;
    memset(&lb, 0, sizeof lb);
    unsigned char *pixels = NULL, *labels = NULL;
    uint32_t idims[3] = {0}, ldims[3] = {0};
    dn_status st = src_open(&im, images_path, err);
    if (st != DN_OK) return st;
    st = read_header(&im, 3, idims, err);
    if (st != DN_OK) goto done;
    /* Both headers first, so a mismatched pair fails before megabytes are read. */
    if (labels_path) {
        st = src_open(&lb, labels_path, err);
        if (st != DN_OK) goto done;
        st = read_header(&lb, 1, ldims, err);
        if (st != DN_OK) goto done;
        if (ldims[0] != idims[0]) {
            st = dn_fail(err, DN_E_FORMAT, "%s: holds %u labels but %s holds %u images",
                         labels_path, ldims[0], images_path, idims[0]);
            goto done;
        }
    }
    uint64_t total = (uint64_t)idims[0] * idims[1] * idims[2];
    if (total > SIZE_MAX) {
        st = dn_fail(err, DN_E_UNSUPPORTED, "%s: %llu pixel bytes do not fit in memory",
                     images_path, (unsigned long long)total);
        goto done;
    }
    st = read_payload(&im, (size_t)total, "pixel", &pixels, err);
    if (st != DN_OK) goto done;
    if (labels_path) {
        st = read_payload(&lb, idims[0], "label", &labels, err);
        if (st != DN_OK) goto done;
        for (size_t i = 0; i < idims[0]; i++) {
            if (labels[i] > 9) {
                st = dn_fail(err, DN_E_FORMAT, "%s: label %u at index %zu is out of range 0..9",
                             labels_path, (unsigned)labels[i], i);
                goto done;
            }
        }
    }
    out->count = idims[0];
    out->rows = (int)idims[1];
    out->cols = (int)idims[2];
    out->images = pixels;
    out->labels = labels;
    pixels = labels = NULL;
done:
    free(pixels);
    free(labels);
    src_close(&im);
    src_close(&lb);
    return st;
}

/* Finds the first existing "<dir>/<stem><sep>idxN-ubyte[.gz]"; *path is malloc'd. */
static dn_status find_member(const char *dir, const char *stem, const char *idx, char **path,
                             dn_error *err) {
    static const char *const seps[] = {"-", "."};
    static const char *const exts[] = {"", ".gz"};
    size_t cap = strlen(dir) + strlen(stem) + strlen(idx) + 16;
    *path = malloc(cap);
    if (!*path) return dn_fail(err, DN_E_NOMEM, "%s: out of memory", dir);
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            snprintf(*path, cap, "%s/%s%s%s-ubyte%s", dir, stem, seps[i], idx, exts[j]);
            struct stat sb;
            if (stat(*path, &sb) == 0 && !S_ISDIR(sb.st_mode)) return DN_OK;
        }
    }
    snprintf(*path, cap, "%s/%s-%s-ubyte", dir, stem, idx);
    dn_status st = dn_fail(err, DN_E_IO,
                           "%s: not found (also tried the .gz suffix and the %s.%s-ubyte "
                           "spelling)",
                           *path, stem, idx);
    free(*path);
    *path = NULL;
    return st;
}

dn_status dn_mnist_load(const char *dir, const char *split, dn_dataset *out, dn_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!dir || !split || !out)
        return dn_fail(err, DN_E_ARG, "dn_mnist_load: directory, split and output are required");
    const char *prefix;
    if (strcmp(split, "train") == 0)
        prefix = "train";
    else if (strcmp(split, "test") == 0)
        prefix = "t10k";
    else
        return dn_fail(err, DN_E_ARG, "unknown split '%s' (expected 'train' or 'test')", split);

    char stem[32], *images = NULL, *labels = NULL;
    snprintf(stem, sizeof stem, "%s-images", prefix);
    dn_status st = find_member(dir, stem, "idx3", &images, err);
    if (st != DN_OK) return st;
    snprintf(stem, sizeof stem, "%s-labels", prefix);
    st = find_member(dir, stem, "idx1", &labels, err);
    if (st == DN_OK) st = dn_idx_load(images, labels, out, err);
    free(images);
    free(labels);
    return st;
}

/* ======================================================================== */
/* Saving                                                                   */
/* ======================================================================== */

/* Deflates header + body into one gzip member; *out is malloc'd. */
static dn_status gzip_buffers(const char *path, const unsigned char *hdr, size_t hdr_len,
                              const unsigned char *body, size_t body_len, unsigned char **out,
                              size_t *out_len, dn_error *err) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    *out = NULL;
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return dn_fail(err, DN_E_NOMEM, "%s: out of memory", path);
    size_t cap = deflateBound(&zs, (uLong)(hdr_len + body_len)) + 64, len = 0;
    unsigned char *buf = malloc(cap);
    const unsigned char *parts[2] = {hdr, body};
    size_t left[2] = {hdr_len, body_len};
    int rc = Z_OK;
    for (int part = 0; buf && part < 2 && rc != Z_STREAM_END;) {
        uInt take = left[part] > (1u << 30) ? (1u << 30) : (uInt)left[part];
        int last = part == 1 && take == left[part];
        zs.next_in = (unsigned char *)parts[part];
        zs.avail_in = take;
        do {
            if (len == cap) {
                /* deflateBound makes this unreachable, but never write past cap */
                unsigned char *nb = realloc(buf, cap * 2);
                if (!nb) {
                    free(buf);
                    buf = NULL;
                    break;
                }
                buf = nb;
                cap *= 2;
            }
            zs.next_out = buf + len;
            zs.avail_out = cap - len > UINT_MAX ? UINT_MAX : (uInt)(cap - len);
            uInt before = zs.avail_out;
            rc = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
            len += before - zs.avail_out;
        } while (rc != Z_STREAM_ERROR && (zs.avail_in > 0 || (last && rc != Z_STREAM_END)));
        if (rc == Z_STREAM_ERROR) break;
        parts[part] += take;
        left[part] -= take;
        if (left[part] == 0) part++;
    }
    deflateEnd(&zs);
    if (!buf) return dn_fail(err, DN_E_NOMEM, "%s: out of memory", path);
    if (rc != Z_STREAM_END) {
        free(buf);
        return dn_fail(err, DN_E_IO, "%s: gzip compression failed", path);
    }
    *out = buf;
    *out_len = len;
    return DN_OK;
}

/* Writes one IDX file: header of ndim dimensions, then body. */
static dn_status write_idx(const char *path, int ndim, const uint32_t *dims,
                           const unsigned char *body, size_t body_len, int gzip, dn_error *err) {
    unsigned char hdr[16] = {0, 0, IDX_UBYTE, (unsigned char)ndim};
    size_t hdr_len = 4 + 4 * (size_t)ndim;
    for (int i = 0; i < ndim; i++) dn_put_be32(hdr + 4 + 4 * i, dims[i]);
    unsigned char *file = NULL;
    size_t file_len = 0;
    dn_status st;
    if (gzip) {
        st = gzip_buffers(path, hdr, hdr_len, body, body_len, &file, &file_len, err);
        if (st != DN_OK) return st;
    } else {
        /* dn_write_atomic takes one buffer; a copy is cheaper than a second writer */
        file_len = hdr_len + body_len;
        file = malloc(file_len);
        if (!file) return dn_fail(err, DN_E_NOMEM, "%s: out of memory", path);
        memcpy(file, hdr, hdr_len);
        memcpy(file + hdr_len, body, body_len);
    }
    st = dn_write_atomic(path, file, file_len, err);
    free(file);
    return st;
}

dn_status dn_idx_save(const dn_dataset *ds, const char *images_path, const char *labels_path,
                      int gzip, dn_error *err) {
    if (!ds || !images_path)
        return dn_fail(err, DN_E_ARG, "dn_idx_save: dataset and images path are required");
    if (!ds->images || ds->count == 0)
        return dn_fail(err, DN_E_NODATA, "%s: the dataset holds no images", images_path);
    if (ds->count > IDX_MAX_ITEMS)
        return dn_fail(err, DN_E_ARG, "%s: %zu images exceed the limit of %u", images_path,
                       ds->count, IDX_MAX_ITEMS);
    if (ds->rows < 1 || ds->rows > (int)IDX_MAX_SIDE || ds->cols < 1 ||
        ds->cols > (int)IDX_MAX_SIDE)
        return dn_fail(err, DN_E_ARG, "%s: image size %dx%d is out of range 1..%u", images_path,
                       ds->rows, ds->cols, IDX_MAX_SIDE);
    if (labels_path && !ds->labels)
        return dn_fail(err, DN_E_ARG, "%s: the dataset has no labels to write", labels_path);
    if (labels_path) {
        /* refuse to write what dn_idx_load would reject */
        for (size_t i = 0; i < ds->count; i++)
            if (ds->labels[i] > 9)
                return dn_fail(err, DN_E_ARG, "%s: label %u at index %zu is out of range 0..9",
                               labels_path, (unsigned)ds->labels[i], i);
    }
    uint64_t total = (uint64_t)ds->count * (uint64_t)ds->rows * (uint64_t)ds->cols;
    if (total > SIZE_MAX - 16) return dn_fail(err, DN_E_ARG, "%s: dataset too large", images_path);
    uint32_t dims[3] = {(uint32_t)ds->count, (uint32_t)ds->rows, (uint32_t)ds->cols};
    dn_status st = write_idx(images_path, 3, dims, ds->images, (size_t)total, gzip, err);
    if (st != DN_OK || !labels_path) return st;
    return write_idx(labels_path, 1, dims, ds->labels, ds->count, gzip, err);
}
