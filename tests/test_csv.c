/*
 * test_csv.c — Kaggle digit-recognizer CSV: labeled and unlabeled files,
 * tolerated variations (\r\n, no final newline, byte order mark, no
 * header), every rejection (status, a message naming the file and line,
 * *out left empty), save/load round trips, and MNIST through CSV when the
 * IDX files are present.
 */
#include "check.h"
#include "digitnet.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[400];

static const char *tpath(const char *name) {
    static char ring[8][512];
    static int next;
    char *p = ring[next++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

/* A growable text buffer for building CSV files. */
typedef struct text {
    char *s;
    size_t len, cap;
} text;

static void add(text *t, const char *s) {
    size_t n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->s = realloc(t->s, t->cap);
    }
    memcpy(t->s + t->len, s, n + 1);
    t->len += n;
}

static void add_header(text *t, int labeled, const char *eol) {
    char f[32];
    if (labeled) add(t, "label,");
    for (int k = 0; k < 784; k++) {
        snprintf(f, sizeof f, "pixel%d%s", k, k < 783 ? "," : "");
        add(t, f);
    }
    add(t, eol);
}

/* Row i: label i%10 and pixels (i*31+k)%256. */
static void add_row(text *t, int labeled, int i, const char *eol) {
    char f[32];
    if (labeled) {
        snprintf(f, sizeof f, "%d,", i % 10);
        add(t, f);
    }
    for (int k = 0; k < 784; k++) {
        snprintf(f, sizeof f, "%d%s", (i * 31 + k) % 256, k < 783 ? "," : "");
        add(t, f);
    }
    add(t, eol);
}

static void write_text(const char *path, const text *t) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(t->s, 1, t->len, f) == t->len);
    CHECK(fclose(f) == 0);
}

static void write_str(const char *path, const char *s) {
    text t = {(char *)s, strlen(s), 0};
    write_text(path, &t);
}

static int pixels_ok(const dn_dataset *ds, int first_row) {
    for (size_t i = 0; i < ds->count; i++)
        for (int k = 0; k < 784; k++)
            if (ds->images[i * 784 + k] != ((first_row + (int)i) * 31 + k) % 256) return 0;
    return 1;
}

static void expect_load(int line, const char *path, dn_status want, const char *s1,
                        const char *s2) {
    dn_dataset ds;
    memset(&ds, 0x5a, sizeof ds);
    dn_error e = {{0}};
    dn_status st = dn_csv_load(path, &ds, &e);
    printf("  line %d: %s: %s\n", line, dn_strerror(st), e.msg);
    CHECK_MSG(st == want, "line %d: got %s, want %s", line, dn_strerror(st), dn_strerror(want));
    CHECK_MSG(!s1 || strstr(e.msg, s1), "line %d: '%s' lacks '%s'", line, e.msg, s1);
    CHECK_MSG(!s2 || strstr(e.msg, s2), "line %d: '%s' lacks '%s'", line, e.msg, s2);
    if (st == DN_OK) {
        dn_dataset_free(&ds);
    } else {
        CHECK_MSG(ds.count == 0 && ds.rows == 0 && !ds.images && !ds.labels,
                  "line %d: *out not left empty", line);
    }
}
#define EXPECT_LOAD(path, want, s1, s2) expect_load(__LINE__, path, want, s1, s2)

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

/* ------------------------------------------------------------------------ */

static void test_valid(void) {
    /* labeled, unlabeled; \n and \r\n; with and without the final newline */
    for (int labeled = 0; labeled < 2; labeled++) {
        for (int crlf = 0; crlf < 2; crlf++) {
            for (int final_nl = 0; final_nl < 2; final_nl++) {
                const char *eol = crlf ? "\r\n" : "\n";
                text t = {0};
                add_header(&t, labeled, eol);
                for (int i = 0; i < 3; i++) add_row(&t, labeled, i, i < 2 || final_nl ? eol : "");
                write_text(tpath("ok.csv"), &t);
                free(t.s);
                dn_dataset ds;
                CHECK_OK(dn_csv_load(tpath("ok.csv"), &ds, NULL));
                CHECK(ds.count == 3 && ds.rows == 28 && ds.cols == 28 && pixels_ok(&ds, 0));
                CHECK(labeled ? ds.labels && ds.labels[0] == 0 && ds.labels[2] == 2
                              : ds.labels == NULL);
                dn_dataset_free(&ds);
            }
        }
    }
    /* a byte order mark; blank lines at the very end; no header at all */
    text t = {0};
    add(&t, "\xef\xbb\xbf");
    add_header(&t, 1, "\n");
    add_row(&t, 1, 0, "\n");
    add(&t, "\n\r\n");
    write_text(tpath("bom.csv"), &t);
    free(t.s);
    EXPECT_LOAD(tpath("bom.csv"), DN_OK, NULL, NULL);
    t = (text){0};
    for (int i = 0; i < 4; i++) add_row(&t, 1, i, "\n");
    write_text(tpath("headerless.csv"), &t);
    free(t.s);
    dn_dataset ds;
    CHECK_OK(dn_csv_load(tpath("headerless.csv"), &ds, NULL));
    CHECK(ds.count == 4 && ds.labels && ds.labels[3] == 3 && pixels_ok(&ds, 0));
    dn_dataset_free(&ds);

    /* enough rows to make the buffers grow several times */
    t = (text){0};
    add_header(&t, 0, "\n");
    for (int i = 0; i < 5000; i++) add_row(&t, 0, i, "\n");
    write_text(tpath("many.csv"), &t);
    free(t.s);
    CHECK_OK(dn_csv_load(tpath("many.csv"), &ds, NULL));
    CHECK(ds.count == 5000 && !ds.labels && pixels_ok(&ds, 0));
    dn_dataset_free(&ds);
}

/* Writes header + one good row + `bad` as line 3 (+ another good row). */
static void write_with_line3(const char *name, int labeled, const char *bad) {
    text t = {0};
    add_header(&t, labeled, "\n");
    add_row(&t, labeled, 0, "\n");
    add(&t, bad);
    add(&t, "\n");
    add_row(&t, labeled, 2, "\n");
    write_text(tpath(name), &t);
    free(t.s);
}

/* A labeled row whose field `col` (0 = label) is replaced by `value`. */
static void labeled_row_with(text *t, int col, const char *value) {
    char f[32];
    for (int k = 0; k < 785; k++) {
        if (k == col)
            add(t, value);
        else {
            snprintf(f, sizeof f, "%d", k == 0 ? 1 : 0);
            add(t, f);
        }
        if (k < 784) add(t, ",");
    }
}

static void test_errors(void) {
    EXPECT_LOAD(NULL, DN_E_ARG, NULL, NULL);
    CHECK(dn_csv_load(tpath("x.csv"), NULL, NULL) == DN_E_ARG);
    EXPECT_LOAD(tpath("missing.csv"), DN_E_IO, "missing.csv", NULL);
    CHECK(mkdir(tpath("dir.csv"), 0755) == 0);
    EXPECT_LOAD(tpath("dir.csv"), DN_E_IO, "dir.csv", NULL);

    write_str(tpath("empty.csv"), "");
    EXPECT_LOAD(tpath("empty.csv"), DN_E_FORMAT, "empty.csv", "empty");
    write_str(tpath("blank-first.csv"), "\n1,2\n");
    EXPECT_LOAD(tpath("blank-first.csv"), DN_E_FORMAT, "blank-first.csv", "line 1");
    text t = {0};
    add_header(&t, 1, "\r\n");
    write_text(tpath("header-only.csv"), &t);
    free(t.s);
    EXPECT_LOAD(tpath("header-only.csv"), DN_E_NODATA, "header-only.csv", "no rows");
    write_str(tpath("short-header.csv"), "label,pixel0,pixel1\n1,2,3\n");
    EXPECT_LOAD(tpath("short-header.csv"), DN_E_FORMAT, "short-header.csv", "3 columns");

    /* line 3 broken in each way */
    text row = {0};
    add_row(&row, 0, 1, "");
    write_with_line3("row-784.csv", 1, row.s); /* one column short */
    EXPECT_LOAD(tpath("row-784.csv"), DN_E_FORMAT, "row-784.csv",
                "line 3: has 784 columns, expected 785");
    add(&row, ",0");
    write_with_line3("row-786.csv", 0, row.s); /* one column too many for unlabeled */
    EXPECT_LOAD(tpath("row-786.csv"), DN_E_FORMAT, "row-786.csv", "line 3: has 785 columns");
    free(row.s);

    const struct {
        const char *name;
        int col;
        const char *value;
        const char *msg;
    } cases[] = {
        {"empty-field.csv", 5, "", "line 3, column 6 (pixel4): empty field"},
        {"empty-label.csv", 0, "", "line 3, column 1 (label): empty field"},
        {"alpha.csv", 7, "abc", "column 8 (pixel6): 'abc' is not"},
        {"negative.csv", 7, "-1", "'-1' is not"},
        {"float.csv", 7, "1.5", "'1.5' is not"},
        {"space.csv", 7, " 3", "' 3' is not"},
        {"pixel-256.csv", 784, "256", "column 785 (pixel783): pixel 256 is out of range 0..255"},
        {"pixel-huge.csv", 1, "99999999999999999999", "out of range 0..255"},
        {"label-10.csv", 0, "10", "line 3: label 10 is out of range 0..9"},
        {"label-ctrl.csv", 0, "\x01", "'?' is not"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t = (text){0};
        labeled_row_with(&t, cases[i].col, cases[i].value);
        write_with_line3(cases[i].name, 1, t.s);
        free(t.s);
        EXPECT_LOAD(tpath(cases[i].name), DN_E_FORMAT, cases[i].name, cases[i].msg);
    }

    write_with_line3("blank-middle.csv", 1, "");
    EXPECT_LOAD(tpath("blank-middle.csv"), DN_E_FORMAT, "blank-middle.csv", "line 3 is empty");

    /* an absurdly long line is refused, not buffered */
    t = (text){0};
    add_header(&t, 1, "\n");
    for (int i = 0; i < 20000; i++) add(&t, "0000,");
    add(&t, "\n");
    write_text(tpath("long-line.csv"), &t);
    free(t.s);
    EXPECT_LOAD(tpath("long-line.csv"), DN_E_FORMAT, "long-line.csv", "line 2 is longer");
}

static void test_save(void) {
    enum { N = 7 };
    unsigned char *pixels = malloc(N * 784), labels[N] = {3, 1, 4, 1, 5, 9, 2};
    for (int i = 0; i < N * 784; i++) pixels[i] = (unsigned char)(i * 13 + i / 784);
    pixels[0] = 255, pixels[1] = 0, pixels[2] = 100, pixels[3] = 10, pixels[4] = 9;
    for (int labeled = 0; labeled < 2; labeled++) {
        dn_dataset src = {N, 28, 28, pixels, labeled ? labels : NULL};
        CHECK_OK(dn_csv_save(&src, tpath("saved.csv"), NULL));
        CHECK(access(tpath("saved.csv.tmp"), F_OK) != 0);
        dn_dataset ds;
        CHECK_OK(dn_csv_load(tpath("saved.csv"), &ds, NULL));
        CHECK(ds.count == N && ds.rows == 28 && ds.images &&
              memcmp(ds.images, pixels, N * 784) == 0);
        CHECK(labeled ? ds.labels && memcmp(ds.labels, labels, N) == 0 : ds.labels == NULL);
        dn_dataset_free(&ds);
        /* the exact Kaggle header */
        FILE *f = fopen(tpath("saved.csv"), "rb");
        char head[32] = {0};
        CHECK(f && fread(head, 1, 20, f) == 20);
        if (f) fclose(f);
        CHECK(strncmp(head, labeled ? "label,pixel0,pixel1," : "pixel0,pixel1,pixel2", 20) == 0);
    }
    dn_error e = {{0}};
    dn_dataset small = {N, 14, 56, pixels, NULL};
    CHECK(dn_csv_save(&small, tpath("x.csv"), &e) == DN_E_ARG);
    CHECK(strstr(e.msg, "x.csv") != NULL);
    dn_dataset none = {0, 28, 28, pixels, NULL};
    CHECK(dn_csv_save(&none, tpath("x.csv"), &e) == DN_E_NODATA);
    unsigned char bad[N] = {0, 1, 2, 3, 4, 5, 11};
    dn_dataset badlab = {N, 28, 28, pixels, bad};
    CHECK(dn_csv_save(&badlab, tpath("x.csv"), &e) == DN_E_ARG);
    CHECK(strstr(e.msg, "index 6") != NULL);
    CHECK(access(tpath("x.csv"), F_OK) != 0);
    CHECK(dn_csv_save(NULL, tpath("x.csv"), &e) == DN_E_ARG);
    dn_dataset src = {N, 28, 28, pixels, labels};
    CHECK(dn_csv_save(&src, tpath("no-dir/x.csv"), &e) == DN_E_IO);
    CHECK(strstr(e.msg, "no-dir") != NULL);
    free(pixels);
}

static void test_mnist_roundtrip(void) {
    dn_dataset test;
    dn_error e = {{0}};
    if (dn_mnist_load(check_mnist_dir(), "test", &test, &e) != DN_OK) {
        printf("  skip: %s\n", e.msg);
        return;
    }
    CHECK_OK(dn_csv_save(&test, tpath("t10k.csv"), NULL));
    dn_dataset back;
    CHECK_OK(dn_csv_load(tpath("t10k.csv"), &back, NULL));
    CHECK(back.count == 10000 && back.images && memcmp(back.images, test.images, 10000 * 784) == 0);
    CHECK(back.labels && back.labels[0] == 7 && memcmp(back.labels, test.labels, 10000) == 0);
    dn_dataset_free(&back);
    dn_dataset_free(&test);
}

int main(void) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base || strlen(base) > 300) base = "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/dn_test_csv_XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_valid();
    test_errors();
    test_save();
    test_mnist_roundtrip();
    rm_tree(tmpdir);
    return check_report("test_csv");
}
