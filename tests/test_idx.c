/*
 * test_idx.c — IDX datasets: loading raw and gzipped files, every
 * validation error (its status, a message naming the file, *out left
 * empty), save/load round trips, the MNIST directory lookup, and the real
 * MNIST and Fashion-MNIST files when they are present (skipped otherwise).
 */
#include "check.h"
#include "digitnet.h"

#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[400];

/* Paths under the temporary directory; a few live at once, hence the ring. */
static const char *tpath(const char *name) {
    static char ring[8][512];
    static int next;
    char *p = ring[next++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(data, 1, n, f) == n);
    CHECK(fclose(f) == 0);
}

static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    *n = 0;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    unsigned char *buf = malloc(len > 0 ? (size_t)len : 1);
    *n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    return buf;
}

/* Compresses data into one gzip member; the caller frees *out. */
static size_t gz_bytes(const void *data, size_t n, unsigned char **out) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    CHECK(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    size_t cap = deflateBound(&zs, (uLong)n) + 64;
    *out = malloc(cap);
    zs.next_in = (unsigned char *)data;
    zs.avail_in = (uInt)n;
    zs.next_out = *out;
    zs.avail_out = (uInt)cap;
    CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    size_t len = zs.total_out;
    deflateEnd(&zs);
    return len;
}

static void write_gz(const char *path, const void *data, size_t n) {
    unsigned char *gz;
    size_t len = gz_bytes(data, n, &gz);
    write_bytes(path, gz, len);
    free(gz);
}

static void put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* An image file: 16-byte header then count*rows*cols patterned pixels. */
static size_t make_images(unsigned char *buf, uint32_t magic, uint32_t count, uint32_t rows,
                          uint32_t cols) {
    put32(buf, magic);
    put32(buf + 4, count);
    put32(buf + 8, rows);
    put32(buf + 12, cols);
    size_t n = (size_t)count * rows * cols;
    for (size_t i = 0; i < n; i++) buf[16 + i] = (unsigned char)(i * 7 + 3);
    return 16 + n;
}

static size_t make_labels(unsigned char *buf, uint32_t magic, uint32_t count) {
    put32(buf, magic);
    put32(buf + 4, count);
    for (uint32_t i = 0; i < count; i++) buf[8 + i] = (unsigned char)(i % 10);
    return 8 + count;
}

static void expect_load(int line, const char *im, const char *lb, dn_status want, const char *s1,
                        const char *s2) {
    dn_dataset ds;
    memset(&ds, 0x5a, sizeof ds); /* garbage: a failure must zero it */
    dn_error e = {{0}};
    dn_status st = dn_idx_load(im, lb, &ds, &e);
    printf("  line %d: %s: %s\n", line, dn_strerror(st), e.msg);
    CHECK_MSG(st == want, "line %d: got %s, want %s", line, dn_strerror(st), dn_strerror(want));
    CHECK_MSG(!s1 || strstr(e.msg, s1), "line %d: '%s' lacks '%s'", line, e.msg, s1);
    CHECK_MSG(!s2 || strstr(e.msg, s2), "line %d: '%s' lacks '%s'", line, e.msg, s2);
    if (st == DN_OK) {
        dn_dataset_free(&ds);
    } else {
        CHECK_MSG(ds.count == 0 && ds.rows == 0 && ds.cols == 0 && !ds.images && !ds.labels,
                  "line %d: *out not left empty", line);
    }
}
#define EXPECT_LOAD(im, lb, want, s1, s2) expect_load(__LINE__, im, lb, want, s1, s2)

static void rm_tree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            rm_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* ------------------------------------------------------------------------ */

static void test_valid(void) {
    unsigned char img[16 + 3 * 4 * 5], lab[8 + 3];
    size_t ni = make_images(img, 0x803, 3, 4, 5), nl = make_labels(lab, 0x801, 3);
    write_bytes(tpath("ok-images"), img, ni);
    write_bytes(tpath("ok-labels"), lab, nl);
    write_gz(tpath("ok-images.gz"), img, ni);
    write_gz(tpath("ok-labels.gz"), lab, nl);

    const char *pairs[4][2] = {{"ok-images", "ok-labels"},
                               {"ok-images.gz", "ok-labels.gz"},
                               {"ok-images", "ok-labels.gz"},
                               {"ok-images.gz", "ok-labels"}};
    for (int k = 0; k < 4; k++) {
        dn_dataset ds;
        CHECK_OK(dn_idx_load(tpath(pairs[k][0]), tpath(pairs[k][1]), &ds, NULL));
        CHECK(ds.count == 3 && ds.rows == 4 && ds.cols == 5);
        CHECK(ds.images && memcmp(ds.images, img + 16, 60) == 0);
        CHECK(ds.labels && ds.labels[0] == 0 && ds.labels[1] == 1 && ds.labels[2] == 2);
        dn_dataset_free(&ds);
        CHECK(ds.images == NULL && ds.labels == NULL && ds.count == 0);
    }
    dn_dataset ds;
    CHECK_OK(dn_idx_load(tpath("ok-images.gz"), NULL, &ds, NULL));
    CHECK(ds.count == 3 && ds.labels == NULL);
    dn_dataset_free(&ds);
    dn_dataset_free(NULL);

    /* a gzip file made of two members (header, then pixels) is still one file */
    unsigned char *g1, *g2;
    size_t n1 = gz_bytes(img, 16, &g1), n2 = gz_bytes(img + 16, ni - 16, &g2);
    unsigned char *cat = malloc(n1 + n2);
    memcpy(cat, g1, n1);
    memcpy(cat + n1, g2, n2);
    write_bytes(tpath("two-members.gz"), cat, n1 + n2);
    EXPECT_LOAD(tpath("two-members.gz"), NULL, DN_OK, NULL, NULL);
    free(g1), free(g2), free(cat);
}

static void test_errors(void) {
    unsigned char img[16 + 3 * 4 * 5 + 8] = {0}, lab[8 + 3 + 8] = {0};
    size_t ni = make_images(img, 0x803, 3, 4, 5), nl = make_labels(lab, 0x801, 3);
    write_bytes(tpath("good-images"), img, ni);
    write_bytes(tpath("good-labels"), lab, nl);

    EXPECT_LOAD(NULL, NULL, DN_E_ARG, NULL, NULL);
    CHECK(dn_idx_load(tpath("good-images"), NULL, NULL, NULL) == DN_E_ARG);
    EXPECT_LOAD(tpath("no-such-file"), NULL, DN_E_IO, "no-such-file", NULL);
    EXPECT_LOAD(tpath("good-images"), tpath("no-such-labels"), DN_E_IO, "no-such-labels", NULL);

    write_bytes(tpath("empty"), "", 0);
    EXPECT_LOAD(tpath("empty"), NULL, DN_E_FORMAT, "empty", "empty");
    write_bytes(tpath("text"), "hello, this is not IDX at all", 29);
    EXPECT_LOAD(tpath("text"), NULL, DN_E_FORMAT, "text", "not an IDX file");

    /* labels given as images and images given as labels */
    EXPECT_LOAD(tpath("good-labels"), NULL, DN_E_FORMAT, "good-labels", "label file");
    EXPECT_LOAD(tpath("good-images"), tpath("good-images"), DN_E_FORMAT, "good-images",
                "image file");
    unsigned char bad[sizeof img];
    memcpy(bad, img, ni);
    bad[2] = 0x0d; /* floats: valid IDX, not ours */
    write_bytes(tpath("float-images"), bad, ni);
    EXPECT_LOAD(tpath("float-images"), NULL, DN_E_UNSUPPORTED, "float-images", "0x0d");
    bad[2] = 0x42;
    write_bytes(tpath("odd-type"), bad, ni);
    EXPECT_LOAD(tpath("odd-type"), NULL, DN_E_FORMAT, "odd-type", "0x42");

    write_bytes(tpath("short-header"), img, 10);
    EXPECT_LOAD(tpath("short-header"), NULL, DN_E_FORMAT, "short-header", "truncated");
    write_bytes(tpath("short-images"), img, 16 + 7);
    EXPECT_LOAD(tpath("short-images"), NULL, DN_E_FORMAT, "short-images",
                "truncated: expected 60 pixel bytes, got 7");
    write_bytes(tpath("short-labels"), lab, 8 + 2);
    EXPECT_LOAD(tpath("good-images"), tpath("short-labels"), DN_E_FORMAT, "short-labels",
                "expected 3 label bytes, got 2");
    write_bytes(tpath("long-images"), img, ni + 1);
    EXPECT_LOAD(tpath("long-images"), NULL, DN_E_FORMAT, "long-images", "trailing");
    write_bytes(tpath("long-labels"), lab, nl + 5);
    EXPECT_LOAD(tpath("good-images"), tpath("long-labels"), DN_E_FORMAT, "long-labels", "trailing");

    unsigned char lab2[16];
    write_bytes(tpath("two-labels"), lab2, make_labels(lab2, 0x801, 2));
    EXPECT_LOAD(tpath("good-images"), tpath("two-labels"), DN_E_FORMAT, "two-labels",
                "good-images");
    memcpy(lab2, lab, nl);
    lab2[8 + 1] = 12;
    write_bytes(tpath("bad-label"), lab2, nl);
    EXPECT_LOAD(tpath("good-images"), tpath("bad-label"), DN_E_FORMAT, "bad-label",
                "label 12 at index 1 is out of range 0..9");

    /* dimensions: zero, absurd, too many items */
    unsigned char hdr[16 + 64] = {0};
    write_bytes(tpath("zero-rows"), hdr, make_images(hdr, 0x803, 1, 0, 5));
    EXPECT_LOAD(tpath("zero-rows"), NULL, DN_E_FORMAT, "zero-rows", "0x5");
    make_images(hdr, 0x803, 1, 2, 2);
    put32(hdr + 12, 5000);
    write_bytes(tpath("wide"), hdr, 20);
    EXPECT_LOAD(tpath("wide"), NULL, DN_E_FORMAT, "wide", "2x5000");
    write_bytes(tpath("no-images"), hdr, make_images(hdr, 0x803, 0, 2, 2));
    EXPECT_LOAD(tpath("no-images"), NULL, DN_E_NODATA, "no-images", NULL);
    make_images(hdr, 0x803, 1, 1, 1);
    put32(hdr + 4, 100000001);
    write_bytes(tpath("too-many"), hdr, 16);
    EXPECT_LOAD(tpath("too-many"), NULL, DN_E_FORMAT, "too-many", "100000001");
    /* the largest header the count and side limits allow, over a few
     * bytes: refused by the pixel budget, not allocating 1.6 PB */
    put32(hdr + 4, 100000000);
    put32(hdr + 8, 4096);
    put32(hdr + 12, 4096);
    write_bytes(tpath("huge-claim"), hdr, 26);
    EXPECT_LOAD(tpath("huge-claim"), NULL, DN_E_FORMAT, "huge-claim", "over the limit");
    write_gz(tpath("huge-claim.gz"), hdr, 26);
    EXPECT_LOAD(tpath("huge-claim.gz"), NULL, DN_E_FORMAT, "huge-claim.gz", "over the limit");
    /* within the budget (1,024 images of 1,024 x 1,024), a lying header
     * still fails on the bytes that are really there */
    put32(hdr + 4, 1024);
    put32(hdr + 8, 1024);
    put32(hdr + 12, 1024);
    write_bytes(tpath("big-claim"), hdr, 26);
    EXPECT_LOAD(tpath("big-claim"), NULL, DN_E_FORMAT, "big-claim", "got 10");
}

static void test_gzip_errors(void) {
    unsigned char img[16 + 3 * 4 * 5];
    size_t ni = make_images(img, 0x803, 3, 4, 5);
    unsigned char *gz;
    size_t n = gz_bytes(img, ni, &gz);

    write_bytes(tpath("cut.gz"), gz, n / 2);
    EXPECT_LOAD(tpath("cut.gz"), NULL, DN_E_FORMAT, "cut.gz", "truncated");
    write_bytes(tpath("no-trailer.gz"), gz, n - 8);
    EXPECT_LOAD(tpath("no-trailer.gz"), NULL, DN_E_FORMAT, "no-trailer.gz", "truncated gzip");
    write_bytes(tpath("gz-magic-only.gz"), gz, 2);
    EXPECT_LOAD(tpath("gz-magic-only.gz"), NULL, DN_E_FORMAT, "gz-magic-only.gz", NULL);

    unsigned char *bad = malloc(n + 16);
    memcpy(bad, gz, n);
    bad[n - 6] ^= 0xff; /* CRC / length trailer */
    write_bytes(tpath("bad-crc.gz"), bad, n);
    EXPECT_LOAD(tpath("bad-crc.gz"), NULL, DN_E_FORMAT, "bad-crc.gz", "corrupt gzip");
    memcpy(bad, gz, n);
    memcpy(bad + n, "garbage!", 8);
    write_bytes(tpath("tail.gz"), bad, n + 8);
    EXPECT_LOAD(tpath("tail.gz"), NULL, DN_E_FORMAT, "tail.gz", "trailing garbage");
    memcpy(bad, gz, n);
    bad[3] = 0xe0; /* reserved gzip flag bits */
    write_bytes(tpath("bad-header.gz"), bad, n);
    EXPECT_LOAD(tpath("bad-header.gz"), NULL, DN_E_FORMAT, "bad-header.gz", "corrupt gzip");
    free(bad);
    free(gz);

    /* declared 4 pixels, then 8 MiB more: rejected without inflating it all */
    size_t big = 16 + 4 + ((size_t)8 << 20);
    unsigned char *bomb = calloc(big, 1);
    make_images(bomb, 0x803, 1, 2, 2);
    write_gz(tpath("bomb.gz"), bomb, big);
    EXPECT_LOAD(tpath("bomb.gz"), NULL, DN_E_FORMAT, "bomb.gz", "trailing data");
    free(bomb);
    /* a header that declares more than the pixel budget (2,000 x 1,024 x
     * 1,024 = 2 GB) is refused from the header alone, before anything is
     * inflated: here the file holds nothing more */
    unsigned char hdr[16];
    put32(hdr, 0x803), put32(hdr + 4, 2000), put32(hdr + 8, 1024), put32(hdr + 12, 1024);
    write_gz(tpath("huge.gz"), hdr, sizeof hdr);
    EXPECT_LOAD(tpath("huge.gz"), NULL, DN_E_FORMAT, "huge.gz", "over the limit of 1024 MB");
}

static void test_save(void) {
    unsigned char pixels[5 * 3 * 2], labels[5] = {9, 0, 3, 3, 7};
    for (size_t i = 0; i < sizeof pixels; i++) pixels[i] = (unsigned char)(255 - i * 11);
    dn_dataset src = {5, 3, 2, pixels, labels};
    for (int gz = 0; gz < 2; gz++) {
        const char *im = tpath(gz ? "saved-images.gz" : "saved-images");
        const char *lb = tpath(gz ? "saved-labels.gz" : "saved-labels");
        CHECK_OK(dn_idx_save(&src, im, lb, gz, NULL));
        size_t n;
        unsigned char *raw = read_bytes(im, &n);
        CHECK(raw && n > 2);
        if (raw) CHECK(gz ? raw[0] == 0x1f && raw[1] == 0x8b : raw[2] == 0x08 && raw[3] == 3);
        if (raw && !gz) CHECK(n == 16 + sizeof pixels);
        free(raw);
        char tmp[600];
        snprintf(tmp, sizeof tmp, "%s.tmp", im);
        CHECK(!exists(tmp));
        dn_dataset ds;
        CHECK_OK(dn_idx_load(im, lb, &ds, NULL));
        CHECK(ds.count == 5 && ds.rows == 3 && ds.cols == 2);
        CHECK(ds.images && memcmp(ds.images, pixels, sizeof pixels) == 0);
        CHECK(ds.labels && memcmp(ds.labels, labels, sizeof labels) == 0);
        dn_dataset_free(&ds);
    }
    /* images only; an existing file is replaced */
    CHECK_OK(dn_idx_save(&src, tpath("saved-images"), NULL, 0, NULL));

    dn_error e = {{0}};
    dn_dataset nolab = {5, 3, 2, pixels, NULL};
    CHECK(dn_idx_save(&nolab, tpath("x-images"), tpath("x-labels"), 0, &e) == DN_E_ARG);
    CHECK(strstr(e.msg, "x-labels") != NULL);
    dn_dataset flat = {5, 0, 6, pixels, NULL};
    CHECK(dn_idx_save(&flat, tpath("x-images"), NULL, 0, &e) == DN_E_ARG);
    dn_dataset none = {0, 3, 2, pixels, NULL};
    CHECK(dn_idx_save(&none, tpath("x-images"), NULL, 0, &e) == DN_E_NODATA);
    unsigned char badlab[5] = {1, 2, 10, 3, 4};
    dn_dataset bl = {5, 3, 2, pixels, badlab};
    CHECK(dn_idx_save(&bl, tpath("x-images"), tpath("x-labels"), 0, &e) == DN_E_ARG);
    CHECK(strstr(e.msg, "index 2") != NULL);
    CHECK(!exists(tpath("x-images")) && !exists(tpath("x-labels")));
    CHECK(dn_idx_save(NULL, tpath("x-images"), NULL, 0, &e) == DN_E_ARG);
    CHECK(dn_idx_save(&src, tpath("no-dir/x-images"), NULL, 1, &e) == DN_E_IO);
    CHECK(strstr(e.msg, "no-dir") != NULL);
}

static void test_mnist_dir(void) {
    unsigned char img[16 + 2 * 28 * 28], lab[8 + 2];
    size_t ni = make_images(img, 0x803, 2, 28, 28), nl = make_labels(lab, 0x801, 2);
    const char *dirs[] = {"plain", "gz", "dotted"};
    for (int i = 0; i < 3; i++) CHECK(mkdir(tpath(dirs[i]), 0755) == 0);
    write_bytes(tpath("plain/train-images-idx3-ubyte"), img, ni);
    write_bytes(tpath("plain/train-labels-idx1-ubyte"), lab, nl);
    write_gz(tpath("gz/t10k-images-idx3-ubyte.gz"), img, ni);
    write_gz(tpath("gz/t10k-labels-idx1-ubyte.gz"), lab, nl);
    write_bytes(tpath("dotted/train-images.idx3-ubyte"), img, ni);
    write_gz(tpath("dotted/train-labels.idx1-ubyte.gz"), lab, nl);

    const char *cases[][2] = {{"plain", "train"}, {"gz", "test"}, {"dotted", "train"}};
    for (int i = 0; i < 3; i++) {
        dn_dataset ds;
        dn_error e = {{0}};
        CHECK_OK(dn_mnist_load(tpath(cases[i][0]), cases[i][1], &ds, &e));
        CHECK(ds.count == 2 && ds.rows == 28 && ds.cols == 28 && ds.labels && ds.labels[1] == 1);
        dn_dataset_free(&ds);
    }
    dn_dataset ds;
    dn_error e = {{0}};
    CHECK(dn_mnist_load(tpath("plain"), "valid", &ds, &e) == DN_E_ARG);
    CHECK(strstr(e.msg, "valid") != NULL);
    CHECK(dn_mnist_load(tpath("plain"), NULL, &ds, &e) == DN_E_ARG);
    CHECK(dn_mnist_load(tpath("plain"), "test", &ds, &e) == DN_E_IO);
    CHECK(strstr(e.msg, "plain/t10k-images-idx3-ubyte") != NULL);
    printf("  missing: %s\n", e.msg);
    CHECK(dn_mnist_load(tpath("nowhere"), "train", &ds, &e) == DN_E_IO);
    CHECK(strstr(e.msg, "nowhere/train-images-idx3-ubyte") != NULL);
    unlink(tpath("plain/train-labels-idx1-ubyte"));
    CHECK(dn_mnist_load(tpath("plain"), "train", &ds, &e) == DN_E_IO);
    CHECK(strstr(e.msg, "train-labels-idx1-ubyte") != NULL);
    CHECK(ds.count == 0 && ds.images == NULL);
}

/* ------------------------------------------------------------------------ */

static void test_real_mnist(void) {
    const char *dir = check_mnist_dir();
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/train-labels-idx1-ubyte", dir);
    if (!exists(probe)) {
        printf("  skip: no MNIST in %s\n", dir);
        return;
    }
    dn_dataset train, test;
    dn_error e = {{0}};
    CHECK_OK(dn_mnist_load(dir, "train", &train, &e));
    printf("  MNIST train from %s: %zu images %dx%d\n", dir, train.count, train.rows, train.cols);
    CHECK(train.count == 60000 && train.rows == 28 && train.cols == 28 && train.labels);
    if (train.labels) {
        const unsigned char first[5] = {5, 0, 4, 1, 9};
        CHECK(memcmp(train.labels, first, 5) == 0);
        size_t per[10] = {0};
        const size_t want[10] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
        for (size_t i = 0; i < train.count; i++) per[train.labels[i]]++;
        CHECK(memcmp(per, want, sizeof per) == 0);
    }
    dn_dataset_free(&train);

    CHECK_OK(dn_mnist_load(dir, "test", &test, &e));
    CHECK(test.count == 10000 && test.labels);
    if (test.labels) {
        const unsigned char first[5] = {7, 2, 1, 0, 4};
        CHECK(memcmp(test.labels, first, 5) == 0);
    }
    /* a real-sized gzip round trip */
    if (test.count == 10000) {
        dn_dataset back;
        CHECK_OK(dn_idx_save(&test, tpath("t10k-images.gz"), tpath("t10k-labels.gz"), 1, NULL));
        CHECK_OK(dn_idx_load(tpath("t10k-images.gz"), tpath("t10k-labels.gz"), &back, NULL));
        CHECK(back.count == 10000 && back.images &&
              memcmp(back.images, test.images, 10000 * 784) == 0);
        CHECK(back.labels && memcmp(back.labels, test.labels, 10000) == 0);
        dn_dataset_free(&back);
    }
    dn_dataset_free(&test);
}

static void test_fashion(void) {
    const char *dir = "/usr/share/datasets/fashion-mnist";
    if (!exists(dir)) {
        printf("  skip: no Fashion-MNIST in %s\n", dir);
        return;
    }
    dn_dataset ds;
    dn_error e = {{0}};
    CHECK_OK(dn_mnist_load(dir, "train", &ds, &e));
    printf("  Fashion-MNIST train: %zu images %dx%d\n", ds.count, ds.rows, ds.cols);
    CHECK(ds.count == 60000 && ds.rows == 28 && ds.cols == 28 && ds.labels && ds.labels[0] == 9);
    dn_dataset_free(&ds);
    CHECK_OK(dn_mnist_load(dir, "test", &ds, &e));
    CHECK(ds.count == 10000 && ds.labels);
    if (ds.labels) {
        const unsigned char first[5] = {9, 2, 1, 1, 6};
        CHECK(memcmp(ds.labels, first, 5) == 0);
    }
    dn_dataset_free(&ds);
}

int main(void) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base || strlen(base) > 300) base = "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/dn_test_idx_XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_valid();
    test_errors();
    test_gzip_errors();
    test_save();
    test_mnist_dir();
    test_real_mnist();
    test_fashion();
    rm_tree(tmpdir);
    return check_report("test_idx");
}
