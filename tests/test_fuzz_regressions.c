/*
 * test_fuzz_regressions.c — replays every fuzz seed and every saved crash
 * input through the fuzz targets' own entry functions, without libFuzzer,
 * so `make test` (and `make test SAN=1`, `make valgrind`) keeps each fixed
 * bug fixed and each contract checked.
 *
 * For each target T in idx, csv, model, image, api it runs every file of
 * tests/fuzz/corpus/T/ (which must not be empty) and of
 * tests/fuzz/regressions/T/ (which may not exist yet) through fuzz_one_T.
 * The targets abort on a broken contract, and the sanitizers, when built in,
 * on memory errors; the name of each file is printed before it runs, so the
 * log ends with the culprit.  Paths are relative to the repository root,
 * where the tests run; an optional argument names another fuzz directory.
 */
#define DN_FUZZ_NO_MAIN
#include "check.h"

#include "fuzz/fuzz_api.c"
#include "fuzz/fuzz_csv.c"
#include "fuzz/fuzz_idx.c"
#include "fuzz/fuzz_image.c"
#include "fuzz/fuzz_model.c"
#include "fuzz/fuzz_request.c"
#include "fuzz/fuzz_upload.c"

#include <dirent.h>

typedef struct fuzz_target {
    const char *name;
    int (*one)(const uint8_t *data, size_t size);
} fuzz_target;

static int regular_file(const struct dirent *e) {
    return e->d_name[0] != '.';
}

/* Reads a whole file; returns NULL (and counts a failure) when it cannot. */
static uint8_t *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t r; buf && (r = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) free(buf);
            buf = nb;
            cap *= 2;
        }
    }
    CHECK_MSG(buf != NULL && !ferror(f), "cannot read %s", path);
    fclose(f);
    *size = n;
    return buf;
}

/* Runs every file of dir through the target; returns how many ran, or -1
 * when the directory does not exist. */
static long replay_dir(const fuzz_target *t, const char *dir) {
    struct dirent **list;
    int n = scandir(dir, &list, regular_file, alphasort);
    if (n < 0) return -1;
    long ran = 0;
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
        free(list[i]);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        size_t size = 0;
        uint8_t *data = read_all(path, &size);
        if (!data) continue;
        fprintf(stderr, "  %s (%zu bytes)\n", path, size);
        CHECK(t->one(data, size) == 0);
        free(data);
        ran++;
    }
    free(list);
    return ran;
}

int main(int argc, char **argv) {
    const char *root = argc > 1 ? argv[1] : "tests/fuzz";
    static const fuzz_target targets[] = {{"idx", fuzz_one_idx},        {"csv", fuzz_one_csv},
                                          {"model", fuzz_one_model},    {"image", fuzz_one_image},
                                          {"api", fuzz_one_api},        {"upload", fuzz_one_upload},
                                          {"request", fuzz_one_request}};
    dn_set_threads(1);
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
        const fuzz_target *t = &targets[i];
        char dir[512];
        snprintf(dir, sizeof dir, "%s/corpus/%s", root, t->name);
        long seeds = replay_dir(t, dir);
        CHECK_MSG(seeds > 0, "%s holds no seed inputs", dir);
        snprintf(dir, sizeof dir, "%s/regressions/%s", root, t->name);
        long regressions = replay_dir(t, dir);
        printf("%-6s %ld seeds, %ld regression inputs\n", t->name, seeds,
               regressions < 0 ? 0 : regressions);
    }
    fuzz_cleanup_api();
    fuzz_cleanup_csv();
    fuzz_cleanup_idx();
    fuzz_cleanup_model();
    fuzz_cleanup_upload();
    return check_report("test_fuzz_regressions");
}
