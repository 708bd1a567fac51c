/*
 * json.h — a small, strict JSON reader and a growable text buffer for the
 * HTTP API.  Not a general-purpose JSON library: it reads request bodies
 * (RFC 8259, UTF-8 only) into a bounded tree and writes responses.
 *
 * The reader rejects rather than guesses: nesting deeper than
 * DN_JSON_MAX_DEPTH, more than DN_JSON_MAX_NODES values, invalid UTF-8
 * (overlong forms, surrogates, code points past U+10FFFF), lone UTF-16
 * surrogate escapes, control characters in strings, numbers that break the
 * grammar (01, 1., .5, +1) or overflow to infinity, a byte-order mark and
 * anything after the top-level value.  Nothing here prints.
 */
#ifndef DN_SERVER_JSON_H
#define DN_SERVER_JSON_H

#include <stddef.h>

#define DN_JSON_MAX_DEPTH 32
#define DN_JSON_MAX_NODES 100000

typedef enum dn_json_type {
    DN_JSON_NULL,
    DN_JSON_FALSE,
    DN_JSON_TRUE,
    DN_JSON_NUMBER,
    DN_JSON_STRING,
    DN_JSON_ARRAY,
    DN_JSON_OBJECT,
} dn_json_type;

/* One value.  Children of arrays and objects are linked through `next`
 * (indices into the document's node array, -1 ends the list); members of an
 * object carry their key.  Strings are decoded and NUL-terminated. */
typedef struct dn_json_node {
    dn_json_type type;
    double number;   /* DN_JSON_NUMBER */
    const char *str; /* DN_JSON_STRING: decoded text (may hold NUL bytes) */
    size_t len;      /* string length in bytes; child count for containers */
    const char *key; /* member key when the parent is an object, else NULL */
    size_t key_len;
    int first, next; /* first child, next sibling; -1 when none */
} dn_json_node;

typedef struct dn_json_doc {
    dn_json_node *nodes; /* nodes[0] is the root */
    size_t count;
    char *strings; /* arena holding decoded strings and keys */
} dn_json_doc;

/* Parses `size` bytes.  On failure returns -1, leaves doc empty and writes a
 * short reason (with the byte offset) into msg.  On success doc owns its
 * memory: release it with dn_json_free. */
int dn_json_parse(const char *text, size_t size, dn_json_doc *doc, char *msg, size_t msg_size);
void dn_json_free(dn_json_doc *doc);

/* The member `key` of object node `obj`, or NULL (also when obj is not an
 * object).  With duplicate keys the first one wins. */
const dn_json_node *dn_json_get(const dn_json_doc *doc, const dn_json_node *obj, const char *key);

/* The first child of an array or object and the sibling after n (NULL at
 * the end): `for (c = dn_json_child(d, arr); c; c = dn_json_next(d, c))`. */
const dn_json_node *dn_json_child(const dn_json_doc *doc, const dn_json_node *n);
const dn_json_node *dn_json_next(const dn_json_doc *doc, const dn_json_node *n);

/* 1 when s[0..n) is well-formed UTF-8 (no overlong forms or surrogates). */
int dn_utf8_valid(const unsigned char *s, size_t n);

/* ---------------------------------------------------------------- writer */

/* A growable byte buffer.  After a failed allocation it stays `failed` and
 * ignores further appends, so builders check once at the end. */
typedef struct dn_strbuf {
    char *data;
    size_t len, cap;
    int failed;
} dn_strbuf;

void dn_strbuf_append(dn_strbuf *b, const char *s, size_t n);
void dn_strbuf_puts(dn_strbuf *b, const char *s);
void dn_strbuf_printf(dn_strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends s[0..n) as a quoted JSON string; invalid UTF-8 bytes become U+FFFD. */
void dn_strbuf_json_string(dn_strbuf *b, const char *s, size_t n);
/* Takes the buffer (NUL-terminated) and resets b; NULL when it failed. */
char *dn_strbuf_take(dn_strbuf *b, size_t *len);
void dn_strbuf_free(dn_strbuf *b);

#endif
