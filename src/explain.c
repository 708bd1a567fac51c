/*
 * explain.c — looking inside a model for one image: every layer's output,
 * the first layer's weights as pictures, and a saliency map.
 *
 * The saliency map is the gradient of the top class's logit z_top with
 * respect to the input pixels, dz_top/dx [784], computed by the same
 * backward pass as training (dn_exec_backward_from with a one-hot dL/dz) in
 * inference mode: dropout is the identity and batch norm uses its running
 * statistics. Pixels whose change would raise the winning score most have
 * the largest values.
 *
 * That gradient is honest but diffuse: a "1" is recognised as much by the
 * empty space beside its stroke (where ink would lower the score) as by the
 * stroke. dn_explain_guided runs guided backpropagation for the same class:
 * the same backward pass, except that every ReLU also stops negative
 * gradients, so only paths through units that both fired and pushed the
 * score up reach the input; its positive part lies on the strokes that
 * drove the decision.
 *
 * A dn_explain owns a one-image executor that keeps backward data and a
 * scratch gradient buffer; nothing is allocated per call.
 */
#include "model.h"

#include <string.h>

struct dn_explain {
    const dn_model *m;
    dn_exec exec;
    float *grad; /* parameter gradients, discarded */
    float x[784];
    int ran, top;
};

dn_status dn_explain_create(const dn_model *m, dn_explain **out, dn_error *err) {
    *out = NULL;
    dn_explain *e = calloc(1, sizeof *e);
    if (!e) return dn_fail(err, DN_E_NOMEM, "out of memory");
    e->m = m;
    dn_status st = dn_exec_init(&e->exec, m, 1, 1, DN_EXEC_TRAIN, err);
    if (st == DN_OK && !(e->grad = dn_calloc(m->nparams, sizeof(float))))
        st = dn_fail(err, DN_E_NOMEM, "out of memory");
    if (st != DN_OK) {
        dn_explain_free(e);
        return st;
    }
    *out = e;
    return DN_OK;
}

void dn_explain_free(dn_explain *e) {
    if (!e) return;
    dn_exec_free(&e->exec);
    free(e->grad);
    free(e);
}

dn_status dn_explain_run(dn_explain *e, const float *x, float *probs, float *saliency,
                         dn_error *err) {
    memcpy(e->x, x, sizeof e->x);
    dn_exec_forward(&e->exec, e->x, NULL, 1, 0, NULL, NULL);
    memcpy(probs, e->exec.probs, sizeof(float) * DN_CLASSES);
    int top = 0;
    for (int j = 1; j < DN_CLASSES; j++)
        if (probs[j] > probs[top]) top = j;
    float onehot[DN_CLASSES] = {0};
    onehot[top] = 1.0f;
    dn_exec_backward_from(&e->exec, e->x, onehot, 1, e->grad, saliency, 0, 0);
    e->ran = 1;
    e->top = top;
    return DN_OK;
}

dn_status dn_explain_guided(dn_explain *e, float *guided, dn_error *err) {
    if (!e->ran) return dn_fail(err, DN_E_ARG, "dn_explain_guided needs a dn_explain_run first");
    float onehot[DN_CLASSES] = {0};
    onehot[e->top] = 1.0f;
    dn_exec_backward_from(&e->exec, e->x, onehot, 1, e->grad, guided, 0, 1);
    return DN_OK;
}

int dn_explain_layer_count(const dn_explain *e) {
    return e->m->nlayers;
}

dn_tensor_view dn_explain_layer(const dn_explain *e, int i) {
    dn_tensor_view v = {0};
    if (!e->ran || i < 0 || i >= e->m->nlayers) return v;
    const dn_layer *l = &e->m->layers[i];
    v.name = l->ops->name;
    v.c = l->out.c;
    v.h = l->out.h;
    v.w = l->out.w;
    v.data = e->exec.act[i + 1];
    return v;
}

dn_tensor_view dn_model_first_weights(const dn_model *m) {
    dn_tensor_view v = {0};
    for (int i = 0; i < m->nlayers; i++) {
        const dn_layer *l = &m->layers[i];
        if (l->cfg.kind == DN_L_DENSE && dn_shape_size(l->in) == 784) {
            v = (dn_tensor_view){l->ops->name, l->cfg.units, 28, 28, l->w};
            return v;
        }
        if (l->cfg.kind == DN_L_CONV && l->in.c == 1) {
            v = (dn_tensor_view){l->ops->name, l->cfg.ch, l->cfg.k, l->cfg.k, l->w};
            return v;
        }
        if (l->nparams) break; /* the input has been transformed: no pictures */
    }
    return v;
}
