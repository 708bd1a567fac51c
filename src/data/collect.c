/*
 * collect.c — the --collect dataset: the user's own digits, appended one at
 * a time to an MNIST-layout IDX pair (contract in collect.h).
 *
 * An append writes only what is new: the image and the label at the ends
 * of their files, both synced, and then the new count into each header
 * (images first), each synced; the sample is acknowledged after the last
 * sync. So whatever moment a crash picks, a file holds its header's count
 * of samples, maybe followed by a torn tail that no header counts, and the
 * images header is never behind the labels header by more than the one
 * unacknowledged sample. dn_collect_open cuts torn tails and, when the two
 * counts differ, keeps the smaller. Anything else that does not parse (a
 * file shorter than its header says, a wrong magic, a label over 9) is
 * reported, never silently repaired. Files are uncompressed (gzip is
 * refused) and opened without following links.
 *
 * Test hook (test builds only, see DN_TEST_HOOK in internal.h):
 * DIGITNET_TEST_KILL_IN_APPEND=S raises SIGKILL at stage S of
 * every append (1: after the image and label are written, 2: after they
 * are synced, 3: after the images header, 4: after the labels header).
 */
#include "data/collect.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMG_HDR 16
#define LBL_HDR 8
#define PIX 784

struct dn_collect {
    char *images_path, *labels_path;
    int lock_fd, img_fd, lbl_fd;
    int kill_stage; /* the test hook, 0 = off */
    pthread_mutex_t mu;
    size_t count;
};

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, name, b + 1);
    return s;
}

/* All of buf at off, or -1 with errno set. */
static int pwrite_all(int fd, const void *buf, size_t n, off_t off) {
    const unsigned char *p = buf;
    while (n) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w, n -= (size_t)w, off += w;
    }
    return 0;
}

static int pread_all(int fd, void *buf, size_t n, off_t off) {
    unsigned char *p = buf;
    while (n) {
        ssize_t r = pread(fd, p, n, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r, n -= (size_t)r, off += r;
    }
    return 0;
}

/* Writes count n into the header of fd (its count field is at offset 4). */
static int put_count(int fd, size_t n) {
    unsigned char b[4];
    dn_put_be32(b, (uint32_t)n);
    return pwrite_all(fd, b, 4, 4);
}

/* Opens one file of the pair read-write, creating it empty (count 0) when
 * missing; validates its header and length, cuts a torn tail, and returns
 * its count in *n. */
static dn_status open_part(const char *path, int is_images, int *fd_out, size_t *n, dn_error *err) {
    const size_t hdr = is_images ? IMG_HDR : LBL_HDR, item = is_images ? PIX : 1;
    *fd_out = -1;
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        unsigned char h[IMG_HDR] = {0};
        dn_put_be32(h, is_images ? 0x803u : 0x801u);
        if (is_images) dn_put_be32(h + 8, 28), dn_put_be32(h + 12, 28);
        dn_status s = dn_write_atomic(path, h, hdr, err);
        if (s != DN_OK) return s;
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0) return dn_fail(err, DN_E_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    unsigned char h[IMG_HDR];
    dn_status s = DN_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        s = dn_fail(err, DN_E_IO, "%s: not a regular file", path);
    else if (st.st_size >= 2 && pread_all(fd, h, 2, 0) == 0 && h[0] == 0x1f && h[1] == 0x8b)
        s = dn_fail(err, DN_E_FORMAT,
                    "%s: is gzip-compressed; the collected dataset must be uncompressed", path);
    else if ((size_t)st.st_size < hdr || pread_all(fd, h, hdr, 0) != 0 ||
             dn_get_be32(h) != (is_images ? 0x803u : 0x801u) ||
             (is_images && (dn_get_be32(h + 8) != 28 || dn_get_be32(h + 12) != 28)) ||
             dn_get_be32(h + 4) > DN_COLLECT_MAX ||
             (uint64_t)st.st_size < hdr + (uint64_t)dn_get_be32(h + 4) * item)
        s = dn_fail(err, DN_E_FORMAT,
                    "%s: not a %s IDX file of this dataset (wrong magic, size or length); "
                    "move it away or choose another --collect directory",
                    path, is_images ? "28x28 image" : "label");
    size_t cnt = s == DN_OK ? dn_get_be32(h + 4) : 0, need = hdr + cnt * item;
    /* bytes past the count: an append that never reached its header */
    if (s == DN_OK && (size_t)st.st_size > need && (ftruncate(fd, (off_t)need) || fsync(fd)))
        s = dn_fail(err, DN_E_IO, "%s: cannot cut an unfinished append: %s", path, strerror(errno));
    if (s == DN_OK && !is_images && cnt) {
        unsigned char *lab = malloc(cnt);
        if (!lab || pread_all(fd, lab, cnt, LBL_HDR) != 0) {
            s = lab ? dn_fail(err, DN_E_IO, "%s: cannot read: %s", path, strerror(errno))
                    : dn_fail(err, DN_E_NOMEM, "out of memory");
        } else {
            for (size_t i = 0; i < cnt && s == DN_OK; i++)
                if (lab[i] > 9)
                    s = dn_fail(err, DN_E_FORMAT, "%s: label %u out of range 0..9", path, lab[i]);
        }
        free(lab);
    }
    if (s != DN_OK) {
        close(fd);
        return s;
    }
    *fd_out = fd;
    *n = cnt;
    return DN_OK;
}

/* Sets file fd (header hdr, items of `item` bytes) to n samples. */
static int shrink_to(int fd, size_t hdr, size_t item, size_t n) {
    return put_count(fd, n) || ftruncate(fd, (off_t)(hdr + n * item)) || fsync(fd) ? -1 : 0;
}

static dn_status load(dn_collect *c, dn_error *err) {
    size_t ni = 0, nl = 0;
    dn_status s = open_part(c->images_path, 1, &c->img_fd, &ni, err);
    if (s == DN_OK) s = open_part(c->labels_path, 0, &c->lbl_fd, &nl, err);
    if (s != DN_OK) return s;
    size_t n = ni < nl ? ni : nl;
    /* an append stopped between the two headers: the sample is not kept */
    if ((ni > n && shrink_to(c->img_fd, IMG_HDR, PIX, n)) ||
        (nl > n && shrink_to(c->lbl_fd, LBL_HDR, 1, n)))
        return dn_fail(err, DN_E_IO, "%s: cannot repair an unfinished append: %s",
                       ni > n ? c->images_path : c->labels_path, strerror(errno));
    c->count = n;
    return DN_OK;
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
    c->lock_fd = c->img_fd = c->lbl_fd = -1;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return dn_fail(err, DN_E_NOMEM, "cannot create a mutex");
    }
    long hook = DN_TEST_HOOK("DIGITNET_TEST_KILL_IN_APPEND");
    c->kill_stage = hook > 0 && hook < 5 ? (int)hook : 0;
    dn_status s = DN_OK;
    char *lock_path = join(dir, ".lock");
    c->images_path = join(dir, "train-images-idx3-ubyte");
    c->labels_path = join(dir, "train-labels-idx1-ubyte");
    if (!lock_path || !c->images_path || !c->labels_path) {
        s = dn_fail(err, DN_E_NOMEM, "out of memory");
    } else {
        c->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
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

static void test_kill(const dn_collect *c, int stage) {
    if (c->kill_stage == stage) raise(SIGKILL);
}

dn_status dn_collect_append(dn_collect *c, const unsigned char image[784], int label, size_t *count,
                            dn_error *err) {
    if (label < 0 || label > 9) return dn_fail(err, DN_E_ARG, "label %d is not a digit", label);
    pthread_mutex_lock(&c->mu);
    dn_status s = DN_OK;
    size_t n = c->count;
    unsigned char lab = (unsigned char)label;
    if (n >= DN_COLLECT_MAX) {
        s = dn_fail(err, DN_E_UNSUPPORTED, "the dataset is full (%d samples)", DN_COLLECT_MAX);
    } else if (pwrite_all(c->img_fd, image, PIX, (off_t)(IMG_HDR + n * PIX)) ||
               pwrite_all(c->lbl_fd, &lab, 1, (off_t)(LBL_HDR + n)) ||
               (test_kill(c, 1), fdatasync(c->img_fd)) || fdatasync(c->lbl_fd) ||
               (test_kill(c, 2), put_count(c->img_fd, n + 1)) || fdatasync(c->img_fd) ||
               (test_kill(c, 3), put_count(c->lbl_fd, n + 1)) || fdatasync(c->lbl_fd)) {
        s = dn_fail(err, DN_E_IO, "%s: cannot append: %s", c->images_path, strerror(errno));
        /* best effort: back to n samples; if this fails too, the next open
         * cuts the tail and matches the counts */
        shrink_to(c->img_fd, IMG_HDR, PIX, n);
        shrink_to(c->lbl_fd, LBL_HDR, 1, n);
    } else {
        test_kill(c, 4);
        c->count = n + 1;
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
    if (c->img_fd >= 0) close(c->img_fd);
    if (c->lbl_fd >= 0) close(c->lbl_fd);
    if (c->lock_fd >= 0) close(c->lock_fd); /* releases the lock */
    pthread_mutex_destroy(&c->mu);
    free(c->images_path);
    free(c->labels_path);
    free(c);
}
