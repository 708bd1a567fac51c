/*
 * collect.c — the --collect dataset: the user's own digits, appended one at
 * a time to an MNIST-layout IDX pair (see api.h for the contract).
 *
 * Crash safety comes from never modifying a file in place: the whole file is
 * kept in memory (header included, so it can be written with one call) and
 * every append replaces it with dn_write_atomic (PATH.tmp, fsync, rename,
 * fsync of the directory).  The images file is replaced before the labels
 * file, so the only inconsistent state a crash can leave is "one image more
 * than labels"; dn_collect_open resolves it by keeping the smaller count and
 * rewriting the longer file.  Anything else that does not parse is reported,
 * never silently repaired.  Files are uncompressed (gzip is refused).
 */
#include "internal.h"
#include "server/api.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMG_HDR 16
#define LBL_HDR 8
#define PIX 784

struct dn_collect {
    char *images_path, *labels_path;
    int lock_fd;
    pthread_mutex_t mu;
    unsigned char *img; /* IMG_HDR + cap*PIX: the images file as it is on disk */
    unsigned char *lbl; /* LBL_HDR + cap: the labels file */
    size_t count, cap;
};

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, name, b + 1);
    return s;
}

/* Grows both buffers to hold at least n samples. */
static int reserve(dn_collect *c, size_t n) {
    if (n <= c->cap) return 0;
    size_t ncap = c->cap ? c->cap : 64;
    while (ncap < n) ncap *= 2;
    if (ncap > DN_COLLECT_MAX) ncap = DN_COLLECT_MAX;
    unsigned char *img = realloc(c->img, IMG_HDR + ncap * PIX);
    if (!img) return -1;
    c->img = img;
    unsigned char *lbl = realloc(c->lbl, LBL_HDR + ncap);
    if (!lbl) return -1;
    c->lbl = lbl;
    c->cap = ncap;
    return 0;
}

/* Reads an existing file of the pair; *n = -1 when it does not exist. */
static dn_status load_part(const char *path, int is_images, unsigned char **data, long *n,
                           dn_error *err) {
    *data = NULL;
    *n = -1;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) return DN_OK;
        return dn_fail(err, DN_E_IO, "%s: %s", path, strerror(errno));
    }
    size_t hdr = is_images ? IMG_HDR : LBL_HDR, item = is_images ? PIX : 1;
    size_t size;
    dn_status s = dn_read_file(path, hdr + (size_t)DN_COLLECT_MAX * item, data, &size, err);
    if (s != DN_OK) return s;
    const unsigned char *p = *data;
    if (size >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
        free(*data);
        *data = NULL;
        return dn_fail(err, DN_E_FORMAT,
                       "%s: is gzip-compressed; the collected dataset must be uncompressed", path);
    }
    if (size < hdr || get_be32(p) != (is_images ? 0x803u : 0x801u) ||
        (is_images && (get_be32(p + 8) != 28 || get_be32(p + 12) != 28)) ||
        get_be32(p + 4) > DN_COLLECT_MAX || size != hdr + get_be32(p + 4) * item) {
        free(*data);
        *data = NULL;
        return dn_fail(err, DN_E_FORMAT,
                       "%s: not a %s IDX file of this dataset (wrong magic, size or length); "
                       "move it away or choose another --collect directory",
                       path, is_images ? "28x28 image" : "label");
    }
    *n = (long)get_be32(p + 4);
    if (!is_images)
        for (long i = 0; i < *n; i++)
            if (p[LBL_HDR + i] > 9) {
                free(*data);
                *data = NULL;
                return dn_fail(err, DN_E_FORMAT, "%s: label %u out of range 0..9", path,
                               p[LBL_HDR + i]);
            }
    return DN_OK;
}

static dn_status write_images(dn_collect *c, size_t n, dn_error *err) {
    put_be32(c->img + 4, (uint32_t)n);
    return dn_write_atomic(c->images_path, c->img, IMG_HDR + n * PIX, err);
}

static dn_status write_labels(dn_collect *c, size_t n, dn_error *err) {
    put_be32(c->lbl + 4, (uint32_t)n);
    return dn_write_atomic(c->labels_path, c->lbl, LBL_HDR + n, err);
}

static dn_status load(dn_collect *c, dn_error *err) {
    unsigned char *img = NULL, *lbl = NULL;
    long ni, nl;
    dn_status s = load_part(c->images_path, 1, &img, &ni, err);
    if (s == DN_OK) s = load_part(c->labels_path, 0, &lbl, &nl, err);
    if (s != DN_OK) {
        free(img);
        return s;
    }
    long n = ni < nl ? ni : nl;
    if (n < 0) n = 0;
    if (reserve(c, n > 0 ? (size_t)n : 1)) s = dn_fail(err, DN_E_NOMEM, "out of memory");
    if (s == DN_OK) {
        put_be32(c->img, 0x803);
        put_be32(c->img + 8, 28);
        put_be32(c->img + 12, 28);
        put_be32(c->lbl, 0x801);
        if (n > 0) {
            memcpy(c->img + IMG_HDR, img + IMG_HDR, (size_t)n * PIX);
            memcpy(c->lbl + LBL_HDR, lbl + LBL_HDR, (size_t)n);
        }
        c->count = (size_t)n;
        /* Repair the state an interrupted append leaves (or a lone file). */
        if (ni >= 0 && ni != n) s = write_images(c, (size_t)n, err);
        if (s == DN_OK && nl >= 0 && nl != n) s = write_labels(c, (size_t)n, err);
    }
    free(img);
    free(lbl);
    return s;
}

dn_status dn_collect_open(const char *dir, dn_collect **out, dn_error *err) {
    *out = NULL;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return dn_fail(err, DN_E_IO, "%s: cannot create directory: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return dn_fail(err, DN_E_IO, "%s: not a directory", dir);
    dn_collect *c = dn_calloc(1, sizeof *c);
    if (!c) return dn_fail(err, DN_E_NOMEM, "out of memory");
    c->lock_fd = -1;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return dn_fail(err, DN_E_NOMEM, "cannot create a mutex");
    }
    dn_status s = DN_OK;
    char *lock_path = join(dir, ".lock");
    c->images_path = join(dir, "train-images-idx3-ubyte");
    c->labels_path = join(dir, "train-labels-idx1-ubyte");
    if (!lock_path || !c->images_path || !c->labels_path) {
        s = dn_fail(err, DN_E_NOMEM, "out of memory");
    } else {
        c->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (c->lock_fd < 0)
            s = dn_fail(err, DN_E_IO, "%s: cannot create: %s", lock_path, strerror(errno));
        else if (flock(c->lock_fd, LOCK_EX | LOCK_NB) != 0)
            s = dn_fail(err, DN_E_IO, "%s: in use by another process (%s)", dir,
                        errno == EWOULDBLOCK ? "locked" : strerror(errno));
    }
    free(lock_path);
    if (s == DN_OK) s = load(c, err);
    if (s != DN_OK) {
        dn_collect_free(c);
        return s;
    }
    *out = c;
    return DN_OK;
}

dn_status dn_collect_append(dn_collect *c, const unsigned char image[784], int label, size_t *count,
                            dn_error *err) {
    if (label < 0 || label > 9) return dn_fail(err, DN_E_ARG, "label %d is not a digit", label);
    pthread_mutex_lock(&c->mu);
    dn_status s = DN_OK;
    size_t n = c->count;
    if (n >= DN_COLLECT_MAX)
        s = dn_fail(err, DN_E_UNSUPPORTED, "the dataset is full (%d samples)", DN_COLLECT_MAX);
    else if (reserve(c, n + 1))
        s = dn_fail(err, DN_E_NOMEM, "out of memory");
    if (s == DN_OK) {
        memcpy(c->img + IMG_HDR + n * PIX, image, PIX);
        c->lbl[LBL_HDR + n] = (unsigned char)label;
        s = write_images(c, n + 1, err);
        if (s == DN_OK) {
            s = write_labels(c, n + 1, err);
            /* Best effort: put the images file back in step; if this fails
             * too, the next open (or append) resolves it. */
            if (s != DN_OK) write_images(c, n, NULL);
        }
        if (s == DN_OK)
            c->count = n + 1;
        else {
            put_be32(c->img + 4, (uint32_t)n);
            put_be32(c->lbl + 4, (uint32_t)n);
        }
    }
    if (count) *count = c->count;
    pthread_mutex_unlock(&c->mu);
    return s;
}

size_t dn_collect_count(dn_collect *c) {
    pthread_mutex_lock(&c->mu);
    size_t n = c->count;
    pthread_mutex_unlock(&c->mu);
    return n;
}

void dn_collect_free(dn_collect *c) {
    if (!c) return;
    if (c->lock_fd >= 0) close(c->lock_fd); /* releases the lock */
    pthread_mutex_destroy(&c->mu);
    free(c->images_path);
    free(c->labels_path);
    free(c->img);
    free(c->lbl);
    free(c);
}
