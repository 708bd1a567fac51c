/*
 * modelfile.c — the .dnm model file: save (atomic) and load (validated).
 *
 * Layout, all integers little-endian, version 1 (version 2: see flags):
 *
 *   offset  size  field
 *   0       8     magic "DIGITNET"
 *   8       4     u32 format version: 1, or 2 when flags are written
 *   12      4     u32 flags: 0 in version 1 (not read); in version 2 bit 0
 *                 (DN_FILE_HALF) says the parameters are IEEE binary16, 2
 *                 bytes each (dn_model_save_half), and no other bit may be
 *                 set (flags 0 there is a float32 file)
 *   16      8     u64 parameter count P
 *   24      8     u64 state count S (batch-norm running statistics)
 *   32      4     u32 length A of the architecture string
 *   36      A     architecture, canonical form ("fc128-relu-fc64-relu-fc10")
 *           4     u32 number of metadata entries M (at most 4096)
 *           M x   { u32 key length, key bytes, u32 value length, value bytes }
 *           4*P   parameters, float32 (2*P, binary16, with DN_FILE_HALF), in layer
 *                 order (each layer: weights, biases)
 *           4*S   state, float32
 *           4     u32 CRC-32 (zlib polynomial) of every byte before it
 *
 * The architecture is rebuilt on load and must yield exactly P and S, so a
 * file cannot smuggle a buffer of the wrong size. The CRC is checked before
 * anything is parsed. The model section (from P to the state) is also the
 * model part of a training checkpoint: dn_model_put and dn_model_get write
 * and read it for both (binio.h: little-endian, byte by byte).
 */
#include "binio.h"
#include "model.h"

#include <math.h>
#include <string.h>

#define MAGIC "DIGITNET"
#define VERSION 1u
#define VERSION_FLAGS 2u
#define DN_FILE_HALF 1u
#define MAX_FILE ((size_t)1 << 30)
#define MAX_META 4096u
#define MAX_KEY 256u
#define MAX_VALUE (1u << 20)
/* No trained weight or statistic comes near this; a file whose values do
 * (or are NaN or infinite) would make every output NaN or overflow. */
#define MAX_MAGNITUDE 1e6f

/* ------------------------------------------------------- the model section */

void dn_model_put(dn_bw *w, const dn_model *m, int half) {
    dn_bw_u64(w, m->nparams);
    dn_bw_u64(w, m->nstate);
    dn_bw_str(w, m->arch);
    dn_bw_u32(w, (uint32_t)m->nmeta);
    for (size_t i = 0; i < m->nmeta; i++) {
        dn_bw_str(w, m->meta[i].key);
        dn_bw_str(w, m->meta[i].value);
    }
    if (half)
        dn_bw_halves(w, m->params, m->nparams);
    else
        dn_bw_floats(w, m->params, m->nparams);
    dn_bw_floats(w, m->state, m->nstate);
}

static dn_status parse_meta(dn_br *r, dn_model *m, const char *path, dn_error *err) {
    uint32_t count = dn_br_u32(r);
    if (r->bad || count > MAX_META)
        return dn_fail(err, DN_E_FORMAT, "%s: bad metadata count", path);
    for (uint32_t i = 0; i < count; i++) {
        char *k = dn_br_str(r, MAX_KEY), *v = k ? dn_br_str(r, MAX_VALUE) : NULL;
        if (!v) {
            free(k);
            return dn_fail(err, DN_E_FORMAT, "%s: metadata entry %u is malformed", path, i);
        }
        dn_status st = dn_model_set_meta(m, k, v);
        if (st == DN_E_ARG && !*k)
            st = dn_fail(err, DN_E_FORMAT, "%s: metadata entry %u has an empty key", path, i);
        else if (st == DN_E_ARG) /* the one checked value */
            st = dn_fail(err, DN_E_FORMAT,
                         "%s: metadata temperature = '%.40s' is not a number in %g..%g", path, v,
                         DN_TEMPERATURE_MIN, DN_TEMPERATURE_MAX);
        else if (st != DN_OK)
            st = dn_fail(err, st, "%s: out of memory", path);
        free(k);
        free(v);
        if (st != DN_OK) return st;
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

/* The architecture, rebuilt and checked against the declared sizes before
 * anything that size is allocated from the file's numbers. */
static dn_status get_model_head(dn_br *r, int half, const char *path, dn_model **out,
                                dn_error *err) {
    uint64_t np = dn_br_u64(r), ns = dn_br_u64(r);
    char *arch = dn_br_str(r, 1023);
    if (r->bad) return dn_fail(err, DN_E_FORMAT, "%s: header is malformed", path);
    size_t left = dn_br_left(r), pb = half ? 2 : 4; /* bytes per parameter */
    if (np > left / pb || ns > left / 4 || pb * np + 4 * ns > left) {
        free(arch);
        return dn_fail(err, DN_E_FORMAT, "%s: declares %llu parameters, more than the file holds",
                       path, (unsigned long long)np);
    }
    dn_spec spec;
    dn_status st = dn_spec_parse(arch, NULL, &spec, err);
    if (st == DN_OK) st = dn_model_build(&spec, out, err);
    if (st != DN_OK) {
        st = dn_fail(err, st == DN_E_NOMEM ? st : DN_E_FORMAT,
                     "%s: architecture '%.200s' is not valid", path, arch);
        free(arch);
        return st;
    }
    dn_model *m = *out;
    if (m->nparams != np || m->nstate != ns)
        st = dn_fail(err, DN_E_FORMAT,
                     "%s: architecture '%.200s' needs %zu parameters and %zu state values but "
                     "the file declares %llu and %llu",
                     path, arch, m->nparams, m->nstate, (unsigned long long)np,
                     (unsigned long long)ns);
    free(arch);
    return st;
}

dn_status dn_model_get(dn_br *r, int exact, int half, const char *path, dn_model **out,
                       dn_error *err) {
    *out = NULL;
    dn_model *m = NULL;
    dn_status st = get_model_head(r, half, path, &m, err);
    if (st == DN_OK) st = parse_meta(r, m, path, err);
    size_t tensors = m ? (half ? 2 : 4) * m->nparams + 4 * m->nstate : 0;
    if (st == DN_OK && (exact ? dn_br_left(r) != tensors : dn_br_left(r) < tensors))
        st = dn_fail(err, DN_E_FORMAT, "%s: expected %zu bytes of tensors, found %zu", path,
                     tensors, dn_br_left(r));
    if (st == DN_OK) {
        if (half)
            dn_br_halves(r, m->params, m->nparams);
        else
            dn_br_floats(r, m->params, m->nparams);
        dn_br_floats(r, m->state, m->nstate);
        st = check_values(m, path, err);
    }
    if (st != DN_OK) {
        dn_model_free(m);
        return st;
    }
    *out = m;
    return DN_OK;
}

/* ---------------------------------------------------------------- the file */

static dn_status save(const dn_model *m, const char *path, int half, dn_error *err) {
    dn_bw w = {.fd = -1};
    dn_bw_put(&w, MAGIC, 8);
    dn_bw_u32(&w, half ? VERSION_FLAGS : VERSION);
    dn_bw_u32(&w, half ? DN_FILE_HALF : 0);
    dn_model_put(&w, m, half);
    if (!w.err) dn_bw_u32(&w, dn_checksum(w.buf, w.used));
    if (w.err) {
        free(w.buf);
        return dn_fail(err, DN_E_NOMEM, "%s: out of memory while serialising", path);
    }
    dn_status st = dn_write_atomic(path, w.buf, w.used, err);
    free(w.buf);
    return st;
}

dn_status dn_model_save(const dn_model *m, const char *path, dn_error *err) {
    return save(m, path, 0, err);
}

dn_status dn_model_save_half(const dn_model *m, const char *path, dn_error *err) {
    if (!m || !path) return dn_fail(err, DN_E_ARG, "need a model and a path");
    for (size_t i = 0; i < m->nparams; i++)
        if (!(fabsf(m->params[i]) <= 65504.0f))
            return dn_fail(err, DN_E_ARG,
                           "%s: parameter %zu = %g does not fit in 16 bits (at most 65504 in "
                           "size); save it as float32",
                           path, i, (double)m->params[i]);
    return save(m, path, 1, err);
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
    dn_br r = {data, size, 8, 0};
    uint32_t version = dn_br_u32(&r);
    uint32_t flags = dn_br_u32(&r); /* version 1 ignores them (always 0) */
    if (size < 44 || r.bad) {
        free(data);
        return dn_fail(err, DN_E_FORMAT, "%s: truncated model file (%zu bytes)", path, size);
    }
    if (version != VERSION && version != VERSION_FLAGS) {
        free(data);
        return dn_fail(err, DN_E_UNSUPPORTED,
                       "%s: model format version %u, this digitnet reads versions %u and %u%s",
                       path, version, VERSION, VERSION_FLAGS,
                       version > VERSION_FLAGS ? " (made by a newer digitnet)" : "");
    }
    if (version == VERSION_FLAGS && (flags & ~DN_FILE_HALF)) {
        free(data);
        return dn_fail(err, DN_E_UNSUPPORTED,
                       "%s: model flags 0x%x name a storage this digitnet does not know (made by a "
                       "newer digitnet?)",
                       path, (unsigned)flags);
    }
    dn_br tail = {data, size, size - 4, 0};
    if (dn_br_u32(&tail) != dn_checksum(data, size - 4)) {
        free(data);
        return dn_fail(err, DN_E_FORMAT,
                       "%s: checksum mismatch: the file is corrupt or truncated; retrain or "
                       "copy it again",
                       path);
    }
    r.len = size - 4;
    st = dn_model_get(&r, 1, version == VERSION_FLAGS && (flags & DN_FILE_HALF), path, out, err);
    free(data);
    return st;
}
