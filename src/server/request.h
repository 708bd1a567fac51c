/*
 * request.h — HTTP/1.1 request heads: finding the end of one in a buffer
 * and parsing it strictly (request line, header fields, the framing
 * headers).  Pure functions over bytes, no sockets: http.c reads, these
 * decide.  The rules are listed at the top of http.c.
 */
#ifndef DN_SERVER_REQUEST_H
#define DN_SERVER_REQUEST_H

#include <stddef.h>

#define DN_HTTP_HEAD_MAX (16 * 1024) /* request line and header fields */
#define DN_HTTP_TARGET_MAX (8 * 1024)
#define DN_HTTP_FIELDS_MAX 100

/* One parsed request head. */
typedef struct dn_http_head {
    char method[16];
    char path[DN_HTTP_TARGET_MAX + 1];  /* percent-decoded */
    char query[DN_HTTP_TARGET_MAX + 1]; /* as sent, without '?' */
    char content_type[256];             /* cut to fit; "" when absent */
    long long length;                   /* Content-Length, -1 when absent */
    int minor;                          /* HTTP/1.minor */
    int chunked, expect_continue, close, head_only;
} dn_http_head;

/* The end of the head in in[from..len): the index just past its empty line
 * (LF LF or LF CR LF), or 0 when it is not all there yet. */
size_t dn_http_head_end(const char *in, size_t from, size_t len);

/* Parses the head in text (NUL-terminated, lines ending in LF or CRLF,
 * empty lines before the request line skipped).  Returns 0, or the status
 * to refuse the request with (400, 413, 414, 417, 431, 501, 505) and the
 * reason in *why.  text is cut up in place. */
int dn_http_parse_head(char *text, dn_http_head *q, const char **why);

/* The value of a hex digit, -1 for anything else. */
int dn_http_hexdigit(int ch);

#endif
