/*
 * registry.c — which ops table implements each layer kind (layer.h): the
 * one place a new kind is registered.
 */
#include "layers/layer.h"

const dn_layer_ops *dn_layer_ops_for(dn_layer_kind kind) {
    switch (kind) {
    case DN_L_DENSE:
        return &dn_dense_ops;
    case DN_L_RELU:
        return &dn_relu_ops;
    case DN_L_SIGMOID:
        return &dn_sigmoid_ops;
    case DN_L_TANH:
        return &dn_tanh_ops;
    case DN_L_CONV:
        return &dn_conv_ops;
    case DN_L_MAXPOOL:
        return &dn_maxpool_ops;
    case DN_L_AVGPOOL:
        return &dn_avgpool_ops;
    case DN_L_DROPOUT:
        return &dn_dropout_ops;
    case DN_L_BATCHNORM:
        return &dn_batchnorm_ops;
    case DN_L_GAP:
        return &dn_gap_ops;
    case DN_L_FLATTEN:
        return &dn_flatten_ops;
    case DN_L_DESKEW:
        return &dn_deskew_ops;
    case DN_L_KINDS:
        break;
    }
    return NULL;
}
