/*
 * json.c — the strict, bounded JSON reader and the text buffer declared in
 * json.h.  The reader is a recursive descent over the bytes with an explicit
 * depth limit; values go into one node array (indices, not pointers, so it
 * can grow) and decoded strings into one arena no larger than the input.
 * It never reads past `size` and never needs a NUL-terminated input.
 */
#include "server/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================== */
/* UTF-8                                                                    */
/* ======================================================================== */

/* Length of the well-formed UTF-8 sequence at s (n bytes available), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* no overlong forms */
        else if (c == 0xED)
            hi = 0x9F; /* no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F; /* nothing past U+10FFFF */
    } else
        return 0;
    if (n < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}

int dn_utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq(s + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

static size_t utf8_put(char *out, unsigned long cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ======================================================================== */
/* Reader                                                                   */
/* ======================================================================== */

typedef struct parser {
    const unsigned char *start, *p, *end;
    dn_json_doc *doc;
    size_t cap;       /* allocated nodes */
    size_t arena_len; /* bytes used in doc->strings */
    char *msg;
    size_t msg_size;
} parser;

static int fail(parser *ps, const char *what) {
    if (ps->msg && ps->msg_size)
        snprintf(ps->msg, ps->msg_size, "invalid JSON at byte %zu: %s", (size_t)(ps->p - ps->start),
                 what);
    return -1;
}

static const char *fail_null(parser *ps, const char *what) {
    fail(ps, what);
    return NULL;
}

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int new_node(parser *ps, dn_json_type type) {
    dn_json_doc *d = ps->doc;
    if (d->count == ps->cap) {
        if (ps->cap >= DN_JSON_MAX_NODES) return fail(ps, "too many values");
        size_t ncap = ps->cap ? ps->cap * 2 : 64;
        if (ncap > DN_JSON_MAX_NODES) ncap = DN_JSON_MAX_NODES;
        dn_json_node *nn = realloc(d->nodes, ncap * sizeof *nn);
        if (!nn) return fail(ps, "out of memory");
        d->nodes = nn;
        ps->cap = ncap;
    }
    dn_json_node *n = &d->nodes[d->count];
    memset(n, 0, sizeof *n);
    n->type = type;
    n->first = n->next = -1;
    return (int)d->count++;
}

static int hex4(const unsigned char *s, unsigned long *out) {
    unsigned long v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/* Decodes the string at ps->p (which is at the opening quote) into the
 * arena; returns it (NUL-terminated) and its length in *len, or NULL. */
static const char *parse_string(parser *ps, size_t *len) {
    ps->p++; /* opening quote */
    char *out = ps->doc->strings + ps->arena_len;
    size_t n = 0;
    for (;;) {
        if (ps->p >= ps->end) return fail_null(ps, "unterminated string");
        unsigned c = *ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c < 0x20) return fail_null(ps, "control character in string");
        if (c == '\\') {
            if (ps->end - ps->p < 2) return fail_null(ps, "unterminated escape");
            unsigned e = ps->p[1];
            const char *simple = strchr("\"\\/bfnrt", (int)e);
            if (e && simple) {
                static const char map[] = "\"\\/\b\f\n\r\t";
                out[n++] = map[simple - "\"\\/bfnrt"];
                ps->p += 2;
                continue;
            }
            if (e != 'u') return fail_null(ps, "unknown escape");
            unsigned long cp, lo;
            if (ps->end - ps->p < 6 || hex4(ps->p + 2, &cp)) return fail_null(ps, "bad \\u escape");
            ps->p += 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return fail_null(ps, "lone low surrogate");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
                    hex4(ps->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return fail_null(ps, "lone high surrogate");
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            n += utf8_put(out + n, cp);
            continue;
        }
        size_t k = utf8_seq(ps->p, (size_t)(ps->end - ps->p));
        if (!k) return fail_null(ps, "invalid UTF-8");
        memcpy(out + n, ps->p, k);
        n += k;
        ps->p += k;
    }
    out[n] = '\0';
    ps->arena_len += n + 1;
    *len = n;
    return out;
}

static int parse_number(parser *ps, double *out) {
    const unsigned char *s = ps->p;
    const unsigned char *q = s;
    if (q < ps->end && *q == '-') q++;
    if (q >= ps->end) return fail(ps, "bad number");
    if (*q == '0')
        q++;
    else if (*q >= '1' && *q <= '9')
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    else
        return fail(ps, "bad number");
    if (q < ps->end && *q == '.') {
        q++;
        if (q >= ps->end || *q < '0' || *q > '9') return fail(ps, "digit expected after '.'");
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < ps->end && (*q == '+' || *q == '-')) q++;
        if (q >= ps->end || *q < '0' || *q > '9') return fail(ps, "digit expected in exponent");
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    char buf[64];
    size_t n = (size_t)(q - s);
    if (n >= sizeof buf) return fail(ps, "number too long");
    memcpy(buf, s, n);
    buf[n] = '\0';
    double v = strtod(buf, NULL);
    if (!isfinite(v)) return fail(ps, "number out of range");
    *out = v;
    ps->p = q;
    return 0;
}

static int literal(parser *ps, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
        return fail(ps, "unexpected token");
    ps->p += n;
    return 0;
}

static int parse_value(parser *ps, int depth);

/* Parses the members of an array or object at ps->p (at '[' or '{'). */
static int parse_container(parser *ps, int depth, int is_object) {
    if (depth >= DN_JSON_MAX_DEPTH) return fail(ps, "nesting too deep");
    int self = new_node(ps, is_object ? DN_JSON_OBJECT : DN_JSON_ARRAY);
    if (self < 0) return -1;
    char close = is_object ? '}' : ']';
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return self;
    }
    int last = -1;
    size_t count = 0;
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0;
        if (is_object) {
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"') return fail(ps, "member name expected");
            key = parse_string(ps, &key_len);
            if (!key) return -1;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') return fail(ps, "':' expected");
            ps->p++;
        }
        int child = parse_value(ps, depth + 1);
        if (child < 0) return -1;
        dn_json_node *nodes = ps->doc->nodes;
        if (is_object) {
            nodes[child].key = key;
            nodes[child].key_len = key_len;
        }
        if (last < 0)
            nodes[self].first = child;
        else
            nodes[last].next = child;
        last = child;
        count++;
        skip_ws(ps);
        if (ps->p >= ps->end) return fail(ps, is_object ? "'}' expected" : "']' expected");
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p != close)
            return fail(ps, is_object ? "',' or '}' expected" : "',' or ']' expected");
        ps->p++;
        break;
    }
    ps->doc->nodes[self].len = count;
    return self;
}

static int parse_value(parser *ps, int depth) {
    skip_ws(ps);
    if (ps->p >= ps->end) return fail(ps, "value expected");
    switch (*ps->p) {
    case '{':
        return parse_container(ps, depth, 1);
    case '[':
        return parse_container(ps, depth, 0);
    case '"': {
        int n = new_node(ps, DN_JSON_STRING);
        if (n < 0) return -1;
        size_t len;
        const char *str = parse_string(ps, &len);
        if (!str) return -1;
        ps->doc->nodes[n].str = str;
        ps->doc->nodes[n].len = len;
        return n;
    }
    case 't':
        if (literal(ps, "true")) return -1;
        return new_node(ps, DN_JSON_TRUE);
    case 'f':
        if (literal(ps, "false")) return -1;
        return new_node(ps, DN_JSON_FALSE);
    case 'n':
        if (literal(ps, "null")) return -1;
        return new_node(ps, DN_JSON_NULL);
    default: {
        double v;
        if (parse_number(ps, &v)) return -1;
        int n = new_node(ps, DN_JSON_NUMBER);
        if (n >= 0) ps->doc->nodes[n].number = v;
        return n;
    }
    }
}

int dn_json_parse(const char *text, size_t size, dn_json_doc *doc, char *msg, size_t msg_size) {
    memset(doc, 0, sizeof *doc);
    parser ps = {(const unsigned char *)text,
                 (const unsigned char *)text,
                 (const unsigned char *)text + size,
                 doc,
                 0,
                 0,
                 msg,
                 msg_size};
    if (msg && msg_size) msg[0] = '\0';
    /* Decoded strings never outgrow their quoted source, so one arena of the
     * input's size holds them all and never moves: nodes point into it. */
    doc->strings = malloc(size + 1);
    if (!doc->strings) {
        fail(&ps, "out of memory");
        return -1;
    }
    int root = parse_value(&ps, 0);
    if (root >= 0) {
        skip_ws(&ps);
        if (ps.p != ps.end) root = fail(&ps, "unexpected data after the value");
    }
    if (root < 0) {
        dn_json_free(doc);
        return -1;
    }
    return 0;
}

void dn_json_free(dn_json_doc *doc) {
    if (!doc) return;
    free(doc->nodes);
    free(doc->strings);
    memset(doc, 0, sizeof *doc);
}

const dn_json_node *dn_json_child(const dn_json_doc *doc, const dn_json_node *n) {
    return n && n->first >= 0 ? &doc->nodes[n->first] : NULL;
}

const dn_json_node *dn_json_next(const dn_json_doc *doc, const dn_json_node *n) {
    return n && n->next >= 0 ? &doc->nodes[n->next] : NULL;
}

const dn_json_node *dn_json_get(const dn_json_doc *doc, const dn_json_node *obj, const char *key) {
    if (!obj || obj->type != DN_JSON_OBJECT) return NULL;
    size_t klen = strlen(key);
    for (const dn_json_node *c = dn_json_child(doc, obj); c; c = dn_json_next(doc, c))
        if (c->key_len == klen && !memcmp(c->key, key, klen)) return c;
    return NULL;
}

/* ======================================================================== */
/* Writer                                                                   */
/* ======================================================================== */

static int reserve(dn_strbuf *b, size_t extra) {
    if (b->failed) return -1;
    if (extra > ((size_t)-1) / 2 - b->len) {
        b->failed = 1;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need) ncap *= 2;
    char *nd = realloc(b->data, ncap);
    if (!nd) {
        b->failed = 1;
        return -1;
    }
    b->data = nd;
    b->cap = ncap;
    return 0;
}

void dn_strbuf_append(dn_strbuf *b, const char *s, size_t n) {
    if (reserve(b, n)) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void dn_strbuf_puts(dn_strbuf *b, const char *s) {
    dn_strbuf_append(b, s, strlen(s));
}

void dn_strbuf_printf(dn_strbuf *b, const char *fmt, ...) {
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        dn_strbuf_append(b, small, (size_t)n);
        return;
    }
    if (reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void dn_strbuf_json_string(dn_strbuf *b, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    dn_strbuf_append(b, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            dn_strbuf_append(b, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            dn_strbuf_printf(b, "\\u%04x", c);
            i++;
        } else {
            size_t k = utf8_seq(u + i, n - i);
            if (k)
                dn_strbuf_append(b, s + i, k);
            else
                dn_strbuf_puts(b, "\\ufffd");
            i += k ? k : 1;
        }
    }
    dn_strbuf_append(b, "\"", 1);
}

char *dn_strbuf_take(dn_strbuf *b, size_t *len) {
    if (b->failed || reserve(b, 0)) {
        dn_strbuf_free(b);
        if (len) *len = 0;
        return NULL;
    }
    char *d = b->data;
    d[b->len] = '\0'; /* also when nothing was appended */
    if (len) *len = b->len;
    memset(b, 0, sizeof *b);
    return d;
}

void dn_strbuf_free(dn_strbuf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}
