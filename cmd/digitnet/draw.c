/*
 * draw.c — terminal drawings of digits, grayscale canvases with a 5x7
 * bitmap font, and the SVG training-curve plot (see draw.h).
 *
 * Does not open files or exit. The font is a small hand-made table: digits,
 * upper-case letters and a few symbols, enough for labels and titles.
 */
#include "draw.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ======================================================================== */
/* Terminal                                                                 */
/* ======================================================================== */

int draw_color_parse(const char *s) {
    if (!strcmp(s, "auto")) return DRAW_COLOR_AUTO;
    if (!strcmp(s, "always")) return DRAW_COLOR_ALWAYS;
    if (!strcmp(s, "never")) return DRAW_COLOR_NEVER;
    return -1;
}

int draw_use_color(FILE *out, int mode) {
    if (mode != DRAW_COLOR_AUTO) return mode == DRAW_COLOR_ALWAYS;
    const char *no = getenv("NO_COLOR"), *term = getenv("TERM");
    if (no && *no) return 0;
    if (term && !strcmp(term, "dumb")) return 0;
    return isatty(fileno(out));
}

int draw_term_width(FILE *out) {
    const char *env = getenv("COLUMNS");
    if (env) {
        int v = atoi(env);
        if (v >= 20 && v <= 1000) return v;
    }
    struct winsize ws;
    if (isatty(fileno(out)) && ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

/* The xterm 256-colour index closest to gray level v: 16 is black, 231
 * white, 232..255 the ramp 8, 18, ..., 238. */
static int gray256(int v) {
    if (v < 4) return 16;
    if (v > 246) return 231;
    int i = (v - 3) / 10;
    return 232 + (i > 23 ? 23 : i);
}

/* One character cell covering pixel t (top) and b (bottom), without colour:
 * similar halves become a shade of their mean, different ones a half block. */
static const char *plain_cell(int t, int b) {
    static const char *shade[] = {" ", "░", "▒", "▓", "█"};
    if (abs(t - b) < 96) return shade[(t + b + 51) / 102 > 4 ? 4 : (t + b + 51) / 102];
    return t > b ? "▀" : "▄";
}

static void term_row(FILE *out, const unsigned char *img, int r, int rows, int cols, int color) {
    int fg = -1, bg = -1;
    for (int c = 0; c < cols; c++) {
        int t = img[r * cols + c], b = r + 1 < rows ? img[(r + 1) * cols + c] : 0;
        if (!color) {
            fputs(plain_cell(t, b), out);
            continue;
        }
        int f = gray256(t), g = gray256(b);
        if (f != fg) fprintf(out, "\x1b[38;5;%dm", fg = f);
        if (g != bg) fprintf(out, "\x1b[48;5;%dm", bg = g);
        fputs("▀", out);
    }
    if (color) fputs("\x1b[0m", out);
}

void draw_term_images(FILE *out, const unsigned char *const *images, const char *const *captions,
                      int n, int rows, int cols, int color, int width) {
    int per = (width + 2) / (cols + 2);
    if (per < 1) per = 1;
    for (int first = 0; first < n; first += per) {
        int k = n - first < per ? n - first : per;
        for (int i = 0; captions && i < k; i++) {
            const char *cap = captions[first + i] ? captions[first + i] : "";
            fprintf(out, "%s%-*.*s", i ? "  " : "", cols, cols, cap);
        }
        if (captions) fputc('\n', out);
        for (int r = 0; r < rows; r += 2) {
            for (int i = 0; i < k; i++) {
                if (i) fputs("  ", out);
                term_row(out, images[first + i], r, rows, cols, color);
            }
            fputc('\n', out);
        }
    }
}

/* ======================================================================== */
/* Canvas and font                                                          */
/* ======================================================================== */

int draw_canvas_init(draw_canvas *c, int w, int h, unsigned char bg) {
    c->w = c->h = 0;
    c->px = NULL;
    if (w < 1 || h < 1 || w > 16384 || h > 16384) return -1;
    c->px = malloc((size_t)w * (size_t)h);
    if (!c->px) return -1;
    memset(c->px, bg, (size_t)w * (size_t)h);
    c->w = w;
    c->h = h;
    return 0;
}

void draw_canvas_free(draw_canvas *c) {
    if (!c) return;
    free(c->px);
    c->px = NULL;
    c->w = c->h = 0;
}

void draw_rect(draw_canvas *c, int x, int y, int w, int h, unsigned char v) {
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > c->w ? c->w : x + w, y1 = y + h > c->h ? c->h : y + h;
    for (int yy = y0; yy < y1; yy++)
        if (x1 > x0) memset(c->px + (size_t)yy * (size_t)c->w + (size_t)x0, v, (size_t)(x1 - x0));
}

void draw_image(draw_canvas *c, int x, int y, const unsigned char *img, int rows, int cols,
                int scale) {
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < cols; k++)
            draw_rect(c, x + k * scale, y + r * scale, scale, scale, img[r * cols + k]);
}

/* 5x7 glyphs, one byte per row from the top, bit 4 = leftmost column. */
static const struct {
    char ch;
    unsigned char rows[7];
} font[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
    {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
    {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
    {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}},
    {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}},
    {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}},
    {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}},
    {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}},
    {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}},
    {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}},
    {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}},
    {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {' ', {0, 0, 0, 0, 0, 0, 0}},
    {'>', {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}},
    {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
    {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}},
    {'#', {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'?', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}},
};

static const unsigned char *glyph(char ch) {
    if (ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
    size_t n = sizeof font / sizeof font[0];
    for (size_t i = 0; i < n; i++)
        if (font[i].ch == ch) return font[i].rows;
    return font[n - 1].rows; /* '?' */
}

int draw_text_width(const char *s, int scale) {
    size_t n = strlen(s);
    return n ? (int)n * 6 * scale - scale : 0;
}

int draw_text(draw_canvas *c, int x, int y, const char *s, int scale, unsigned char v) {
    int x0 = x;
    for (; *s; s++, x += 6 * scale) {
        const unsigned char *g = glyph(*s);
        for (int r = 0; r < 7; r++)
            for (int k = 0; k < 5; k++)
                if (g[r] >> (4 - k) & 1)
                    draw_rect(c, x + k * scale, y + r * scale, scale, scale, v);
    }
    return x > x0 ? x - x0 - scale : 0;
}

/* ======================================================================== */
/* Training history and the SVG plot                                        */
/* ======================================================================== */

typedef struct sbuf {
    char *s;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->failed = 1;
            return;
        }
        if (b->s && b->len + (size_t)k < b->cap) {
            b->len += (size_t)k;
            return;
        }
        size_t cap = (b->cap + (size_t)k + 1) * 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

static void sb_escaped(sbuf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '&')
            sb_printf(b, "&amp;");
        else if (*s == '<')
            sb_printf(b, "&lt;");
        else if (*s == '>')
            sb_printf(b, "&gt;");
        else if (*s == '"')
            sb_printf(b, "&quot;");
        else if ((unsigned char)*s >= 0x20)
            sb_printf(b, "%c", *s);
    }
}

/* A round step giving about `count` ticks over `range`. */
static double nice_step(double range, int count) {
    double raw = range / count, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/* A plot panel: data range [x0,x1] x [y0,y1] mapped to pixel box. */
typedef struct panel {
    double x0, x1, y0, y1;
    int left, top, width, height, logy;
} panel;

static double px_x(const panel *p, double x) {
    return p->left + (x - p->x0) / (p->x1 - p->x0) * p->width;
}

static double px_y(const panel *p, double y) {
    if (p->logy) y = log10(y);
    return p->top + p->height - (y - p->y0) / (p->y1 - p->y0) * p->height;
}

static void panel_axes(sbuf *b, const panel *p, const char *ylabel, double ystep) {
    sb_printf(b, "<rect x='%d' y='%d' width='%d' height='%d' fill='white' stroke='#444'/>\n",
              p->left, p->top, p->width, p->height);
    for (double v = p->y0; v <= p->y1 + 1e-9; v += ystep) {
        double y = p->top + p->height - (v - p->y0) / (p->y1 - p->y0) * p->height;
        sb_printf(b, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#ddd'/>\n", p->left, y,
                  p->left + p->width, y);
        sb_printf(b, "<text x='%d' y='%.1f' text-anchor='end' font-size='12'>%g</text>\n",
                  p->left - 6, y + 4, p->logy ? pow(10, v) : v);
    }
    double xstep = ceil(nice_step(p->x1 - p->x0, 8));
    for (double v = p->x0; v <= p->x1 + 1e-9; v += xstep)
        sb_printf(b, "<text x='%.1f' y='%d' text-anchor='middle' font-size='12'>%g</text>\n",
                  px_x(p, v), p->top + p->height + 16, v);
    sb_printf(b,
              "<text x='%d' y='%d' font-size='13' transform='rotate(-90 %d %d)' "
              "text-anchor='middle'>%s</text>\n",
              p->left - 50, p->top + p->height / 2, p->left - 50, p->top + p->height / 2, ylabel);
}

/* A polyline through the points of one series; which: 0 loss, 1 train acc,
 * 2 val acc (percent). */
static void series(sbuf *b, const panel *p, const dn_epoch_record *h, size_t n, int which,
                   const char *colour) {
    sb_printf(b, "<polyline fill='none' stroke='%s' stroke-width='2' points='", colour);
    for (size_t i = 0; i < n; i++) {
        double v = which == 0 ? h[i].train_loss
                              : 100 * (which == 1 ? h[i].train_accuracy : h[i].val_accuracy);
        sb_printf(b, "%s%.1f,%.1f", i ? " " : "", px_x(p, h[i].epoch), px_y(p, v));
    }
    sb_printf(b, "'/>\n");
    for (size_t i = 0; n <= 60 && i < n; i++) {
        double v = which == 0 ? h[i].train_loss
                              : 100 * (which == 1 ? h[i].train_accuracy : h[i].val_accuracy);
        sb_printf(b, "<circle cx='%.1f' cy='%.1f' r='3' fill='%s'/>\n", px_x(p, h[i].epoch),
                  px_y(p, v), colour);
    }
}

static void legend(sbuf *b, int x, int y, const char *colour, const char *text) {
    sb_printf(b, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='%s' stroke-width='2'/>\n", x, y,
              x + 24, y, colour);
    sb_printf(b, "<text x='%d' y='%d' font-size='12'>%s</text>\n", x + 30, y + 4, text);
}

static void best_marker(sbuf *b, const panel *p, int best) {
    if (best < p->x0 || best > p->x1) return;
    double x = px_x(p, best);
    sb_printf(b,
              "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#888' stroke-dasharray='4 3'/>\n",
              x, p->top, x, p->top + p->height);
}

static void loss_panel(sbuf *b, panel *p, const dn_epoch_record *h, size_t n, int best) {
    double lo = INFINITY, hi = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i].train_loss > hi) hi = h[i].train_loss;
        if (h[i].train_loss > 0 && h[i].train_loss < lo) lo = h[i].train_loss;
    }
    double step;
    p->logy = hi > 0 && isfinite(lo) && hi / lo > 20;
    for (size_t i = 0; p->logy && i < n; i++) p->logy = h[i].train_loss > 0;
    if (p->logy) {
        p->y0 = floor(log10(lo));
        p->y1 = ceil(log10(hi));
        step = 1;
    } else {
        step = nice_step(hi > 0 ? hi : 1, 5);
        p->y0 = 0;
        p->y1 = ceil((hi > 0 ? hi : 1) / step) * step;
    }
    panel_axes(b, p, p->logy ? "training loss (log scale)" : "training loss", step);
    best_marker(b, p, best);
    series(b, p, h, n, 0, "#2b6cb0");
}

static void accuracy_panel(sbuf *b, panel *p, const dn_epoch_record *h, size_t n, int best,
                           int val) {
    double lo = 100;
    for (size_t i = 0; i < n; i++) {
        if (100 * h[i].train_accuracy < lo) lo = 100 * h[i].train_accuracy;
        if (val && 100 * h[i].val_accuracy < lo) lo = 100 * h[i].val_accuracy;
    }
    if (lo > 99) lo = 99;
    if (lo < 0) lo = 0;
    double step = nice_step(100 - lo, 5);
    p->y0 = floor(lo / step) * step;
    p->y1 = 100;
    panel_axes(b, p, "accuracy (%)", step);
    best_marker(b, p, best);
    series(b, p, h, n, 1, "#2b6cb0");
    if (val) series(b, p, h, n, 2, "#c05621");
}

char *draw_curves_svg(const dn_epoch_record *h, size_t n, int best_epoch, const char *title) {
    sbuf b = {0};
    int val = n > 0;
    for (size_t i = 0; i < n; i++) val = val && h[i].val_accuracy >= 0;
    double x1 = n ? h[n - 1].epoch : 1;
    for (size_t i = 0; i < n; i++)
        if (h[i].epoch > x1) x1 = h[i].epoch;
    panel top = {1, x1 > 1 ? x1 : 2, 0, 1, 90, 60, 640, 200, 0};
    panel bottom = {1, x1 > 1 ? x1 : 2, 0, 1, 90, 320, 640, 200, 0};
    sb_printf(&b, "<?xml version='1.0' encoding='UTF-8'?>\n"
                  "<svg xmlns='http://www.w3.org/2000/svg' width='760' height='590' "
                  "viewBox='0 0 760 590' font-family='sans-serif'>\n"
                  "<rect width='760' height='590' fill='#fafafa'/>\n"
                  "<text x='380' y='30' text-anchor='middle' font-size='16'>");
    sb_escaped(&b, title);
    sb_printf(&b, "</text>\n");
    loss_panel(&b, &top, h, n, best_epoch);
    accuracy_panel(&b, &bottom, h, n, best_epoch, val);
    sb_printf(&b, "<text x='410' y='560' text-anchor='middle' font-size='13'>epoch</text>\n");
    legend(&b, 100, 578, "#2b6cb0", "training");
    if (val) legend(&b, 220, 578, "#c05621", "validation");
    if (best_epoch > 0) {
        sb_printf(&b, "<line x1='350' y1='578' x2='374' y2='578' stroke='#888' "
                      "stroke-dasharray='4 3'/>\n");
        sb_printf(&b, "<text x='380' y='582' font-size='12'>best epoch (%d)</text>\n", best_epoch);
    }
    sb_printf(&b, "</svg>\n");
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
