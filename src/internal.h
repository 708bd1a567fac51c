/*
 * internal.h — helpers shared by the library's modules: error reporting,
 * the explicit RNG, checked allocation and a monotonic clock.
 * Nothing here is public; nothing here prints.
 */
#ifndef DN_INTERNAL_H
#define DN_INTERNAL_H

#include "digitnet.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__GNUC__)
#define DN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DN_PRINTF(a, b)
#endif

/* The largest image, in pixels, that decoding (by default) and
 * normalisation accept: the one library-wide limit (a caller such as the
 * server may pass a lower one to dn_image_decode_limited). */
#define DN_IMAGE_MAX_PIXELS 50000000ull

/* Formats a message into err (when not NULL) and returns status. */
dn_status dn_fail(dn_error *err, dn_status status, const char *fmt, ...) DN_PRINTF(3, 4);

/* ---- RNG: xoshiro256** seeded by splitmix64; state is always explicit. ---- */
typedef struct dn_rng {
    uint64_t s[4];
} dn_rng;

void dn_rng_seed(dn_rng *r, uint64_t seed);

/* The next 64 random bits. Inline: dropout draws one per two units. */
static inline uint64_t dn_rng_u64(dn_rng *r) {
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5, result = ((x << 7) | (x >> 57)) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}
/* Uniform in [0, 1). */
double dn_rng_uniform(dn_rng *r);
/* Uniform integer in [0, n). n > 0. */
uint64_t dn_rng_below(dn_rng *r, uint64_t n);
/* Standard normal (Box-Muller, no cached second value so state stays explicit). */
double dn_rng_normal(dn_rng *r);

/* Monotonic seconds. */
double dn_now(void);

/* Big-endian 32-bit values, as in IDX headers. */
static inline uint32_t dn_get_be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void dn_put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* CRC-32 (zlib polynomial) of n bytes, for any n. */
uint32_t dn_checksum(const void *data, size_t n);
/* The CRC-32 of crc's bytes followed by n more (crc 0 to start). */
uint32_t dn_crc32_update(uint32_t crc, const void *data, size_t n);

/* calloc that returns NULL for n*size overflow. */
void *dn_calloc(size_t n, size_t size);

/* An atomically replaced file, for writers that stream (dn_write_atomic
 * is the one-buffer case): open checks PATH (dn_output_check) and creates
 * a new temporary file PATH.tmp.RANDOM beside it (O_EXCL|O_NOFOLLOW: never
 * an existing file, never through a link); write to f.fd; commit fsyncs,
 * closes and renames it over PATH (fsyncing the directory), or, when
 * write_error (an errno) is non-zero or any step fails, removes the
 * temporary file and reports. Messages name PATH, never the temporary
 * name. PATH must stay valid until commit. */
typedef struct dn_atomic_file {
    int fd;
    char *tmp;
    const char *path;
} dn_atomic_file;

dn_status dn_atomic_open(dn_atomic_file *f, const char *path, dn_error *err);
dn_status dn_atomic_commit(dn_atomic_file *f, int write_error, dn_error *err);
/* Writes all of data; returns 0 or an errno (ENOSPC for a zero write). */
int dn_write_all(int fd, const void *data, size_t size);

/* Opens a file for reading: without waiting (a FIFO never blocks), and
 * only a regular file (a directory, device, FIFO or socket is refused with
 * a message saying which). *size gets its size from fstat (size may be
 * NULL). The caller closes *out. */
dn_status dn_open_input(const char *path, FILE **out, size_t *size, dn_error *err);

/* Reads a whole regular file (at most max_size bytes, checked against its
 * size before reading) into a malloc'd buffer. */
dn_status dn_read_file(const char *path, size_t max_size, unsigned char **out, size_t *out_size,
                       dn_error *err);

/* Test hooks: crash points that prove a kill mid-write is harmless.  They
 * exist only in the tests' builds of the files that use them (compiled
 * with -DDN_TEST_HOOKS, see the Makefile), where tests/hooks.c defines
 * dn_test_hook(name): the setting `name` as a number, -1 when unset.  The
 * library itself never reads the environment. */
#ifdef DN_TEST_HOOKS
long dn_test_hook(const char *name);
#define DN_TEST_HOOK(name) dn_test_hook(name)
#else
#define DN_TEST_HOOK(name) (-1L)
#endif

#endif
