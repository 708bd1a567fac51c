/*
 * augment.h — on-the-fly distortions of 28x28 training images.
 */
#ifndef DN_AUGMENT_H
#define DN_AUGMENT_H

#include "internal.h"

/* 1 when any augmentation is switched on in o. */
int dn_augment_enabled(const dn_train_opts *o);

/* dst [784] = a random affine (shift, rotation, scale) and optionally
 * elastic distortion of src [784], sampled bilinearly; all randomness from
 * rng. scratch: at least 3*784 floats.  Each call draws, in this order and
 * whichever are switched on, u = dn_rng_uniform(rng) for the rotation, the
 * scale, the shift in x and the shift in y (each value (2u - 1) * max), then
 * the elastic field: so the same seed gives the same distortion. */
void dn_augment(const dn_train_opts *o, dn_rng *rng, const float *src, float *dst, float *scratch);

#endif
