/*
 * hooks.c — the test side of DN_TEST_HOOK (src/internal.h): the tests'
 * builds of the library files with crash points read their settings from
 * the environment through this function, so the shipped library never does.
 */
#include "internal.h"

#include <stdlib.h>

long dn_test_hook(const char *name) {
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : -1;
}
