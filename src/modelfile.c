/*
 * modelfile.c — the .dnm model file: save (atomic) and load (validated).
 *
 * Layout, all integers little-endian, version 1:
 *
 *   offset  size  field
 *   0       8     magic "DIGITNET"
 *   8       4     u32 format version (1)
 *   12      4     u32 flags (0; reserved)
 *   16      8     u64 parameter count P
 *   24      8     u64 state count S (batch-norm running statistics)
 *   32      4     u32 length A of the architecture string
 *   36      A     architecture, canonical form ("fc128-relu-fc64-relu-fc10")
 *           4     u32 number of metadata entries M (at most 4096)
 *           M x   { u32 key length, key bytes, u32 value length, value bytes }
 *           4*P   parameters, float32, in layer order (each layer: weights, biases)
 *           4*S   state, float32
 *           4     u32 CRC-32 (zlib polynomial) of every byte before it
 *
 * The architecture is rebuilt on load and must yield exactly P and S, so a
 * file cannot smuggle a buffer of the wrong size. The CRC is checked before
 * anything is parsed. Floats are written byte by byte in little-endian
 * order, so files move between machines unchanged.
 */
#include "model.h"

#include <math.h>
#include <string.h>
#include <zlib.h>

#define MAGIC "DIGITNET"
#define VERSION 1u
#define MAX_FILE ((size_t)1 << 30)
#define MAX_META 4096u
#define MAX_KEY 256u
#define MAX_VALUE (1u << 20)
/* No trained weight or statistic comes near this; a file whose values do
 * (or are NaN or infinite) would make every output NaN or overflow. */
#define MAX_MAGNITUDE 1e6f

typedef struct wbuf {
    unsigned char *p;
    size_t len, cap;
    int failed;
} wbuf;

static void put(wbuf *b, const void *data, size_t n) {
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = (b->cap ? b->cap : 4096);
        while (cap < b->len + n) cap *= 2;
        unsigned char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_u32(wbuf *b, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(b, x, 4);
}

static void put_u64(wbuf *b, uint64_t v) {
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_str(wbuf *b, const char *s) {
    size_t n = strlen(s);
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

static void put_floats(wbuf *b, const float *f, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &f[i], 4);
        put_u32(b, u);
    }
}

dn_status dn_model_save(const dn_model *m, const char *path, dn_error *err) {
    wbuf b = {0};
    put(&b, MAGIC, 8);
    put_u32(&b, VERSION);
    put_u32(&b, 0);
    put_u64(&b, m->nparams);
    put_u64(&b, m->nstate);
    put_str(&b, m->arch);
    put_u32(&b, (uint32_t)m->nmeta);
    for (size_t i = 0; i < m->nmeta; i++) {
        put_str(&b, m->meta[i].key);
        put_str(&b, m->meta[i].value);
    }
    put_floats(&b, m->params, m->nparams);
    put_floats(&b, m->state, m->nstate);
    if (!b.failed) put_u32(&b, (uint32_t)crc32(0L, b.p, (uInt)b.len));
    if (b.failed) {
        free(b.p);
        return dn_fail(err, DN_E_NOMEM, "%s: out of memory while serialising", path);
    }
    dn_status st = dn_write_atomic(path, b.p, b.len, err);
    free(b.p);
    return st;
}

/* ---------------------------------------------------------------- loading */

typedef struct rbuf {
    const unsigned char *p;
    size_t len, pos;
} rbuf;

static int get_u32(rbuf *r, uint32_t *v) {
    if (r->len - r->pos < 4) return -1;
    const unsigned char *x = r->p + r->pos;
    *v = (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
    r->pos += 4;
    return 0;
}

static int get_u64(rbuf *r, uint64_t *v) {
    uint32_t lo, hi;
    if (get_u32(r, &lo) || get_u32(r, &hi)) return -1;
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

/* Reads a length-prefixed string of at most max bytes into a new buffer. */
static int get_str(rbuf *r, uint32_t max, char **out) {
    uint32_t n;
    if (get_u32(r, &n) || n > max || r->len - r->pos < n) return -1;
    if (memchr(r->p + r->pos, 0, n)) return -1;
    *out = malloc((size_t)n + 1);
    if (!*out) return -1;
    memcpy(*out, r->p + r->pos, n);
    (*out)[n] = 0;
    r->pos += n;
    return 0;
}

static void get_floats(rbuf *r, float *f, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u = 0;
        get_u32(r, &u);
        memcpy(&f[i], &u, 4);
    }
}

static dn_status parse_meta(rbuf *r, dn_model *m, const char *path, dn_error *err) {
    uint32_t count;
    if (get_u32(r, &count) || count > MAX_META)
        return dn_fail(err, DN_E_FORMAT, "%s: bad metadata count", path);
    for (uint32_t i = 0; i < count; i++) {
        char *k = NULL, *v = NULL;
        if (get_str(r, MAX_KEY, &k) || get_str(r, MAX_VALUE, &v)) {
            free(k);
            return dn_fail(err, DN_E_FORMAT, "%s: metadata entry %u is malformed", path, i);
        }
        dn_status st = dn_model_set_meta(m, k, v);
        free(k);
        free(v);
        if (st != DN_OK) return dn_fail(err, st, "%s: out of memory", path);
    }
    return DN_OK;
}

/* Every parameter and state value finite and at most MAX_MAGNITUDE in
 * size, batch norm's running variances not negative. */
static dn_status check_values(const dn_model *m, const char *path, dn_error *err) {
    for (int li = 0; li < m->nlayers; li++) {
        const dn_layer *l = &m->layers[li];
        for (size_t i = 0; i < l->nparams + l->nstate; i++) {
            int is_state = i >= l->nparams;
            float v = is_state ? l->state[i - l->nparams] : l->w[i];
            int var = is_state && l->cfg.kind == DN_L_BATCHNORM && i - l->nparams >= l->nstate / 2;
            if (!(fabsf(v) <= MAX_MAGNITUDE) || (var && v < 0))
                return dn_fail(err, DN_E_FORMAT,
                               "%s: layer %d (%s) has %s %zu = %g; a model's values must be "
                               "finite and at most %g in size%s",
                               path, li + 1, l->ops->name, is_state ? "state value" : "parameter",
                               is_state ? i - l->nparams : i, (double)v, (double)MAX_MAGNITUDE,
                               var ? ", variances not negative" : "");
        }
    }
    return DN_OK;
}

static dn_status parse_model(const unsigned char *data, size_t size, const char *path,
                             dn_model **out, dn_error *err) {
    rbuf r = {data, size - 4, 16};
    uint64_t np, ns;
    char *arch = NULL;
    if (get_u64(&r, &np) || get_u64(&r, &ns) || get_str(&r, 1023, &arch))
        return dn_fail(err, DN_E_FORMAT, "%s: header is malformed", path);
    if (np > size / 4 || ns > size / 4 || 4 * (np + ns) > size) {
        free(arch);
        return dn_fail(err, DN_E_FORMAT, "%s: declares %llu parameters, more than the file holds",
                       path, (unsigned long long)np);
    }
    dn_spec spec;
    dn_status st = dn_spec_parse(arch, NULL, &spec, err);
    if (st == DN_OK) st = dn_model_build(&spec, out, err);
    if (st != DN_OK) {
        dn_status r2 =
            dn_fail(err, DN_E_FORMAT, "%s: architecture '%.200s' is not valid", path, arch);
        free(arch);
        return r2;
    }
    dn_model *m = *out;
    if (m->nparams != np || m->nstate != ns) {
        st = dn_fail(err, DN_E_FORMAT,
                     "%s: architecture '%.200s' needs %zu parameters and %zu state values but "
                     "the file declares %llu and %llu",
                     path, arch, m->nparams, m->nstate, (unsigned long long)np,
                     (unsigned long long)ns);
    }
    free(arch);
    if (st == DN_OK) st = parse_meta(&r, m, path, err);
    if (st == DN_OK && r.len - r.pos != 4 * (np + ns))
        st = dn_fail(err, DN_E_FORMAT, "%s: expected %llu bytes of tensors, found %zu", path,
                     (unsigned long long)(4 * (np + ns)), r.len - r.pos);
    if (st != DN_OK) {
        dn_model_free(m);
        *out = NULL;
        return st;
    }
    get_floats(&r, m->params, m->nparams);
    get_floats(&r, m->state, m->nstate);
    st = check_values(m, path, err);
    if (st != DN_OK) {
        dn_model_free(m);
        *out = NULL;
    }
    return st;
}

dn_status dn_model_load(const char *path, dn_model **out, dn_error *err) {
    unsigned char *data;
    size_t size;
    *out = NULL;
    dn_status st = dn_read_file(path, MAX_FILE, &data, &size, err);
    if (st != DN_OK) return st;
    if (size < 8 || memcmp(data, MAGIC, 8) != 0) {
        free(data);
        return dn_fail(err, DN_E_FORMAT, "%s: not a digitnet model file (bad magic)", path);
    }
    rbuf r = {data, size, 8};
    uint32_t version, flags, crc;
    if (size < 44 || get_u32(&r, &version) || get_u32(&r, &flags)) {
        free(data);
        return dn_fail(err, DN_E_FORMAT, "%s: truncated model file (%zu bytes)", path, size);
    }
    if (version != VERSION) {
        free(data);
        return dn_fail(err, DN_E_UNSUPPORTED,
                       "%s: model format version %u, this digitnet reads version %u%s", path,
                       version, VERSION, version > VERSION ? " (made by a newer digitnet)" : "");
    }
    r.pos = size - 4;
    get_u32(&r, &crc);
    if (crc != (uint32_t)crc32(0L, data, (uInt)(size - 4))) {
        free(data);
        return dn_fail(err, DN_E_FORMAT,
                       "%s: checksum mismatch: the file is corrupt or truncated; retrain or "
                       "copy it again",
                       path);
    }
    st = parse_model(data, size, path, out, err);
    free(data);
    return st;
}
