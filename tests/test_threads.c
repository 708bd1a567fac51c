/*
 * test_threads.c — training and inference start their threads once, not
 * at every step.
 *
 * A parallel region nested in another one, even an inactive one (a team
 * of one, `if` false), is a nested team, and libgomp starts new threads
 * for a nested team every time. A batch-norm network trains unsplit (one
 * executor, whose layers use the threads), and its step once ran inside
 * such an inactive region: every layer of every step created a thread.
 * So did a convolution's threaded product for a single image. This test
 * counts the threads created, through its own pthread_create, which the
 * OpenMP runtime's calls reach before the C library's.
 */
#define _GNU_SOURCE
#include "check.h"
#include "model.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static atomic_int created;

__attribute__((visibility("default"))) int pthread_create(pthread_t *t, const pthread_attr_t *attr,
                                                          void *(*fn)(void *), void *arg) {
    typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    static create_fn real;
    if (!real) {
        void *sym = dlsym(RTLD_NEXT, "pthread_create");
        memcpy(&real, &sym, sizeof real);
    }
    atomic_fetch_add(&created, 1);
    return real(t, attr, fn, arg);
}

enum { N = 256 };
static unsigned char images[N * 784], labels[N];

/* Threads created while a batch-norm CNN trains 2 epochs of 8 steps on 2
 * threads. */
static int threads_training(void) {
    dn_model *m;
    CHECK_OK(dn_model_create("conv3x3x8p1-bn-relu-conv3x3x8p1-bn-relu-pool2-fc16-bn-relu-fc10",
                             NULL, 3, &m, &check_err_));
    dn_dataset ds = {N, 28, 28, images, labels};
    dn_train_opts o;
    dn_train_opts_default(&o);
    o.batch = 64;
    o.epochs = 2;
    o.val_count = 0;
    int before = atomic_load(&created);
    dn_train_result r;
    CHECK_OK(dn_train(m, &ds, &o, &r, &check_err_));
    dn_model_free(m);
    return atomic_load(&created) - before;
}

/* Threads created by 20 single-image inferences through a convolution
 * whose product is threaded (32 x 784 x 800 multiply-adds). */
static int threads_single_images(void) {
    dn_model *m;
    CHECK_OK(dn_model_create("conv5x5x32p2-relu-conv5x5x32p2-relu-pool2-fc10", NULL, 4, &m,
                             &check_err_));
    dn_infer *ctx;
    CHECK_OK(dn_infer_create(m, 1, &ctx, &check_err_));
    float x[784], p[10];
    for (int i = 0; i < 784; i++) x[i] = images[i] * (1.0f / 255.0f);
    int before = atomic_load(&created);
    for (int i = 0; i < 20; i++) CHECK_OK(dn_infer_run(ctx, x, 1, p, &check_err_));
    dn_infer_free(ctx);
    dn_model_free(m);
    return atomic_load(&created) - before;
}

int main(void) {
    for (int i = 0; i < N * 784; i++) images[i] = (unsigned char)((i * 131) % 256);
    for (int i = 0; i < N; i++) labels[i] = (unsigned char)(i % 10);
    dn_set_threads(2);
    /* a first parallel region starts the runtime's one extra thread, and
     * shows that its thread creation reaches the counter */
    int warm = 0;
#pragma omp parallel num_threads(2)
    {
#pragma omp atomic
        warm++;
    }
    CHECK_MSG(warm == 2 && atomic_load(&created) >= 1,
              "%d threads in the first region, %d created: the counter does not see them", warm,
              atomic_load(&created));
    int t = threads_training();
    CHECK_MSG(t <= 1, "training created %d threads", t);
    t = threads_single_images();
    CHECK_MSG(t <= 1, "single-image inference created %d threads", t);
    return check_report("test_threads");
}
