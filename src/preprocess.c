/*
 * preprocess.c — turns an arbitrary grayscale image (a phone photo of a
 * digit on paper, a canvas drawing, a scan, an MNIST digit) into a 28x28
 * MNIST-style digit: white ink on black, fitted into 20x20 keeping aspect
 * ratio, centred by centre of mass, contrast stretched to 255.
 *
 * This is the one pipeline the CLI and the web server share, so a digit
 * predicted from a file and from the browser sees identical input.  It
 * allocates only buffers bounded by a fixed working size (see step 0), runs
 * in time linear in the pixel count, never prints and keeps no state.
 * It does not find a digit among other objects, straighten rotated paper or
 * split several digits: the image is assumed to show one digit.
 *
 * The steps and the reasons for each constant are in docs/normalisation.md;
 * the numbered comments below match its sections.
 */
#include "internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define FRAME 28 /* output side */
#define FIT 20   /* MNIST's box for the digit */
/* MNIST digits have their centre of mass at pixel (14, 14) counting from 0
 * (measured on the test set; see docs/normalisation.md). */
#define CENTRE 14.0
/* Longest side analysed at full detail; larger images are first averaged
 * down to it, which bounds memory and time for the 50-megapixel uploads the
 * decoder accepts while keeping far more detail than the final 20 pixels. */
#define WORK_MAX 2048
/* Weakest ink worth keeping, in levels above the background, whatever the
 * noise; absorbs compression jitter on clean images. */
#define LOW_MIN 3
/* Weak ink must stand this many noise standard deviations away from the
 * background. */
#define NOISE_SIGMAS 3.0
/* Strong (seed) ink is at least this fraction of the darkest/brightest ink. */
#define HIGH_FRAC 0.25
/* Below this contrast against the background an image counts as blank. */
#define MIN_CONTRAST 24
/* Ink components lighter than this fraction of the heaviest are specks. */
#define COMPONENT_FRAC 0.05

/* ================================================================ resampling */

/* One source row area-averaged horizontally: row[ox] is the sum of the
 * pixels under output column ox, weighted by their covered fraction. */
static void box_row(const unsigned char *s, int cw, double sx, int dw, double *row) {
    for (int ox = 0; ox < dw; ox++) {
        double xa = ox * sx, xb = (ox + 1) * sx, sum = 0;
        for (int ix = (int)xa; ix < cw && ix < xb; ix++) {
            double wx = fmin(xb, ix + 1.0) - fmax(xa, ix);
            if (wx > 0) sum += wx * s[ix];
        }
        row[ox] = sum;
    }
}

/* Area-averages the cw x ch window at (x0, y0) of an 8-bit image with row
 * stride `stride` into dw x dh pixels: every output pixel is the mean of the
 * source area it covers, counting partially covered source pixels by their
 * exact fractional overlap.  This is the right filter for large reductions
 * (nothing aliases) and degrades to pixel replication with blended seams
 * when enlarging.  Writes floats to dstf or rounded bytes to dst8 (exactly
 * one is non-NULL).  Returns 0, or -1 when out of memory. */
static int box_resample(const unsigned char *src, size_t stride, int x0, int y0, int cw, int ch,
                        int dw, int dh, float *dstf, unsigned char *dst8) {
    double sx = (double)cw / dw, sy = (double)ch / dh;
    double *row = calloc((size_t)dw, sizeof *row), *acc = calloc((size_t)dw, sizeof *acc);
    if (!row || !acc) {
        free(row);
        free(acc);
        return -1;
    }
    int cached = -1; /* a source row straddling two output rows is filtered once */
    for (int oy = 0; oy < dh; oy++) {
        double ya = oy * sy, yb = (oy + 1) * sy;
        memset(acc, 0, (size_t)dw * sizeof *acc);
        for (int iy = (int)ya; iy < ch && iy < yb; iy++) {
            double wy = fmin(yb, iy + 1.0) - fmax(ya, iy);
            if (wy <= 0) continue;
            if (iy != cached) box_row(src + (size_t)(y0 + iy) * stride + x0, cw, sx, dw, row);
            cached = iy;
            for (int ox = 0; ox < dw; ox++) acc[ox] += wy * row[ox];
        }
        for (int ox = 0; ox < dw; ox++) {
            double v = acc[ox] / (sx * sy);
            if (dstf)
                dstf[(size_t)oy * dw + ox] = (float)v;
            else
                dst8[(size_t)oy * dw + ox] = (unsigned char)fmin(255.0, floor(v + 0.5));
        }
    }
    free(row);
    free(acc);
    return 0;
}

/* ================================================================ background */

/* Step 2 inputs, measured on the outermost ring of pixels, which for a
 * photo or a drawing is mostly background.  Paper photographed under a lamp
 * is brighter on one side, so the background is a plane rather than a
 * constant.  Every estimate is a median, so ink reaching the edge (a tight
 * crop, the bar of a 7 along the top) does not move it: the level is the
 * ring's median, the slopes come from medians of edges and the noise is the
 * ring's median absolute deviation from the plane. */
typedef struct background {
    double level;  /* at the image centre */
    double dx, dy; /* change per pixel to the right / downwards */
    double sigma;  /* noise, as a Gaussian standard deviation */
} background;

static int histogram_quantile(const size_t hist[256], size_t n, double q) {
    size_t want = (size_t)(q * (double)(n - 1)), cum = 0;
    for (int v = 0; v < 256; v++) {
        cum += hist[v];
        if (cum > want) return v;
    }
    return 255;
}

/* Median of n pixels starting at p, `stride` apart. */
static int line_median(const unsigned char *p, size_t n, size_t stride) {
    size_t hist[256] = {0};
    for (size_t i = 0; i < n; i++) hist[p[i * stride]]++;
    return histogram_quantile(hist, n, 0.5);
}

/* Slope along one line of n pixels: the medians of its halves compared. */
static double line_slope(const unsigned char *p, size_t n, size_t stride) {
    size_t half = n / 2, off = n - half;
    return (line_median(p + off * stride, half, stride) - line_median(p, half, stride)) /
           (double)off;
}

static double median3(double a, double b, double c) {
    return a + b + c - fmax(a, fmax(b, c)) - fmin(a, fmin(b, c));
}

/* Slope across lines: from the first line (n pixels, `along` apart) to the
 * last one `count - 1` lines further (`across` apart).  With `robust`, the
 * median of that and the slopes along the first and last pixels of each
 * line (for dx: along the top and bottom rows). */
static double edge_slope(const unsigned char *px, size_t n, size_t along, int count, size_t across,
                         int robust) {
    if (count < 2) return 0;
    const unsigned char *last = px + (size_t)(count - 1) * across;
    double between = (line_median(last, n, along) - line_median(px, n, along)) / (count - 1.0);
    if (!robust || count < 4) return between;
    return median3(between, line_slope(px, (size_t)count, across),
                   line_slope(px + (n - 1) * along, (size_t)count, across));
}

/* The background plane's value at (x, y), rounded to a level. */
static int plane_at(const background *b, int w, int h, int x, int y) {
    return (int)lround(b->level + b->dx * (x - (w - 1) / 2.0) + b->dy * (y - (h - 1) / 2.0));
}

/* Histograms the ring (outermost pixels): their levels, or with a plane
 * given, their absolute deviations from it. */
static void ring_histogram(const unsigned char *px, int w, int h, const background *plane,
                           size_t hist[256]) {
    memset(hist, 0, 256 * sizeof hist[0]);
    for (int y = 0; y < h; y++) {
        const unsigned char *r = px + (size_t)y * w;
        int step = (y == 0 || y == h - 1) ? 1 : (w > 1 ? w - 1 : 1);
        for (int x = 0; x < w; x += step) {
            int d = plane ? abs(r[x] - plane_at(plane, w, h, x, y)) : r[x];
            hist[d > 255 ? 255 : d]++;
        }
    }
}

/* Median absolute deviation of the ring from the plane b. */
static int ring_mad(const unsigned char *px, int w, int h, const background *b) {
    size_t hist[256], n = 0;
    ring_histogram(px, w, h, b, hist);
    for (int v = 0; v < 256; v++) n += hist[v];
    return histogram_quantile(hist, n, 0.5);
}

static background measure_background(const unsigned char *px, int w, int h) {
    size_t hist[256], n = 0;
    ring_histogram(px, w, h, NULL, hist);
    for (int v = 0; v < 256; v++) n += hist[v];
    double level = histogram_quantile(hist, n, 0.5);
    /* Candidates: flat, slopes between opposite edges, and the median of
     * those with the slopes along the edges.  Ink covering most of two edges
     * (a tightly cropped 1) can fool any one of them, so the plane that fits
     * the ring best wins, flat on ties. */
    background cand[3] = {{level, 0, 0, 0},
                          {level, edge_slope(px, (size_t)h, (size_t)w, w, 1, 0),
                           edge_slope(px, (size_t)w, 1, h, (size_t)w, 0), 0},
                          {level, edge_slope(px, (size_t)h, (size_t)w, w, 1, 1),
                           edge_slope(px, (size_t)w, 1, h, (size_t)w, 1), 0}};
    int best = 0, best_mad = ring_mad(px, w, h, &cand[0]);
    for (int c = 1; c < 3; c++) {
        int mad = ring_mad(px, w, h, &cand[c]);
        if (mad < best_mad) best = c, best_mad = mad;
    }
    cand[best].sigma = 1.4826 * best_mad;
    return cand[best];
}

/* ================================================================ ink map */

typedef struct work {
    const unsigned char *px; /* grayscale working image (step 0) */
    int w, h;
    unsigned char *ink;  /* w*h ink strength, 0 = background */
    unsigned char *mask; /* w*h flags below, scratch for steps 3 and 4 */
} work;

/* Bit flags in work.mask. */
enum { STRONG = 1, SEEDED = 2, SEEN = 4, MEASURED = 8, ERASED = 16 };

static int any_neighbour(const work *k, int x, int y, unsigned bit) {
    for (int dy = -1; dy <= 1; dy++) {
        int yy = y + dy;
        if (yy < 0 || yy >= k->h) continue;
        for (int dx = -1; dx <= 1; dx++) {
            int xx = x + dx;
            if ((dx || dy) && xx >= 0 && xx < k->w && (k->mask[(size_t)yy * k->w + xx] & bit))
                return 1;
        }
    }
    return 0;
}

/* Polarity: ink is whichever side of the background carries more mass
 * beyond the noise, so white paper, grey paper and dark slates all work.
 * Returns +1 for light ink, -1 for dark ink, 0 when nothing stands out. */
static int ink_polarity(const work *k, const background *b, int low) {
    double above = 0, below = 0;
    for (int y = 0; y < k->h; y++)
        for (int x = 0; x < k->w; x++) {
            int d = k->px[(size_t)y * k->w + x] - plane_at(b, k->w, k->h, x, y);
            if (d > low)
                above += d - low;
            else if (-d > low)
                below += -d - low;
        }
    if (above == 0 && below == 0) return 0;
    return below > above ? -1 : 1;
}

/* Ink strength: the distance from the background towards the ink side,
 * clipped at 0.  Light reflected from paper is illumination times
 * reflectance, so under uneven light dark ink is measured relative to the
 * local paper brightness (scaled to the centre's level): a stroke in the
 * shade then counts as much as one in the light.  Light ink on a dark ground
 * (chalk, screens, MNIST itself) is measured by plain subtraction, as the
 * ratio would amplify noise near black.  Returns the strongest value. */
static int ink_strength(work *k, const background *b, int polarity) {
    int inkmax = 0;
    for (int y = 0; y < k->h; y++)
        for (int x = 0; x < k->w; x++) {
            size_t i = (size_t)y * k->w + x;
            int bg = plane_at(b, k->w, k->h, x, y);
            double s = polarity * (k->px[i] - bg);
            if (polarity < 0) s *= b->level / fmax(bg, fmax(b->level / 4, 1.0));
            int v = s < 0 ? 0 : s > 255 ? 255 : (int)lround(s);
            k->ink[i] = (unsigned char)v;
            if (v > inkmax) inkmax = v;
        }
    return inkmax;
}

/* Hysteresis: seeds are strong pixels with a strong neighbour (a lone
 * bright pixel is a speck); weaker pixels above `low` survive only next to
 * a seed, which keeps anti-aliased stroke edges and drops background noise.
 * Returns the number of seeds. */
static size_t hysteresis(work *k, int low, int high) {
    size_t n = (size_t)k->w * k->h, seeds = 0;
    for (size_t i = 0; i < n; i++) k->mask[i] = k->ink[i] >= high ? STRONG : 0;
    for (int y = 0; y < k->h; y++)
        for (int x = 0; x < k->w; x++) {
            size_t i = (size_t)y * k->w + x;
            if ((k->mask[i] & STRONG) && any_neighbour(k, x, y, STRONG)) {
                k->mask[i] |= SEEDED;
                seeds++;
            }
        }
    for (int y = 0; y < k->h; y++)
        for (int x = 0; x < k->w; x++) {
            size_t i = (size_t)y * k->w + x;
            int keep =
                k->ink[i] >= low && ((k->mask[i] & SEEDED) || any_neighbour(k, x, y, SEEDED));
            if (!keep) k->ink[i] = 0;
        }
    return seeds;
}

/* Steps 2 and 3: returns the number of seed pixels, 0 meaning no ink. */
static size_t build_ink_map(work *k) {
    background b = measure_background(k->px, k->w, k->h);
    int low = (int)ceil(NOISE_SIGMAS * b.sigma);
    if (low < LOW_MIN) low = LOW_MIN;
    int polarity = ink_polarity(k, &b, low);
    if (polarity == 0) return 0;
    int inkmax = ink_strength(k, &b, polarity);
    if (inkmax < MIN_CONTRAST) return 0;
    int high = (int)ceil(HIGH_FRAC * inkmax);
    return hysteresis(k, low, high > low ? high : low);
}

/* ================================================================ components */

/* Pixel indices still to visit; the working image has at most
 * WORK_MAX * WORK_MAX pixels, so 32 bits suffice. */
typedef struct stack {
    uint32_t *v;
    size_t n, cap;
} stack;

static int push(stack *s, size_t i) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        uint32_t *nv = realloc(s->v, cap * sizeof *nv);
        if (!nv) return -1;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = (uint32_t)i;
    return 0;
}

/* Visits the 8-connected component of ink pixels holding `start` that do
 * not carry `bit` yet, marking them; returns the component's ink mass, or -1
 * when out of memory.  With erase set, the component's ink is cleared. */
static double fill_component(work *k, size_t start, unsigned bit, int erase, stack *s) {
    double mass = 0;
    s->n = 0;
    k->mask[start] |= bit;
    if (push(s, start)) return -1;
    while (s->n) {
        size_t i = s->v[--s->n];
        int x = (int)(i % (size_t)k->w), y = (int)(i / (size_t)k->w);
        mass += k->ink[i];
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                int xx = x + dx, yy = y + dy;
                if (xx < 0 || yy < 0 || xx >= k->w || yy >= k->h) continue;
                size_t j = (size_t)yy * k->w + xx;
                if (!k->ink[j] || (k->mask[j] & bit)) continue;
                k->mask[j] |= bit;
                if (push(s, j)) return -1;
            }
        if (erase) k->ink[i] = 0;
    }
    return mass;
}

/* Step 4, first half: dust, paper texture and stray dots form components
 * far lighter than the digit; dropping those below COMPONENT_FRAC of the
 * heaviest keeps them out of the bounding box while the parts of a broken
 * stroke, each a sizeable share of the digit, stay.  Returns -1 when out of
 * memory. */
static int drop_small_components(work *k) {
    size_t n = (size_t)k->w * k->h;
    stack s = {0};
    double heaviest = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!k->ink[i] || (k->mask[i] & SEEN)) continue;
        double m = fill_component(k, i, SEEN, 0, &s);
        if (m < 0) rc = -1;
        if (m > heaviest) heaviest = m;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!k->ink[i] || (k->mask[i] & MEASURED)) continue;
        double m = fill_component(k, i, MEASURED, 0, &s);
        if (m >= 0 && m < COMPONENT_FRAC * heaviest) m = fill_component(k, i, ERASED, 1, &s);
        if (m < 0) rc = -1;
    }
    free(s.v);
    return rc;
}

/* ================================================================ layout */

typedef struct box {
    int x0, y0, w, h;
} box;

/* Step 4, second half: the bounding box of the ink that is left. */
static int ink_bbox(const work *k, box *out) {
    int x0 = k->w, y0 = k->h, x1 = -1, y1 = -1;
    for (int y = 0; y < k->h; y++) {
        const unsigned char *r = k->ink + (size_t)y * k->w;
        for (int x = 0; x < k->w; x++) {
            if (!r[x]) continue;
            if (x < x0) x0 = x;
            if (x > x1) x1 = x;
            if (y < y0) y0 = y;
            y1 = y;
        }
    }
    if (x1 < 0) return 0;
    *out = (box){x0, y0, x1 - x0 + 1, y1 - y0 + 1};
    return 1;
}

/* Step 6: pastes the fitted digit (fw x fh) into the frame so that its
 * centre of mass falls on CENTRE, moving by whole pixels (as MNIST did, so
 * strokes stay sharp) and never pushing ink off the frame. */
static void place_by_mass(const float *fit, int fw, int fh, float frame[FRAME * FRAME]) {
    double m = 0, mx = 0, my = 0;
    for (int y = 0; y < fh; y++)
        for (int x = 0; x < fw; x++) {
            double v = fit[y * fw + x];
            m += v;
            mx += v * x;
            my += v * y;
        }
    int ox = (int)lround(CENTRE - (m > 0 ? mx / m : (fw - 1) / 2.0));
    int oy = (int)lround(CENTRE - (m > 0 ? my / m : (fh - 1) / 2.0));
    if (ox < 0) ox = 0;
    if (ox > FRAME - fw) ox = FRAME - fw;
    if (oy < 0) oy = 0;
    if (oy > FRAME - fh) oy = FRAME - fh;
    memset(frame, 0, FRAME * FRAME * sizeof frame[0]);
    for (int y = 0; y < fh; y++)
        for (int x = 0; x < fw; x++) frame[(oy + y) * FRAME + ox + x] = fit[y * fw + x];
}

/* Step 7: full contrast, whatever the pen pressure or lighting. */
static int stretch(const float frame[FRAME * FRAME], unsigned char out[FRAME * FRAME]) {
    float mx = 0;
    for (int i = 0; i < FRAME * FRAME; i++)
        if (frame[i] > mx) mx = frame[i];
    if (mx <= 0) return 0;
    for (int i = 0; i < FRAME * FRAME; i++)
        out[i] = (unsigned char)fminf(255.0f, floorf(frame[i] * 255.0f / mx + 0.5f));
    return 1;
}

/* ================================================================ pipeline */

/* Step 0: the working image, either the input itself or an area-averaged
 * copy whose longest side is WORK_MAX (*owned then set). */
static dn_status working_image(const dn_image *img, work *k, unsigned char **owned, dn_error *err) {
    int w = img->width, h = img->height, longest = w > h ? w : h;
    *owned = NULL;
    k->px = img->pixels;
    k->w = w;
    k->h = h;
    if (longest <= WORK_MAX) return DN_OK;
    double s = (double)WORK_MAX / longest;
    k->w = w > h ? WORK_MAX : (int)fmax(1.0, floor(w * s + 0.5));
    k->h = w > h ? (int)fmax(1.0, floor(h * s + 0.5)) : WORK_MAX;
    *owned = malloc((size_t)k->w * k->h);
    if (!*owned || box_resample(img->pixels, (size_t)w, 0, 0, w, h, k->w, k->h, NULL, *owned))
        return dn_fail(err, DN_E_NOMEM, "normalise: out of memory");
    k->px = *owned;
    return DN_OK;
}

/* Steps 2-7 on the working image. */
static dn_status normalize_work(work *k, unsigned char out[FRAME * FRAME], dn_error *err) {
    box b;
    if (build_ink_map(k) == 0) return dn_fail(err, DN_E_NODATA, "image has no ink");
    if (drop_small_components(k)) return dn_fail(err, DN_E_NOMEM, "normalise: out of memory");
    if (!ink_bbox(k, &b)) return dn_fail(err, DN_E_NODATA, "image has no ink");
    /* Step 5: the longer side becomes FIT pixels, the other keeps the
     * aspect ratio (at least one pixel, for a stroke like "1" or "-"). */
    int fw = FIT, fh = FIT;
    if (b.w >= b.h)
        fh = (int)fmax(1.0, floor((double)FIT * b.h / b.w + 0.5));
    else
        fw = (int)fmax(1.0, floor((double)FIT * b.w / b.h + 0.5));
    float fit[FIT * FIT], frame[FRAME * FRAME];
    if (box_resample(k->ink, (size_t)k->w, b.x0, b.y0, b.w, b.h, fw, fh, fit, NULL))
        return dn_fail(err, DN_E_NOMEM, "normalise: out of memory");
    place_by_mass(fit, fw, fh, frame);
    if (!stretch(frame, out)) return dn_fail(err, DN_E_NODATA, "image has no ink");
    return DN_OK;
}

/* Step 1, grayscale, is the decoder's job: dn_image holds luminance. */
dn_status dn_image_normalize(const dn_image *img, unsigned char out[784], dn_error *err) {
    if (!img || !img->pixels || !out) return dn_fail(err, DN_E_ARG, "normalise: NULL argument");
    if (img->width <= 0 || img->height <= 0 ||
        (unsigned long long)img->width * img->height > DN_IMAGE_MAX_PIXELS)
        return dn_fail(err, DN_E_ARG, "normalise: invalid image size %dx%d", img->width,
                       img->height);
    work k = {0};
    unsigned char *owned;
    dn_status st = working_image(img, &k, &owned, err);
    if (st == DN_OK) {
        size_t n = (size_t)k.w * k.h;
        k.ink = malloc(n);
        k.mask = malloc(n);
        st = k.ink && k.mask ? normalize_work(&k, out, err)
                             : dn_fail(err, DN_E_NOMEM, "normalise: out of memory");
    }
    free(k.ink);
    free(k.mask);
    free(owned);
    return st;
}
