/* assets.h — the web page's static files, embedded at build time by tools/embed.c. */
#ifndef DN_SERVER_ASSETS_H
#define DN_SERVER_ASSETS_H
#include <stddef.h>

typedef struct dn_asset {
    const char *name; /* base name, e.g. "index.html" */
    const char *mime;
    const unsigned char *data;
    size_t size;
} dn_asset;

/* Terminated by an entry whose name is NULL. */
extern const dn_asset dn_assets[];

#endif
