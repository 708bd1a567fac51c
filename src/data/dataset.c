/*
 * dataset.c — ownership of dn_dataset: releasing what the readers allocate.
 * Reading and writing live in idx.c and csv.c.
 */
#include "internal.h"

#include <string.h>

void dn_dataset_free(dn_dataset *ds) {
    if (!ds) return;
    free(ds->images);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}
