/*
 * draw.h — pictures for predict and show: 28x28 digits drawn in the terminal
 * with Unicode half blocks, 8-bit grayscale canvases with a built-in 5x7
 * bitmap font (saved as PNG by the caller), and an SVG plot of training
 * curves.
 *
 * Nothing here opens files or exits; output goes to a FILE* or to memory
 * the caller frees.
 */
#ifndef DN_CLI_DRAW_H
#define DN_CLI_DRAW_H

#include "digitnet.h"

#include <stddef.h>
#include <stdio.h>

/* ---------------------------------------------------------------- terminal */

/* Colour mode of terminal drawings: DRAW_COLOR_AUTO picks colour when the
 * stream is a terminal and NO_COLOR is unset. */
enum { DRAW_COLOR_AUTO, DRAW_COLOR_ALWAYS, DRAW_COLOR_NEVER };

/* Parses "auto", "always" or "never"; returns -1 for anything else. */
int draw_color_parse(const char *s);

/* 1 when drawings on `out` should use ANSI 256-colour grays. */
int draw_use_color(FILE *out, int mode);

/* Width of the terminal in columns ($COLUMNS, the tty, else 80). */
int draw_term_width(FILE *out);

/* Draws n images of rows x cols pixels (0 = background, 255 = ink) side by
 * side, as many per line as fit in `width` columns, each under its caption
 * (cut to the image width; captions NULL means no caption line). One text line holds two pixel
 * rows: colour mode uses "▀" with 256-colour grays, plain mode uses half
 * blocks and shades. */
void draw_term_images(FILE *out, const unsigned char *const *images, const char *const *captions,
                      int n, int rows, int cols, int color, int width);

/* ---------------------------------------------------------------- canvas */

/* An 8-bit grayscale picture, row-major, 0 = black. */
typedef struct draw_canvas {
    int w, h;
    unsigned char *px;
} draw_canvas;

/* Allocates a w x h canvas filled with `bg`; returns -1 when out of memory
 * or when the size is not in 1..16384 on each side. */
int draw_canvas_init(draw_canvas *c, int w, int h, unsigned char bg);
void draw_canvas_free(draw_canvas *c);

/* Fills a rectangle (clipped to the canvas). */
void draw_rect(draw_canvas *c, int x, int y, int w, int h, unsigned char v);

/* Draws an image of rows x cols pixels at (x, y), each pixel a scale x scale
 * block, as stored (white ink on black for MNIST data). */
void draw_image(draw_canvas *c, int x, int y, const unsigned char *img, int rows, int cols,
                int scale);

/* Text in the 5x7 font: digits, letters (lower case drawn as upper case),
 * space and  > : . % - / # ? ( ) +  ; other characters draw as '?'.
 * Each glyph is 6*scale wide (one column of spacing) and 7*scale high.
 * Returns the drawn width. */
int draw_text(draw_canvas *c, int x, int y, const char *s, int scale, unsigned char v);
int draw_text_width(const char *s, int scale);

/* ---------------------------------------------------------------- SVG plot */

/* Renders the loss (log scale when it spans more than a factor 20) and the
 * train/validation accuracy per epoch as a standalone SVG document in a
 * malloc'd string; best_epoch > 0 is marked. NULL when out of memory. */
char *draw_curves_svg(const dn_epoch_record *h, size_t n, int best_epoch, const char *title);

#endif
