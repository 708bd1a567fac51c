/*
 * fuzz_common.h — helpers shared by the fuzz targets in this directory.
 *
 * Each target file defines `int fuzz_one_<name>(const uint8_t *, size_t)`,
 * which runs one input through the library and aborts (via FUZZ_CHECK) when
 * a documented contract is broken; LLVMFuzzerTestOneInput only forwards to
 * it.  Defining DN_FUZZ_NO_MAIN leaves the libFuzzer entry points out, so
 * tests/test_fuzz_regressions.c can #include every target into one plain
 * executable and replay the corpus and the regression inputs.
 *
 * Provides: FUZZ_CHECK, a reusable scratch file for loaders that take a path
 * (written afresh for every input), gzip compression in memory, PNG chunk
 * CRC repair, and a sink that makes the sanitizers read a whole buffer.
 * Everything is static so several targets can share one translation unit.
 * Nothing here is part of the library.
 */
#ifndef DN_FUZZ_COMMON_H
#define DN_FUZZ_COMMON_H

#include "digitnet.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

int fuzz_one_idx(const uint8_t *data, size_t size);
int fuzz_one_csv(const uint8_t *data, size_t size);
int fuzz_one_model(const uint8_t *data, size_t size);
int fuzz_one_image(const uint8_t *data, size_t size);
int fuzz_one_api(const uint8_t *data, size_t size);
int fuzz_one_upload(const uint8_t *data, size_t size);
int fuzz_one_request(const uint8_t *data, size_t size);

/* A broken contract is a finding: report it and abort so libFuzzer keeps
 * the input. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz contract violated: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A copy of exactly n bytes of p, so reads past the end are caught. */
static inline uint8_t *fuzz_copy(const uint8_t *p, size_t n) {
    uint8_t *c = malloc(n ? n : 1);
    FUZZ_CHECK(c != NULL);
    if (n) memcpy(c, p, n);
    return c;
}

/* Reads every byte so AddressSanitizer sees an out-of-bounds size. */
static inline void fuzz_touch(const void *p, size_t n) {
    const volatile unsigned char *b = p;
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) sum += b[i];
    (void)sum;
}

/* ---------------------------------------------------------------- files */

/* A scratch file created once per target and rewritten for every input.
 * When /proc/self/fd is available the name is unlinked at once and the
 * file is reached through its descriptor, so nothing is left behind. */
typedef struct fuzz_file {
    int live, fd;
    char path[256];
} fuzz_file;

/* TMPDIR when set, else /dev/shm when writable (memory, so rewriting a file
 * for every input never waits for a disk), else /tmp. */
static inline const char *fuzz_tmpdir(void) {
    const char *d = getenv("TMPDIR");
    if (d && *d) return d;
    return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

static inline void fuzz_file_open(fuzz_file *f, const char *tag) {
    if (f->live) return;
    char name[256];
    snprintf(name, sizeof name, "%s/digitnet-fuzz-%s-XXXXXX", fuzz_tmpdir(), tag);
    int fd = mkstemp(name);
    FUZZ_CHECK(fd >= 0);
    snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", fd);
    struct stat st;
    if (stat(f->path, &st) == 0) {
        unlink(name);
    } else {
        /* No /proc: keep the name; the file is removed by fuzz_file_close. */
        snprintf(f->path, sizeof f->path, "%s", name);
    }
    f->fd = fd;
    f->live = 1;
}

/* Replaces the file's contents with data[0..n). */
static inline void fuzz_file_write(fuzz_file *f, const uint8_t *data, size_t n) {
    FUZZ_CHECK(ftruncate(f->fd, 0) == 0);
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(f->fd, data + done, n - done, (off_t)done);
        if (w < 0 && errno == EINTR) continue;
        FUZZ_CHECK(w > 0);
        done += (size_t)w;
    }
}

static inline void fuzz_file_close(fuzz_file *f) {
    if (!f->live) return;
    if (strncmp(f->path, "/proc/", 6) != 0) unlink(f->path);
    close(f->fd);
    f->live = 0;
}

/* ---------------------------------------------------------------- gzip */

/* Compresses src into a gzip stream; *out is malloc'd. */
static inline void fuzz_gzip(const uint8_t *src, size_t n, uint8_t **out, size_t *out_n) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    FUZZ_CHECK(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    size_t cap = deflateBound(&zs, (uLong)n) + 32;
    uint8_t *buf = malloc(cap);
    FUZZ_CHECK(buf != NULL);
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    zs.next_out = buf;
    zs.avail_out = (uInt)cap;
    FUZZ_CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    *out_n = cap - zs.avail_out;
    *out = buf;
    deflateEnd(&zs);
}

/* ---------------------------------------------------------------- PNG */

/* Recomputes the CRC of every complete chunk of a PNG in place, so that
 * mutated headers and palettes reach the decoder instead of failing
 * libpng's checksum test.  Bytes that do not look like a PNG are left. */
static inline void fuzz_png_fix_crcs(uint8_t *p, size_t n) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n < 8 || memcmp(p, sig, 8) != 0) return;
    size_t i = 8;
    while (i + 12 <= n) {
        uint32_t len =
            (uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 | (uint32_t)p[i + 2] << 8 | p[i + 3];
        if (len > n - i - 12) return;
        uLong crc = crc32(0L, p + i + 4, (uInt)(len + 4));
        uint8_t *c = p + i + 8 + len;
        c[0] = (uint8_t)(crc >> 24);
        c[1] = (uint8_t)(crc >> 16);
        c[2] = (uint8_t)(crc >> 8);
        c[3] = (uint8_t)crc;
        i += 12 + (size_t)len;
    }
}

/* Checks what every failing call promises: a known status and a message. */
static inline void fuzz_check_failure(dn_status st, const dn_error *err) {
    FUZZ_CHECK(st > DN_OK && st <= DN_E_LIMIT);
    FUZZ_CHECK(err->msg[0] != '\0');
    FUZZ_CHECK(memchr(err->msg, '\0', sizeof err->msg) != NULL);
}

#endif
