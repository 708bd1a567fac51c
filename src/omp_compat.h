/*
 * omp_compat.h — OpenMP when the compiler has it, else one thread.
 *
 * The native builds use -fopenmp. A build without it (the WebAssembly page,
 * docs/site.md) ignores the pragmas; these stand-ins answer the few runtime
 * queries the code makes as a team of one would.
 */
#ifndef DN_OMP_COMPAT_H
#define DN_OMP_COMPAT_H

#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_get_thread_num(void) {
    return 0;
}
static inline int omp_get_num_threads(void) {
    return 1;
}
static inline int omp_get_max_threads(void) {
    return 1;
}
static inline int omp_get_num_procs(void) {
    return 1;
}
static inline int omp_in_parallel(void) {
    return 0;
}
static inline void omp_set_num_threads(int n) {
    (void)n;
}
#endif

#endif
