/*
 * common.c — status strings, error formatting, RNG, clock, threads and
 * the file helpers every writer uses (atomic replace, bounded read).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifndef DN_NO_ZLIB
#include <zlib.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

const char *dn_version(void) {
    return DN_VERSION_STRING;
}

const char *dn_strerror(dn_status s) {
    switch (s) {
    case DN_OK:
        return "success";
    case DN_E_NOMEM:
        return "out of memory";
    case DN_E_IO:
        return "input/output error";
    case DN_E_FORMAT:
        return "malformed data";
    case DN_E_ARG:
        return "invalid argument";
    case DN_E_UNSUPPORTED:
        return "unsupported";
    case DN_E_DIVERGED:
        return "training diverged (loss is NaN or infinite)";
    case DN_E_CANCELLED:
        return "cancelled";
    case DN_E_NODATA:
        return "no data";
    case DN_E_LIMIT:
        return "over a size or work limit";
    }
    return "unknown status";
}

dn_status dn_fail(dn_error *err, dn_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

/* ---------------------------------------------------------------- threads */

static int dn_threads_ = 0; /* 0 = not set: all cores */

void dn_set_threads(int n) {
#ifdef _OPENMP
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
#else
    if (n <= 0) n = 1;
#endif
    dn_threads_ = n;
}

int dn_get_threads(void) {
#ifdef _OPENMP
    return dn_threads_ > 0 ? dn_threads_ : omp_get_max_threads();
#else
    return 1;
#endif
}

/* ---------------------------------------------------------------- RNG */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void dn_rng_seed(dn_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

double dn_rng_uniform(dn_rng *r) {
    return (double)(dn_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t dn_rng_below(dn_rng *r, uint64_t n) {
    /* rejection sampling: no modulo bias */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = dn_rng_u64(r);
    while (x >= limit);
    return x % n;
}

double dn_rng_normal(dn_rng *r) {
    double u1 = dn_rng_uniform(r), u2 = dn_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---------------------------------------------------------------- misc */

double dn_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void *dn_calloc(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    size_t bytes = n * size;
    if (bytes < 4096 || bytes > SIZE_MAX - 64) return calloc(n ? n : 1, size ? size : 1);
    /* buffers of a page or more start on a cache line, so that rows of
     * 784 floats (49 lines) never straddle two lines in a vector load */
    void *p = NULL;
    if (posix_memalign(&p, 64, (bytes + 63) & ~(size_t)63) != 0) return NULL;
    return memset(p, 0, bytes);
}

/* ---------------------------------------------------------------- files */

static int fsync_dir_of(const char *path) {
    char *copy = strdup(path);
    if (!copy) return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* What a non-regular file is, for messages. */
static const char *file_kind(mode_t m) {
    return S_ISDIR(m)    ? "a directory"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISSOCK(m) ? "a socket"
                         : "not a regular file";
}

/* The checks of dn_output_check that create nothing. */
static dn_status output_kind(const char *path, dn_error *err) {
    if (!path || !*path) return dn_fail(err, DN_E_ARG, "the output file name is empty");
    size_t n = strlen(path);
    if (path[n - 1] == '/')
        return dn_fail(err, DN_E_ARG, "%s: is a directory name, not a file", path);
    struct stat st;
    /* stat follows a link: a link to a regular file is replaced like one */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return dn_fail(err, DN_E_ARG, "%s: is %s; outputs must be regular files or new paths", path,
                       file_kind(st.st_mode));
    return DN_OK;
}

/* A fresh, unpredictable suffix for a temporary name. */
static void random_suffix(char out[13]) {
    static const char abc[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char r[12];
    int got = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        got = read(fd, r, sizeof r) == (ssize_t)sizeof r;
        close(fd);
    }
    if (!got) { /* no /dev/urandom: time, address and pid still differ per call */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid() ^
                     (uint64_t)(uintptr_t)out;
        for (int i = 0; i < 12; i++) r[i] = (unsigned char)(splitmix64(&x) >> 32);
    }
    for (int i = 0; i < 12; i++) out[i] = abc[r[i] % (sizeof abc - 1)];
    out[12] = 0;
}

dn_status dn_atomic_open(dn_atomic_file *f, const char *path, dn_error *err) {
    f->path = path;
    f->fd = -1;
    f->tmp = NULL;
    dn_status st = output_kind(path, err);
    if (st != DN_OK) return st;
    size_t len = strlen(path);
    f->tmp = malloc(len + 20);
    if (!f->tmp) return dn_fail(err, DN_E_NOMEM, "%s: out of memory", path);
    int e = 0;
    for (int tries = 0; tries < 100; tries++) {
        char suffix[13];
        random_suffix(suffix);
        snprintf(f->tmp, len + 20, "%s.tmp.%s", path, suffix);
        /* O_EXCL: never an existing file, never through a planted link */
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f->fd >= 0) return DN_OK;
        e = errno;
        if (e != EEXIST) break;
    }
    free(f->tmp);
    f->tmp = NULL;
    return dn_fail(err, DN_E_IO, "%s: cannot write: %s", path, strerror(e));
}

dn_status dn_output_check(const char *path, dn_error *err) {
    dn_atomic_file f;
    dn_status st = dn_atomic_open(&f, path, err);
    if (st != DN_OK) return st;
    close(f.fd);
    unlink(f.tmp);
    free(f.tmp);
    return DN_OK;
}

int dn_write_all(int fd, const void *data, size_t size) {
    const unsigned char *p = data;
    while (size > 0) {
        ssize_t w = write(fd, p, size);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w < 0 ? errno : ENOSPC;
        p += w;
        size -= (size_t)w;
    }
    return 0;
}

dn_status dn_atomic_commit(dn_atomic_file *f, int write_error, dn_error *err) {
    const char *what = "write failed";
    int e = write_error;
    if (!e && fsync(f->fd) != 0) e = errno, what = "cannot flush";
    if (close(f->fd) != 0 && !e) e = errno, what = "cannot flush";
    /* the target may have become a device or a directory meanwhile */
    struct stat st;
    if (!e && stat(f->path, &st) == 0 && !S_ISREG(st.st_mode)) {
        unlink(f->tmp);
        dn_status s =
            dn_fail(err, DN_E_ARG, "%s: is %s; outputs must be regular files or new paths", f->path,
                    file_kind(st.st_mode));
        free(f->tmp);
        f->tmp = NULL;
        f->fd = -1;
        return s;
    }
    if (!e && rename(f->tmp, f->path) != 0) e = errno, what = "cannot rename into place";
    dn_status ret = DN_OK;
    if (e) {
        unlink(f->tmp);
        ret = dn_fail(err, DN_E_IO, "%s: %s: %s", f->path, what, strerror(e));
    } else {
        fsync_dir_of(f->path); /* best effort: the rename is already durable on most filesystems */
    }
    free(f->tmp);
    f->tmp = NULL;
    f->fd = -1;
    return ret;
}

dn_status dn_write_atomic(const char *path, const void *data, size_t size, dn_error *err) {
    dn_atomic_file f;
    dn_status st = dn_atomic_open(&f, path, err);
    if (st != DN_OK) return st;
    return dn_atomic_commit(&f, dn_write_all(f.fd, data, size), err);
}

dn_status dn_open_input(const char *path, FILE **out, size_t *size, dn_error *err) {
    *out = NULL;
    if (size) *size = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return dn_fail(err, DN_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return dn_fail(err, DN_E_IO, "%s: cannot open: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return dn_fail(err, DN_E_IO, "%s: is %s, not a file", path, file_kind(st.st_mode));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        return dn_fail(err, DN_E_NOMEM, "%s: cannot open: %s", path, strerror(e));
    }
    *out = f;
    if (size) *size = (size_t)st.st_size;
    return DN_OK;
}

dn_status dn_read_file(const char *path, size_t max_size, unsigned char **out, size_t *out_size,
                       dn_error *err) {
    *out = NULL;
    *out_size = 0;
    FILE *f;
    size_t declared;
    dn_status st = dn_open_input(path, &f, &declared, err);
    if (st != DN_OK) return st;
    if (declared > max_size) {
        fclose(f);
        return dn_fail(err, DN_E_FORMAT, "%s: file is larger than %zu bytes", path, max_size);
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return dn_fail(err, DN_E_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap >= max_size) {
                free(buf);
                fclose(f);
                return dn_fail(err, DN_E_FORMAT, "%s: file is larger than %zu bytes", path,
                               max_size);
            }
            size_t ncap = cap * 2 > max_size ? max_size : cap * 2;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return dn_fail(err, DN_E_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        return dn_fail(err, DN_E_IO, "%s: read error: %s", path, strerror(e));
    }
    fclose(f);
    if (n == cap && n == max_size) {
        /* exactly at the limit: fine only when nothing follows; fread saw EOF */
    }
    *out = buf;
    *out_size = n;
    return DN_OK;
}

#ifndef DN_NO_ZLIB
uint32_t dn_crc32_update(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = data;
    uLong c = crc;
    while (n > 0) {
        uInt k = n > (1u << 30) ? 1u << 30 : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}
#else
/* Builds without zlib (the WebAssembly page): the same CRC-32, reflected
 * polynomial 0xEDB88320, a byte at a time from a table made on first use
 * (such a build runs on one thread). */
uint32_t dn_crc32_update(uint32_t crc, const void *data, size_t n) {
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    const unsigned char *p = data;
    crc = ~crc;
    while (n--) crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
#endif

uint32_t dn_checksum(const void *data, size_t n) {
    return dn_crc32_update(0, data, n);
}
