/*
 * im2col.h — unrolls convolution windows into columns so a convolution
 * becomes one matrix product, and the adjoint that folds them back.
 *
 * For one image x [C, H, W], kernel k, stride s, padding p:
 *   OH = (H + 2p - k) / s + 1, OW likewise
 *   col [C*k*k, OH*OW]: col[(c*k + ki)*k + kj][oh*OW + ow] = x[c][oh*s+ki-p][ow*s+kj-p]
 *   (zero where the window leaves the image)
 * col2im ADDS each column entry back to the pixel it came from (dx must be
 * zeroed by the caller). dn_conv_naive is the direct 7-loop reference.
 */
#ifndef DN_IM2COL_H
#define DN_IM2COL_H

void dn_im2col(const float *x, int C, int H, int W, int k, int s, int p, float *col);
void dn_col2im(const float *col, int C, int H, int W, int k, int s, int p, float *dx);

/* y [OC, OH, OW] = conv(x [C, H, W], w [OC, C, k, k]) + b [OC]. */
void dn_conv_naive(const float *x, int C, int H, int W, const float *w, const float *b, int OC,
                   int k, int s, int p, float *y);

#endif
