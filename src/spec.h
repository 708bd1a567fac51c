/*
 * spec.h — architecture strings: presets, the compact layer syntax, and
 * the canonical form stored in model files. See docs/architecture.md.
 */
#ifndef DN_SPEC_H
#define DN_SPEC_H

#include "layers/layer.h"

#define DN_MAX_LAYERS 64

typedef struct dn_spec {
    int count;
    dn_layer_cfg layers[DN_MAX_LAYERS];
} dn_spec;

/* Parses arch (a preset name, "784-128-64-10", or compact tokens) with the
 * default activation act ("relu", "sigmoid", "tanh"; NULL = relu) for the
 * bare-number MLP form. */
dn_status dn_spec_parse(const char *arch, const char *act, dn_spec *out, dn_error *err);

/* Writes the canonical string ("fc128-relu-fc10", "conv5x5x32p2-...") into
 * buf; returns DN_E_ARG when it does not fit. */
dn_status dn_spec_format(const dn_spec *s, char *buf, size_t size);

/* The expansion of a preset name, or NULL. */
const char *dn_spec_preset(const char *name);

#endif
