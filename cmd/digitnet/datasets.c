/*
 * datasets.c — data sets named on the command line (see datasets.h):
 * format inference, image folders (listing, reading, writing), IDX label
 * file names, and an atomic file writer for the commands' outputs.
 *
 * Does not print or exit. Folder output is built in a temporary sibling
 * directory and renamed into place when complete, so a failed or
 * interrupted conversion never leaves a half-written folder under the
 * requested name.
 */
#include "datasets.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define DS_MAX_DEPTH 32

dn_status ds_fail(dn_error *err, dn_status st, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* ======================================================================== */
/* Names and formats                                                        */
/* ======================================================================== */

static int ends_with_ci(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcasecmp(s + n - k, suffix);
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

ds_format ds_format_parse(const char *s) {
    if (!strcmp(s, "folder")) return DS_FOLDER;
    if (!strcmp(s, "idx")) return DS_IDX;
    if (!strcmp(s, "csv")) return DS_CSV;
    return DS_AUTO;
}

const char *ds_format_name(ds_format f) {
    static const char *names[] = {"auto", "folder", "idx", "csv"};
    return names[f];
}

int ds_is_image_name(const char *name) {
    static const char *ext[] = {".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".pnm"};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (ends_with_ci(name, ext[i])) return 1;
    return 0;
}

int ds_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

FILE *ds_fopen_regular(const char *path) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) close(fd);
    return f;
}

int ds_is_idx_file(const char *path) {
    const char *b = base_name(path);
    if (strstr(b, "idx3") || strstr(b, "idx1")) return 1;
    FILE *f = ds_fopen_regular(path);
    if (!f) return 0;
    unsigned char m[4];
    int ok = fread(m, 1, 4, f) == 4 && !m[0] && !m[1] && m[2] == 8 && m[3] == 3;
    fclose(f);
    return ok;
}

static int has_label_dirs(const char *dir) {
    char p[4096];
    for (int d = 0; d < 10; d++) {
        snprintf(p, sizeof p, "%s/%d", dir, d);
        if (ds_is_dir(p)) return 1;
    }
    return 0;
}

static int has_idx_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) found = strstr(e->d_name, "idx3") != NULL;
    closedir(d);
    return found;
}

ds_format ds_guess_source(const char *path) {
    if (ends_with_ci(path, ".csv")) return DS_CSV;
    if (ds_is_dir(path)) return !has_label_dirs(path) && has_idx_files(path) ? DS_IDX : DS_FOLDER;
    if (ds_is_idx_file(path)) return DS_IDX;
    return DS_AUTO;
}

ds_format ds_guess_dest(const char *path, const char *split) {
    size_t n = strlen(path);
    if (ends_with_ci(path, ".csv")) return DS_CSV;
    if (strstr(base_name(path), "idx3")) return DS_IDX;
    if (split) return DS_IDX;
    if (ds_is_dir(path) || (n && path[n - 1] == '/') || !strchr(base_name(path), '.'))
        return DS_FOLDER;
    return DS_AUTO;
}

/* Replaces the last `from` in the file name part of s (in place, same
 * length) with `to`; returns 1 when it did. */
static int replace_in_name(char *s, const char *from, const char *to) {
    char *b = (char *)base_name(s), *hit = NULL, *p = b;
    while ((p = strstr(p, from))) hit = p++;
    if (!hit) return 0;
    memcpy(hit, to, strlen(to));
    return 1;
}

/* The labels file that goes with an images file; -1 when none can be named. */
static int labels_name(const char *images, char *buf, size_t n) {
    if (strlen(images) + 1 > n) return -1;
    strcpy(buf, images);
    int a = replace_in_name(buf, "images", "labels");
    int b = replace_in_name(buf, "idx3", "idx1");
    return a || b ? 0 : -1;
}

/* ======================================================================== */
/* Listing image folders                                                    */
/* ======================================================================== */

void ds_paths_free(ds_paths *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int paths_add(ds_paths *l, const char *a, const char *b) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    size_t na = strlen(a), nb = b ? strlen(b) : 0;
    char *s = malloc(na + nb + 2);
    if (!s) return -1;
    memcpy(s, a, na);
    if (b) {
        s[na] = '/';
        memcpy(s + na + 1, b, nb);
        s[na + 1 + nb] = 0;
    } else {
        s[na] = 0;
    }
    l->v[l->n++] = s;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The non-hidden entries of dir, sorted. */
static dn_status read_dir(const char *dir, ds_paths *names, dn_error *err) {
    DIR *d = opendir(dir);
    if (!d) return ds_fail(err, DN_E_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    struct dirent *e;
    dn_status st = DN_OK;
    while (st == DN_OK && (e = readdir(d)))
        if (e->d_name[0] != '.' && paths_add(names, e->d_name, NULL))
            st = ds_fail(err, DN_E_NOMEM, "%s: out of memory", dir);
    closedir(d);
    if (st == DN_OK && names->n) qsort(names->v, names->n, sizeof *names->v, cmp_str);
    return st;
}

static dn_status list_rec(const char *dir, int recursive, int depth, ds_paths *out, dn_error *err) {
    ds_paths names = {0}, subdirs = {0};
    dn_status st = read_dir(dir, &names, err);
    for (size_t i = 0; st == DN_OK && i < names.n; i++) {
        size_t n = out->n;
        if (paths_add(out, dir, names.v[i])) {
            st = ds_fail(err, DN_E_NOMEM, "%s: out of memory", dir);
            break;
        }
        struct stat ls, s;
        const char *p = out->v[n];
        int is_dir = stat(p, &s) == 0 && S_ISDIR(s.st_mode);
        int is_link = lstat(p, &ls) == 0 && S_ISLNK(ls.st_mode);
        int keep = !is_dir && ds_is_image_name(p);
        if (is_dir && !is_link && recursive && paths_add(&subdirs, p, NULL))
            st = ds_fail(err, DN_E_NOMEM, "%s: out of memory", dir);
        if (!keep) free(out->v[--out->n]);
    }
    if (st == DN_OK && subdirs.n && depth >= DS_MAX_DEPTH)
        st = ds_fail(err, DN_E_UNSUPPORTED, "%s: folders nested deeper than %d levels", dir,
                     DS_MAX_DEPTH);
    for (size_t i = 0; st == DN_OK && i < subdirs.n; i++)
        st = list_rec(subdirs.v[i], recursive, depth + 1, out, err);
    ds_paths_free(&names);
    ds_paths_free(&subdirs);
    return st;
}

dn_status ds_list_images(const char *dir, int recursive, ds_paths *out, dn_error *err) {
    size_t n = strlen(dir);
    char *d = strdup(dir);
    if (!d) return ds_fail(err, DN_E_NOMEM, "out of memory");
    while (n > 1 && d[n - 1] == '/') d[--n] = 0;
    dn_status st = list_rec(d, recursive, 0, out, err);
    free(d);
    return st;
}

/* ======================================================================== */
/* Reading                                                                  */
/* ======================================================================== */

dn_status ds_image_digit(const dn_image *img, int normalize, int invert, unsigned char out[784],
                         dn_error *err) {
    if (!normalize && (img->width != 28 || img->height != 28))
        return ds_fail(err, DN_E_ARG, "image is %dx%d; without normalisation it must be 28x28",
                       img->width, img->height);
    size_t n = (size_t)img->width * (size_t)img->height;
    if (!normalize) {
        for (size_t i = 0; i < 784; i++) out[i] = invert ? 255 - img->pixels[i] : img->pixels[i];
        return DN_OK;
    }
    if (!invert) return dn_image_normalize(img, out, err);
    dn_image copy = {img->width, img->height, malloc(n)};
    if (!copy.pixels) return ds_fail(err, DN_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) copy.pixels[i] = 255 - img->pixels[i];
    dn_status st = dn_image_normalize(&copy, out, err);
    free(copy.pixels);
    return st;
}

/* Appends one 28x28 image (and label, or -1) to a growing data set. */
static int ds_append(dn_dataset *ds, size_t *cap, const unsigned char *px, int label) {
    if (ds->count == *cap) {
        size_t c = *cap ? 2 * *cap : 256;
        unsigned char *im = realloc(ds->images, c * 784);
        if (!im) return -1;
        ds->images = im;
        if (label >= 0) {
            unsigned char *lb = realloc(ds->labels, c);
            if (!lb) return -1;
            ds->labels = lb;
        }
        *cap = c;
    }
    memcpy(ds->images + ds->count * 784, px, 784);
    if (label >= 0) ds->labels[ds->count] = (unsigned char)label;
    ds->count++;
    return 0;
}

static dn_status load_files(const ds_paths *files, int label, const ds_opts *o, dn_dataset *ds,
                            size_t *cap, dn_error *err) {
    for (size_t i = 0; i < files->n; i++) {
        dn_image img;
        unsigned char px[784];
        dn_error e = {{0}};
        dn_status st = dn_image_load(files->v[i], &img, err);
        if (st != DN_OK) return st;
        st = ds_image_digit(&img, o->normalize, o->invert, px, &e);
        dn_image_free(&img);
        if (st != DN_OK)
            return ds_fail(err, st, "%s: %s%s", files->v[i], e.msg,
                           st == DN_E_ARG && !o->normalize ? " (use --normalize)" : "");
        if (ds_append(ds, cap, px, label)) return ds_fail(err, DN_E_NOMEM, "out of memory");
    }
    return DN_OK;
}

static dn_status load_folder(const char *dir, const ds_opts *o, dn_dataset *ds, dn_error *err) {
    size_t cap = 0;
    ds->rows = ds->cols = 28;
    dn_status st = DN_OK;
    if (has_label_dirs(dir)) {
        for (int d = 0; d < 10 && st == DN_OK; d++) {
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%d", dir, d);
            if (!ds_is_dir(sub)) continue;
            ds_paths files = {0};
            st = ds_list_images(sub, 0, &files, err);
            if (st == DN_OK) st = load_files(&files, d, o, ds, &cap, err);
            ds_paths_free(&files);
        }
    } else {
        ds_paths files = {0};
        st = ds_list_images(dir, 0, &files, err);
        if (st == DN_OK) st = load_files(&files, -1, o, ds, &cap, err);
        ds_paths_free(&files);
    }
    if (st == DN_OK && ds->count == 0)
        st = ds_fail(err, DN_E_NODATA,
                     "%s: holds no images (expected subfolders 0..9 or image files)", dir);
    return st;
}

static dn_status load_idx_file(const char *path, dn_dataset *out, dn_error *err) {
    char lab[4096];
    const char *lp = NULL;
    if (labels_name(path, lab, sizeof lab) == 0 && strcmp(lab, path)) {
        if (access(lab, R_OK) == 0) {
            lp = lab;
        } else if (ends_with_ci(lab, ".gz")) {
            lab[strlen(lab) - 3] = 0;
            if (access(lab, R_OK) == 0) lp = lab;
        } else if (strlen(lab) + 4 < sizeof lab) {
            strcat(lab, ".gz");
            if (access(lab, R_OK) == 0) lp = lab;
        }
    }
    return dn_idx_load(path, lp, out, err);
}

dn_status ds_load(const char *path, ds_format f, const ds_opts *o, dn_dataset *out, dn_error *err) {
    *out = (dn_dataset){0};
    dn_status st;
    switch (f) {
    case DS_CSV:
        return dn_csv_load(path, out, err);
    case DS_IDX:
        if (!ds_is_dir(path)) return load_idx_file(path, out, err);
        if (!o->split)
            return ds_fail(err, DN_E_ARG, "%s: a directory of IDX files needs --split train|test",
                           path);
        return dn_mnist_load(path, o->split, out, err);
    case DS_FOLDER:
        st = load_folder(path, o, out, err);
        if (st != DN_OK) dn_dataset_free(out);
        return st;
    default:
        return ds_fail(err, DN_E_ARG, "%s: cannot tell the data format", path);
    }
}

/* Reorders a labeled set round-robin across labels (the first image of
 * each digit, then the second of each...), keeping the order within a
 * label: a folder tree is read digit by digit, and the validation images
 * held out of the end must hold every digit. */
static dn_status interleave(dn_dataset *ds, dn_error *err) {
    size_t count[10] = {0}, next[10] = {0}, start[10] = {0};
    for (size_t i = 0; i < ds->count; i++) count[ds->labels[i]]++;
    for (int d = 1; d < 10; d++) start[d] = start[d - 1] + count[d - 1];
    size_t *order = malloc((ds->count ? ds->count : 1) * sizeof *order);
    unsigned char *im = malloc(ds->count * 784 + 1), *lb = malloc(ds->count + 1);
    dn_status st = DN_OK;
    if (!order || !im || !lb) {
        st = ds_fail(err, DN_E_NOMEM, "out of memory");
    } else {
        /* by label: the index of each label's images in file order */
        size_t *pos = order;
        size_t fill[10];
        memcpy(fill, start, sizeof fill);
        for (size_t i = 0; i < ds->count; i++) pos[fill[ds->labels[i]]++] = i;
        size_t k = 0;
        for (size_t round = 0; k < ds->count; round++)
            for (int d = 0; d < 10; d++)
                if (round < count[d]) {
                    size_t i = pos[start[d] + next[d]++];
                    memcpy(im + k * 784, ds->images + i * 784, 784);
                    lb[k++] = ds->labels[i];
                }
        free(ds->images);
        free(ds->labels);
        ds->images = im;
        ds->labels = lb;
        im = lb = NULL;
    }
    free(order);
    free(im);
    free(lb);
    return st;
}

dn_status ds_load_data(const char *path, const char *split, const ds_opts *o, dn_dataset *out,
                       int *is_split, dn_error *err) {
    *out = (dn_dataset){0};
    if (is_split) *is_split = 0;
    struct stat st;
    if (stat(path, &st) != 0)
        return ds_fail(err, DN_E_IO, "%s: cannot open: %s", path, strerror(errno));
    dn_status s;
    ds_opts folder = *o;
    folder.split = split;
    if (S_ISDIR(st.st_mode) && has_label_dirs(path)) {
        s = ds_load(path, DS_FOLDER, &folder, out, err);
        if (s == DN_OK && out->labels) s = interleave(out, err);
        if (s != DN_OK) dn_dataset_free(out);
    } else if (S_ISDIR(st.st_mode)) {
        if (!has_idx_files(path))
            return ds_fail(err, DN_E_NODATA,
                           "%s: no data found: looked for %s-images-idx3-ubyte[.gz] (with its "
                           "labels file) and for subfolders 0..9 of images",
                           path, !strcmp(split, "test") ? "t10k" : split);
        if (is_split) *is_split = 1;
        s = dn_mnist_load(path, split, out, err);
    } else if (ends_with_ci(path, ".csv")) {
        s = dn_csv_load(path, out, err);
    } else if (ds_is_idx_file(path)) {
        s = load_idx_file(path, out, err);
    } else {
        return ds_fail(err, DN_E_ARG,
                       "%s: not a data set: expected a directory of MNIST-named IDX files, a "
                       "folder with subfolders 0..9 of images, a .csv file or an IDX file",
                       path);
    }
    if (s == DN_OK && !out->labels) {
        dn_dataset_free(out);
        return ds_fail(err, DN_E_ARG, "%s: has no labels (needed here)", path);
    }
    if (s == DN_OK && (out->rows != 28 || out->cols != 28)) {
        dn_dataset_free(out);
        return ds_fail(err, DN_E_ARG, "%s: holds %dx%d images, not 28x28", path, out->cols,
                       out->rows);
    }
    return s;
}

/* ======================================================================== */
/* Writing                                                                  */
/* ======================================================================== */

static void fsync_path(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}

static void fsync_parent(const char *path) {
    char *dup = strdup(path);
    if (!dup) return;
    char *slash = strrchr(dup, '/');
    if (slash == dup)
        dup[1] = 0;
    else if (slash)
        *slash = 0;
    fsync_path(slash ? dup : ".");
    free(dup);
}

/* Removes a folder we created: its files and, one level down, theirs. */
static void remove_tree(const char *dir, int depth) {
    ds_paths names = {0};
    if (read_dir(dir, &names, NULL) == DN_OK) {
        for (size_t i = 0; i < names.n; i++) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", dir, names.v[i]);
            if (depth < 2 && ds_is_dir(p))
                remove_tree(p, depth + 1);
            else
                unlink(p);
        }
    }
    ds_paths_free(&names);
    rmdir(dir);
}

static dn_status write_png(const char *path, const unsigned char *px, int w, int h, dn_error *err) {
    unsigned char *png = NULL;
    size_t size = 0;
    dn_status st = dn_png_encode_gray(px, w, h, &png, &size, err);
    if (st != DN_OK) return st;
    FILE *f = fopen(path, "wb");
    int bad = !f || fwrite(png, 1, size, f) != size;
    if (f && fclose(f)) bad = 1;
    free(png);
    if (bad) return ds_fail(err, DN_E_IO, "%s: cannot write: %s", path, strerror(errno));
    return DN_OK;
}

/* v with leading zeros to at least 5 digits, and more as count needs, so
 * that names sort in numeric order. */
static void file_number(char out[32], size_t v, size_t count) {
    char num[24];
    int k = snprintf(num, sizeof num, "%zu", v), width = 5;
    for (size_t lim = 100000; count >= lim && width < 20; lim *= 10) width++;
    int pad = width > k ? width - k : 0;
    memset(out, '0', (size_t)pad);
    memcpy(out + pad, num, (size_t)k + 1);
}

static dn_status fill_folder(const dn_dataset *ds, const char *tmp, dn_error *err) {
    size_t per[10] = {0}, pixels = (size_t)ds->rows * (size_t)ds->cols;
    char p[4160], num[32]; /* tmp is under 4096 bytes */
    for (int d = 0; ds->labels && d < 10; d++) {
        snprintf(p, sizeof p, "%s/%d", tmp, d);
        if (mkdir(p, 0777) != 0)
            return ds_fail(err, DN_E_IO, "%s: cannot create: %s", p, strerror(errno));
    }
    for (size_t i = 0; i < ds->count; i++) {
        if (ds->labels) {
            file_number(num, ++per[ds->labels[i]], ds->count);
            snprintf(p, sizeof p, "%s/%d/%s.png", tmp, ds->labels[i], num);
        } else {
            file_number(num, i + 1, ds->count);
            snprintf(p, sizeof p, "%s/%s.png", tmp, num);
        }
        dn_status st = write_png(p, ds->images + i * pixels, ds->cols, ds->rows, err);
        if (st != DN_OK) return st;
    }
    for (int d = 0; ds->labels && d < 10; d++) {
        snprintf(p, sizeof p, "%s/%d", tmp, d);
        fsync_path(p);
    }
    fsync_path(tmp);
    return DN_OK;
}

static dn_status save_folder(const dn_dataset *ds, const char *path, dn_error *err) {
    char dst[4000], tmp[4096];
    size_t n = strlen(path);
    if (n >= sizeof dst) return ds_fail(err, DN_E_ARG, "%s: path too long", path);
    memcpy(dst, path, n + 1);
    while (n > 1 && dst[n - 1] == '/') dst[--n] = 0;
    struct stat s;
    if (stat(dst, &s) == 0) {
        ds_paths names = {0};
        dn_status st = S_ISDIR(s.st_mode) ? read_dir(dst, &names, err) : DN_E_ARG;
        int empty = st == DN_OK && names.n == 0;
        ds_paths_free(&names);
        if (!empty) return ds_fail(err, DN_E_ARG, "%s: already exists; choose a new folder", dst);
    }
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", dst);
    if (!mkdtemp(tmp)) return ds_fail(err, DN_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmp, 0777 & ~mask);
    dn_status st = fill_folder(ds, tmp, err);
    if (st == DN_OK && rename(tmp, dst) != 0)
        st = ds_fail(err, DN_E_IO, "%s: cannot rename into place: %s", dst, strerror(errno));
    if (st != DN_OK) {
        remove_tree(tmp, 0);
        return st;
    }
    fsync_parent(dst);
    return DN_OK;
}

static dn_status save_idx(const dn_dataset *ds, const char *path, const ds_opts *o, dn_error *err) {
    char img[4096], lab[4096];
    int gzip = o->gzip || ends_with_ci(path, ".gz");
    if (ds_is_dir(path) || (o->split && !strstr(base_name(path), "idx3"))) {
        if (!o->split)
            return ds_fail(err, DN_E_ARG, "%s: writing IDX into a directory needs --split", path);
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return ds_fail(err, DN_E_IO, "%s: cannot create: %s", path, strerror(errno));
        const char *pre = !strcmp(o->split, "test") ? "t10k" : "train";
        snprintf(img, sizeof img, "%s/%s-images-idx3-ubyte%s", path, pre, gzip ? ".gz" : "");
        snprintf(lab, sizeof lab, "%s/%s-labels-idx1-ubyte%s", path, pre, gzip ? ".gz" : "");
    } else {
        snprintf(img, sizeof img, "%s", path);
        if (ds->labels && labels_name(img, lab, sizeof lab))
            return ds_fail(err, DN_E_ARG,
                           "%s: cannot name the labels file (use a name with 'images' or "
                           "'idx3' in it)",
                           path);
    }
    return dn_idx_save(ds, img, ds->labels ? lab : NULL, gzip, err);
}

dn_status ds_save(const dn_dataset *ds, const char *path, ds_format f, const ds_opts *o,
                  dn_error *err) {
    switch (f) {
    case DS_CSV:
        return dn_csv_save(ds, path, err);
    case DS_IDX:
        return save_idx(ds, path, o, err);
    case DS_FOLDER:
        return save_folder(ds, path, err);
    default:
        return ds_fail(err, DN_E_ARG, "%s: cannot tell the data format", path);
    }
}

dn_dataset ds_tail(const dn_dataset *ds, size_t n) {
    size_t skip = ds->count - n;
    return (dn_dataset){n, ds->rows, ds->cols, ds->images + skip * (size_t)ds->rows * ds->cols,
                        ds->labels ? ds->labels + skip : NULL};
}

dn_status ds_load_finetune(const char *user_path, const char *mnist_dir, const ds_opts *o,
                           dn_dataset *out, size_t *mine, size_t *reps, dn_error *err) {
    dn_dataset user = {0}, mnist = {0};
    *out = (dn_dataset){0};
    dn_status st = ds_load_data(user_path, "train", o, &user, NULL, err);
    if (st == DN_OK) st = dn_mnist_load(mnist_dir, "train", &mnist, err);
    if (st == DN_OK && (user.rows != 28 || user.cols != 28 || !user.labels))
        st = ds_fail(err, DN_E_ARG, "%s: need labeled 28x28 images", user_path);
    size_t r = user.count ? (6000 + user.count - 1) / user.count : 0;
    if (r > 1000) r = 1000;
    size_t total = user.count * r + mnist.count;
    if (st == DN_OK) {
        *out = (dn_dataset){total, 28, 28, malloc(total * 784), malloc(total)};
        if (!out->images || !out->labels) {
            dn_dataset_free(out);
            st = ds_fail(err, DN_E_NOMEM, "out of memory");
        }
    }
    if (st == DN_OK) {
        for (size_t k = 0; k < r; k++) {
            memcpy(out->images + k * user.count * 784, user.images, user.count * 784);
            memcpy(out->labels + k * user.count, user.labels, user.count);
        }
        memcpy(out->images + r * user.count * 784, mnist.images, mnist.count * 784);
        memcpy(out->labels + r * user.count, mnist.labels, mnist.count);
        *mine = user.count;
        *reps = r;
    }
    dn_dataset_free(&user);
    dn_dataset_free(&mnist);
    return st;
}
