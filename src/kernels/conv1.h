/*
 * conv1.h — direct convolution of one-channel images at stride 1 (a
 * network's first layer), without im2col: the column matrix of a 5x5
 * window over a 28x28 image is 25 times the image, written and read again
 * for a product with only a few output channels.
 *
 * For x [H, W], kernel k, padding p: OH = H + 2p - k + 1, OW likewise;
 * y [OC, OH, OW] and w [OC, k, k] as in im2col.h with C = 1. The image is
 * first copied, zero-padded, into xp, DN_CONV1_PAD floats at most.
 */
#ifndef DN_CONV1_H
#define DN_CONV1_H

#define DN_CONV1_PAD 4096

/* 1 when an H x W image padded by p fits xp and k <= 16. */
int dn_conv1_fits(int H, int W, int k, int p);

/* y = conv(x, w) + b. */
void dn_conv1_forward(const float *x, int H, int W, int k, int p, const float *w, const float *b,
                      int OC, float *y);

/* gw [OC, k, k] += the correlation of the image with dy [OC, OH, OW]. */
void dn_conv1_weight_grad(const float *x, int H, int W, int k, int p, const float *dy, int OC,
                          float *gw);

#endif
