/*
 * fuzz_image.c — fuzz target for dn_image_decode (PNG, JPEG, PGM/PPM from
 * memory) followed by dn_image_normalize (the MNIST-style pipeline).
 *
 * Input layout: byte 0 holds flags, the rest is the image file.
 *   bit 0  the harness recomputes the CRC of every PNG chunk first, so
 *          mutated headers, palettes and transparency reach the decoder
 *          instead of stopping at libpng's checksum test
 *
 * Checks: no crash, leak or undefined behaviour; on failure the image is
 * left empty; a decoded image has a positive size of at most 50 megapixels
 * and readable pixels, re-encodes as PNG and decodes back to the same
 * pixels (for images up to 64K pixels, to keep executions fast); dn_image_normalize
 * either fails with "no ink" (or out of memory) or yields a 28x28 digit
 * stretched to full contrast (its brightest pixel is 255).
 */
#include "fuzz_common.h"

/* Encoding as PNG and decoding again must be lossless. */
static void image_roundtrip(const dn_image *img) {
    if ((size_t)img->width * (size_t)img->height > ((size_t)1 << 16)) return;
    unsigned char *png = NULL;
    size_t png_size = 0;
    dn_error err = {{0}};
    dn_status st = dn_png_encode_gray(img->pixels, img->width, img->height, &png, &png_size, &err);
    FUZZ_CHECK(st == DN_OK && png != NULL && png_size > 8);
    dn_image back;
    st = dn_image_decode(png, png_size, &back, &err);
    FUZZ_CHECK(st == DN_OK);
    FUZZ_CHECK(back.width == img->width && back.height == img->height);
    FUZZ_CHECK(memcmp(back.pixels, img->pixels, (size_t)img->width * (size_t)img->height) == 0);
    dn_image_free(&back);
    free(png);
}

int fuzz_one_image(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned flags = data[0];
    size_t n = size - 1;
    uint8_t *file = fuzz_copy(data + 1, n);
    if (flags & 1) fuzz_png_fix_crcs(file, n);

    dn_image img;
    memset(&img, 0xa5, sizeof img); /* the decoder must clear it */
    dn_error err = {{0}};
    dn_status st = dn_image_decode(file, n, &img, &err);
    free(file);
    if (st != DN_OK) {
        fuzz_check_failure(st, &err);
        FUZZ_CHECK(img.pixels == NULL && img.width == 0 && img.height == 0);
        return 0;
    }
    FUZZ_CHECK(img.pixels != NULL && img.width > 0 && img.height > 0);
    size_t pixels = (size_t)img.width * (size_t)img.height;
    FUZZ_CHECK(pixels <= 50000000u);
    fuzz_touch(img.pixels, pixels);
    image_roundtrip(&img);

    unsigned char out[784];
    st = dn_image_normalize(&img, out, &err);
    if (st != DN_OK) {
        fuzz_check_failure(st, &err);
        FUZZ_CHECK(st == DN_E_NODATA || st == DN_E_NOMEM);
    } else {
        unsigned char mx = 0;
        for (int i = 0; i < 784; i++)
            if (out[i] > mx) mx = out[i];
        FUZZ_CHECK(mx == 255);
    }
    dn_image_free(&img);
    FUZZ_CHECK(img.pixels == NULL);
    return 0;
}

#ifndef DN_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_one_image(data, size);
}
#endif
