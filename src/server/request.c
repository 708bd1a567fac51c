/*
 * request.c — parsing HTTP/1.1 request heads (contract in request.h).
 */
#include "server/request.h"
#include "server/api.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int is_tchar(unsigned char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

int dn_http_hexdigit(int ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f') return (ch | 0x20) - 'a' + 10;
    return -1;
}

size_t dn_http_head_end(const char *in, size_t from, size_t len) {
    for (size_t i = from; i < len; i++) {
        if (in[i] != '\n') continue;
        if (i + 1 < len && in[i + 1] == '\n') return i + 2;
        if (i + 2 < len && in[i + 1] == '\r' && in[i + 2] == '\n') return i + 3;
    }
    return 0;
}

/* Cuts the line at *p (ending in LF or CRLF, or at the end of the text)
 * and returns it; NULL when it holds a bare CR or another control byte
 * other than tab. */
static char *take_line(char **p) {
    char *s = *p, *nl = strchr(s, '\n');
    if (!nl) {
        *p = s + strlen(s);
        nl = *p;
    } else {
        *nl = '\0';
        *p = nl + 1;
    }
    if (nl > s && nl[-1] == '\r') nl[-1] = '\0';
    for (char *q = s; *q; q++)
        if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f) return NULL;
    return s;
}

/* Parses "1*DIGIT" into *out; 1 when it is longer than the body limit allows
 * (the 413 case), -1 when it is not a number at all. */
static int parse_length(const char *v, long long *out) {
    long long n = 0;
    if (!*v) return -1;
    for (; *v; v++) {
        if (*v < '0' || *v > '9') return -1;
        if (n <= (long long)DN_API_MAX_BODY) n = n * 10 + (*v - '0');
    }
    *out = n;
    return n > (long long)DN_API_MAX_BODY;
}

/* Percent-decodes s[0..n) into out (size DN_HTTP_TARGET_MAX + 1); -1 for a bad
 * escape or a NUL. */
static int decode_path(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '%') {
            int hi = i + 2 < n ? dn_http_hexdigit(s[i + 1]) : -1,
                lo = hi >= 0 ? dn_http_hexdigit(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return -1;
            ch = hi * 16 + lo;
            i += 2;
        }
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return 0;
}

/* Parses the request line: returns 0, or the status to refuse it with. */
static int parse_request_line(char *line, dn_http_head *q, const char **why) {
    char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    *why = "the request line is not 'METHOD /target HTTP/1.1'";
    if (!sp1 || !sp2 || strchr(sp2 + 1, ' ')) return 400;
    size_t mlen = (size_t)(sp1 - line), tlen = (size_t)(sp2 - sp1 - 1);
    if (!mlen || mlen >= sizeof q->method) return mlen ? 501 : 400;
    for (size_t i = 0; i < mlen; i++)
        if (!is_tchar((unsigned char)line[i])) return 400;
    memcpy(q->method, line, mlen);
    q->method[mlen] = '\0';
    const char *v = sp2 + 1;
    if (strncmp(v, "HTTP/", 5) || !(v[5] >= '0' && v[5] <= '9') || v[6] != '.' ||
        !(v[7] >= '0' && v[7] <= '9') || v[8])
        return 400;
    if (v[5] != '1') {
        *why = "only HTTP/1.0 and HTTP/1.1 are supported";
        return 505;
    }
    q->minor = v[7] - '0';
    char *target = sp1 + 1;
    if (tlen > DN_HTTP_TARGET_MAX) {
        *why = "the request target is longer than 8 KiB";
        return 414;
    }
    *why = "the request target is not a path";
    if (!tlen || target[0] != '/') return 400;
    for (size_t i = 0; i < tlen; i++)
        if ((unsigned char)target[i] <= 0x20 || (unsigned char)target[i] >= 0x7f ||
            target[i] == '#')
            return 400;
    char *qm = memchr(target, '?', tlen);
    size_t plen = qm ? (size_t)(qm - target) : tlen;
    if (decode_path(target, plen, q->path)) return 400;
    q->query[0] = '\0';
    if (qm) {
        memcpy(q->query, qm + 1, tlen - plen - 1);
        q->query[tlen - plen - 1] = '\0';
    }
    return 0;
}

/* Does the comma-separated header value v hold the token t? */
static int has_token(const char *v, const char *t) {
    size_t n = strlen(t);
    for (const char *p = v; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *end = e;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t')) end--;
        if ((size_t)(end - p) == n && !strncasecmp(p, t, n)) return 1;
        p = e;
    }
    return 0;
}

int dn_http_parse_head(char *text, dn_http_head *q, const char **why) {
    memset(q, 0, sizeof *q);
    q->length = -1;
    char *p = text;
    while (*p == '\r' || *p == '\n') p++; /* empty lines before a request are allowed */
    *why = "the request is empty";
    if (!*p) return 400;
    char *line = take_line(&p);
    if (!line) {
        *why = "the request line holds a control character";
        return 400;
    }
    int st = parse_request_line(line, q, why);
    if (st) return st;
    int fields = 0, lengths = 0, host = 0, te = 0;
    while ((line = take_line(&p)) != NULL && *line) {
        *why = "a header field is malformed";
        if (++fields > DN_HTTP_FIELDS_MAX) {
            *why = "more than 100 header fields";
            return 431;
        }
        char *colon = strchr(line, ':');
        if (!colon || colon == line) return 400;
        for (char *k = line; k < colon; k++)
            if (!is_tchar((unsigned char)*k)) return 400; /* also a space before ':' or a fold */
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        char *e = v + strlen(v);
        while (e > v && (e[-1] == ' ' || e[-1] == '\t')) *--e = '\0';
        if (!strcasecmp(line, "Content-Length")) {
            *why = "more than one Content-Length header";
            if (++lengths > 1) return 400;
            int r = parse_length(v, &q->length);
            *why =
                r > 0 ? "the request body is larger than 2 MiB" : "Content-Length is not a number";
            if (r) return r > 0 ? 413 : 400;
        } else if (!strcasecmp(line, "Transfer-Encoding")) {
            *why = "only one Transfer-Encoding: chunked is supported";
            if (te++ || strcasecmp(v, "chunked")) return 501;
            q->chunked = 1;
        } else if (!strcasecmp(line, "Host")) {
            host++;
        } else if (!strcasecmp(line, "Connection")) {
            if (has_token(v, "close")) q->close = 1;
        } else if (!strcasecmp(line, "Expect")) {
            *why = "the only expectation supported is 100-continue";
            if (strcasecmp(v, "100-continue")) return 417;
            q->expect_continue = 1;
        } else if (!strcasecmp(line, "Content-Type")) {
            snprintf(q->content_type, sizeof q->content_type, "%s", v);
        }
    }
    if (!line) {
        *why = "a header field holds a control character";
        return 400;
    }
    *why = "a request with both Content-Length and Transfer-Encoding";
    if (q->chunked && lengths) return 400;
    *why = "HTTP/1.1 requests need exactly one Host header";
    if (q->minor >= 1 && host != 1) return 400;
    *why = "Transfer-Encoding needs HTTP/1.1";
    if (q->chunked && q->minor == 0) return 400;
    if (q->minor == 0) q->close = 1; /* no keep-alive for HTTP/1.0 */
    q->head_only = !strcmp(q->method, "HEAD");
    return 0;
}
