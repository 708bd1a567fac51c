/*
 * binio.h — little-endian binary I/O for the library's file formats (model
 * files, checkpoints), with a sticky error flag: a writer or reader that
 * failed once ignores everything after, so a format is written or read as
 * a plain sequence of calls and checked once at the end.
 */
#ifndef DN_BINIO_H
#define DN_BINIO_H

#include <stddef.h>
#include <stdint.h>

/* A writer.  With fd < 0 the bytes go to a growing buffer in memory (buf,
 * used); with fd >= 0 through a 64 KiB buffer to fd, keeping the CRC-32 of
 * what has been written; with count_only set they are only counted. */
typedef struct dn_bw {
    int fd, count_only;
    unsigned char *buf; /* owned: free() it (memory) or dn_bw_close (fd) */
    size_t used, cap;
    size_t total;   /* bytes put so far */
    size_t flushed; /* bytes written to fd so far */
    uint32_t crc;   /* fd: CRC-32 of the flushed bytes that counted */
    int err;        /* errno of the first failure (ENOMEM for memory), 0 while fine */
    /* called after each write to fd (tests use it to crash mid-file) */
    void (*on_flush)(const struct dn_bw *w, void *ctx);
    void *ctx;
} dn_bw;

void dn_bw_put(dn_bw *w, const void *data, size_t n);
void dn_bw_u32(dn_bw *w, uint32_t v);
void dn_bw_u64(dn_bw *w, uint64_t v);
void dn_bw_i32(dn_bw *w, int v);
void dn_bw_f32(dn_bw *w, float v);
void dn_bw_f64(dn_bw *w, double v);
/* A u32 length, then the bytes (NULL as ""). */
void dn_bw_str(dn_bw *w, const char *s);
void dn_bw_floats(dn_bw *w, const float *f, size_t n);
/* n floats as IEEE binary16, 2 bytes each (dn_half_of rounds them). */
void dn_bw_halves(dn_bw *w, const float *f, size_t n);
uint16_t dn_half_of(float f);
float dn_float_of_half(uint16_t h);
/* fd mode: writes the pending bytes; crc: whether they count towards crc. */
void dn_bw_flush(dn_bw *w, int crc);

/* A reader over len bytes at p, from pos. */
typedef struct dn_br {
    const unsigned char *p;
    size_t len, pos;
    int bad; /* set by the first read past the end or malformed value */
} dn_br;

uint32_t dn_br_u32(dn_br *r);
uint64_t dn_br_u64(dn_br *r);
/* A signed field that must not be negative. */
int dn_br_i32(dn_br *r);
float dn_br_f32(dn_br *r);
double dn_br_f64(dn_br *r);
/* A length-prefixed string of at most max bytes without NULs, as a new
 * buffer; NULL (and bad set) when malformed or out of memory. */
char *dn_br_str(dn_br *r, uint32_t max);
/* n floats into f; 0 (and bad set) when they are not all there. */
int dn_br_floats(dn_br *r, float *f, size_t n);
/* n binary16 values into f as floats; 0 (and bad set) when not all there. */
int dn_br_halves(dn_br *r, float *f, size_t n);
/* Bytes left to read. */
size_t dn_br_left(const dn_br *r);

#endif
