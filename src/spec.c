/*
 * spec.c — parses architecture descriptions into layer configurations.
 *
 * Accepted forms (tokens separated by '-'):
 *   784-128-64-10        MLP: input size, hidden sizes, outputs; the default
 *                        activation goes after every hidden layer
 *   mlp, lenet5, cnn     presets (see dn_spec_preset)
 *   fcN | denseN         dense layer with N outputs
 *   relu sigmoid tanh    activations
 *   convKxKxC[sS][pP]    convolution: K x K kernel, C output channels,
 *                        stride S (1), padding P (0); "convKxKxCsame" pads K/2
 *   poolK[sS] | maxpoolK max pooling (stride defaults to K); avgpoolK
 *   dropP | dropoutP     dropout with probability P (0.5)
 *   bn | batchnorm       batch normalisation
 *   gap                  global average pooling; flatten
 *   deskew               straighten the slant of the input digit (moments)
 * A leading bare "784" in the compact form names the input and is skipped.
 * Unknown tokens are errors, never silently ignored.
 */
#include "spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *arch;
} presets[] = {
    {"tutorial", "784-10-10"},
    {"mlp", "784-128-64-10"},
    {"lenet5", "conv5x5x6p2-relu-pool2-conv5x5x16-relu-pool2-fc120-relu-fc84-relu-fc10"},
    /* The default CNN: two 3x3 conv blocks with batch norm, then a dense
     * head with dropout; cheap enough for a 2-core CPU, accurate with
     * augmentation. */
    {"cnn", "conv3x3x32p1-bn-relu-conv3x3x32p1-bn-relu-pool2-conv3x3x64p1-bn-relu-"
            "conv3x3x64p1-bn-relu-pool2-fc256-bn-relu-drop0.4-fc10"},
    /* The network of the PyTorch MNIST example, for benchmarks. */
    {"torchcnn", "conv3x3x32-relu-conv3x3x64-relu-pool2-drop0.25-fc128-relu-drop0.5-fc10"},
};

const char *dn_spec_preset(const char *name) {
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (!strcmp(presets[i].name, name)) return presets[i].arch;
    return NULL;
}

/* Reads a positive integer at *p, advancing it. */
static int read_int(const char **p, int *out) {
    if (!isdigit((unsigned char)**p)) return -1;
    errno = 0;
    char *end;
    long v = strtol(*p, &end, 10);
    if (errno || v <= 0 || v > 1 << 20) return -1;
    *p = end;
    *out = (int)v;
    return 0;
}

static int parse_act(const char *name, dn_layer_kind *out) {
    if (!strcmp(name, "relu"))
        *out = DN_L_RELU;
    else if (!strcmp(name, "sigmoid"))
        *out = DN_L_SIGMOID;
    else if (!strcmp(name, "tanh"))
        *out = DN_L_TANH;
    else
        return -1;
    return 0;
}

static int all_numeric(const char *s) {
    for (; *s; s++)
        if (!isdigit((unsigned char)*s) && *s != '-') return 0;
    return 1;
}

static dn_status push(dn_spec *s, dn_layer_cfg c, dn_error *err) {
    if (s->count >= DN_MAX_LAYERS)
        return dn_fail(err, DN_E_ARG, "architecture has more than %d layers", DN_MAX_LAYERS);
    s->layers[s->count++] = c;
    return DN_OK;
}

static dn_status parse_mlp(const char *arch, dn_layer_kind act, dn_spec *out, dn_error *err) {
    const char *p = arch;
    int sizes[DN_MAX_LAYERS], n = 0;
    while (*p) {
        if (n == DN_MAX_LAYERS || read_int(&p, &sizes[n]) != 0)
            return dn_fail(err, DN_E_ARG, "architecture '%s': expected sizes like 784-128-10",
                           arch);
        n++;
        if (*p == '-')
            p++;
        else if (*p)
            return dn_fail(err, DN_E_ARG, "architecture '%s': bad separator", arch);
    }
    if (n < 2)
        return dn_fail(err, DN_E_ARG, "architecture '%s': need input and output sizes", arch);
    if (sizes[0] != 784)
        return dn_fail(err, DN_E_ARG, "architecture '%s': input size must be 784 (28x28), not %d",
                       arch, sizes[0]);
    for (int i = 1; i < n; i++) {
        dn_status st = push(out, (dn_layer_cfg){.kind = DN_L_DENSE, .units = sizes[i]}, err);
        if (st == DN_OK && i < n - 1) st = push(out, (dn_layer_cfg){.kind = act}, err);
        if (st != DN_OK) return st;
    }
    return DN_OK;
}

static int parse_conv(const char *t, dn_layer_cfg *c) {
    const char *p = t + 4;
    int k1, k2;
    c->kind = DN_L_CONV;
    c->stride = 1;
    c->pad = 0;
    if (read_int(&p, &k1) || *p++ != 'x' || read_int(&p, &k2) || *p++ != 'x' ||
        read_int(&p, &c->ch) || k1 != k2)
        return -1;
    c->k = k1;
    while (*p) {
        if (!strcmp(p, "same")) {
            c->pad = c->k / 2;
            p += 4;
        } else if (*p == 's') {
            p++;
            if (read_int(&p, &c->stride)) return -1;
        } else if (*p == 'p') {
            p++;
            if (*p == '0') {
                c->pad = 0;
                p++;
            } else if (read_int(&p, &c->pad))
                return -1;
        } else
            return -1;
    }
    return 0;
}

static int parse_pool(const char *p, dn_layer_kind kind, dn_layer_cfg *c) {
    c->kind = kind;
    if (read_int(&p, &c->k)) return -1;
    c->stride = c->k;
    if (*p == 's') {
        p++;
        if (read_int(&p, &c->stride)) return -1;
    }
    return *p ? -1 : 0;
}

/* "dropP" with the fewest fixed-point decimals that read back as exactly
 * p (never an exponent, whose '-' would split the token): formatting and
 * parsing a spec give back the same floats, whatever p is. */
static void format_probability(char *t, size_t size, float p) {
    for (int d = 1; d <= 60; d++) {
        size_t n = (size_t)snprintf(t, size, "drop%.*f", d, (double)p);
        if (n >= size) break;
        if ((float)strtod(t + 4, NULL) != p) continue;
        while (n > 5 && t[n - 1] == '0') t[--n] = '\0';
        if (t[n - 1] == '.') t[--n] = '\0';
        return;
    }
    snprintf(t, size, "drop%.9f", (double)p); /* not reached for 0 <= p < 1 */
}

static int parse_token(const char *t, dn_layer_cfg *c) {
    memset(c, 0, sizeof *c);
    dn_layer_kind act;
    if (!parse_act(t, &act)) {
        c->kind = act;
        return 0;
    }
    if (!strncmp(t, "fc", 2) || !strncmp(t, "dense", 5)) {
        const char *p = t + (t[0] == 'f' ? 2 : 5);
        c->kind = DN_L_DENSE;
        return read_int(&p, &c->units) || *p ? -1 : 0;
    }
    if (!strncmp(t, "conv", 4)) return parse_conv(t, c);
    if (!strncmp(t, "maxpool", 7)) return parse_pool(t + 7, DN_L_MAXPOOL, c);
    if (!strncmp(t, "avgpool", 7)) return parse_pool(t + 7, DN_L_AVGPOOL, c);
    if (!strncmp(t, "pool", 4)) return parse_pool(t + 4, DN_L_MAXPOOL, c);
    if (!strncmp(t, "drop", 4)) {
        const char *p = t + (strncmp(t, "dropout", 7) ? 4 : 7);
        c->kind = DN_L_DROPOUT;
        c->p = 0.5f;
        if (!*p) return 0;
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        /* the check is on the float kept, so that 0.99999999 (which
         * rounds to 1) is refused rather than stored as 1 */
        if (errno || *end || !(v >= 0.0 && (float)v < 1.0f)) return -1;
        c->p = (float)v;
        return 0;
    }
    if (!strcmp(t, "bn") || !strcmp(t, "batchnorm"))
        c->kind = DN_L_BATCHNORM;
    else if (!strcmp(t, "gap"))
        c->kind = DN_L_GAP;
    else if (!strcmp(t, "flatten"))
        c->kind = DN_L_FLATTEN;
    else if (!strcmp(t, "deskew"))
        c->kind = DN_L_DESKEW;
    else
        return -1;
    return 0;
}

dn_status dn_spec_parse(const char *arch, const char *act, dn_spec *out, dn_error *err) {
    memset(out, 0, sizeof *out);
    if (!arch || !*arch) return dn_fail(err, DN_E_ARG, "empty architecture");
    if (strlen(arch) > 1024) return dn_fail(err, DN_E_ARG, "architecture string is too long");
    const char *preset = dn_spec_preset(arch);
    if (preset) arch = preset;
    dn_layer_kind actk = DN_L_RELU;
    if (act && parse_act(act, &actk))
        return dn_fail(err, DN_E_ARG, "unknown activation '%s' (relu, sigmoid, tanh)", act);
    if (all_numeric(arch)) return parse_mlp(arch, actk, out, err);

    char buf[1025];
    strcpy(buf, arch);
    int first = 1;
    for (char *save = NULL, *t = strtok_r(buf, "-", &save); t; t = strtok_r(NULL, "-", &save)) {
        if (first && !strcmp(t, "784")) {
            first = 0;
            continue;
        }
        first = 0;
        dn_layer_cfg c;
        if (parse_token(t, &c))
            return dn_fail(err, DN_E_ARG,
                           "architecture: unknown or malformed layer '%s' (see 'digitnet train "
                           "--help' for the syntax)",
                           t);
        dn_status st = push(out, c, err);
        if (st != DN_OK) return st;
    }
    if (out->count == 0) return dn_fail(err, DN_E_ARG, "architecture '%s' has no layers", arch);
    return DN_OK;
}

dn_status dn_spec_format(const dn_spec *s, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < s->count; i++) {
        const dn_layer_cfg *c = &s->layers[i];
        char t[64];
        switch (c->kind) {
        case DN_L_DENSE:
            snprintf(t, sizeof t, "fc%d", c->units);
            break;
        case DN_L_CONV:
            snprintf(t, sizeof t, "conv%dx%dx%d", c->k, c->k, c->ch);
            if (c->stride != 1) snprintf(t + strlen(t), sizeof t - strlen(t), "s%d", c->stride);
            if (c->pad != 0) snprintf(t + strlen(t), sizeof t - strlen(t), "p%d", c->pad);
            break;
        case DN_L_MAXPOOL:
        case DN_L_AVGPOOL:
            snprintf(t, sizeof t, "%s%d", c->kind == DN_L_MAXPOOL ? "pool" : "avgpool", c->k);
            if (c->stride != c->k) snprintf(t + strlen(t), sizeof t - strlen(t), "s%d", c->stride);
            break;
        case DN_L_DROPOUT:
            format_probability(t, sizeof t, c->p);
            break;
        case DN_L_RELU:
            strcpy(t, "relu");
            break;
        case DN_L_SIGMOID:
            strcpy(t, "sigmoid");
            break;
        case DN_L_TANH:
            strcpy(t, "tanh");
            break;
        case DN_L_BATCHNORM:
            strcpy(t, "bn");
            break;
        case DN_L_GAP:
            strcpy(t, "gap");
            break;
        case DN_L_FLATTEN:
            strcpy(t, "flatten");
            break;
        case DN_L_DESKEW:
            strcpy(t, "deskew");
            break;
        case DN_L_KINDS:
            return DN_E_ARG;
        }
        size_t len = strlen(t) + (i ? 1 : 0);
        if (used + len + 1 > size) return DN_E_ARG;
        if (i) buf[used++] = '-';
        memcpy(buf + used, t, strlen(t) + 1);
        used += strlen(t);
    }
    return DN_OK;
}
