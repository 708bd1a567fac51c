/*
 * check.h — the tiny assertion header every test executable uses.
 *
 * CHECK(cond) records a failure with file:line and continues; the test's
 * main ends with `return check_report("name");`, which prints a summary
 * line and returns non-zero when any check failed.
 */
#ifndef DN_TEST_CHECK_H
#define DN_TEST_CHECK_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_failures_, check_count_;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        check_count_++;                                                                            \
        if (!(cond)) {                                                                             \
            check_failures_++;                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        check_count_++;                                                                            \
        if (!(cond)) {                                                                             \
            check_failures_++;                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_OK(expr)                                                                             \
    do {                                                                                           \
        dn_error check_err_ = {{0}};                                                               \
        (void)check_err_;                                                                          \
        dn_status check_st_ = (expr);                                                              \
        check_count_++;                                                                            \
        if (check_st_ != DN_OK) {                                                                  \
            check_failures_++;                                                                     \
            fprintf(stderr, "%s:%d: %s returned %s\n", __FILE__, __LINE__, #expr,                  \
                    dn_strerror(check_st_));                                                       \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
    CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%g vs %g (tol %g)", (double)(a),          \
              (double)(b), (double)(tol))

static inline int check_report(const char *name) {
    printf("%s: %d checks, %d failed\n", name, check_count_, check_failures_);
    return check_failures_ ? 1 : 0;
}

/* Directory holding the MNIST IDX files, or NULL (the test then skips). */
static inline const char *check_mnist_dir(void) {
    const char *d = getenv("DN_MNIST_DIR");
    return d ? d : "data/mnist";
}

#endif
