/*
 * test_request.c — the request-head parser of src/server/request.c on its
 * own: what it accepts (and how it reads it) and the status it refuses
 * each malformed or smuggling-prone head with.
 */
#include "check.h"
#include "server/request.h"

#include <string.h>

/* Parses text (a copy) and returns the status (0 = accepted) into q. */
static int parse(const char *text, dn_http_head *q) {
    static char buf[DN_HTTP_HEAD_MAX + 64];
    snprintf(buf, sizeof buf, "%s", text);
    const char *why = NULL;
    int st = dn_http_parse_head(buf, q, &why);
    CHECK_MSG(st == 0 || (why && why[0]), "status %d without a reason", st);
    return st;
}

static void test_accepted(void) {
    dn_http_head q;
    CHECK(parse("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &q) == 0);
    CHECK(!strcmp(q.method, "GET") && !strcmp(q.path, "/healthz") && q.minor == 1);
    CHECK(q.length == -1 && !q.chunked && !q.close && !q.head_only && !q.query[0]);
    /* the path decoded, the query kept as sent; LF-only lines; leading CRLF */
    CHECK(parse("\r\nPOST /api/pre%64ict?explain=%31&a=b+c HTTP/1.1\nHost: t\n"
                "content-length:  12 \nContent-Type: image/png\nConnection: keep-alive, Close\n\n",
                &q) == 0);
    CHECK(!strcmp(q.path, "/api/predict") && !strcmp(q.query, "explain=%31&a=b+c"));
    CHECK(q.length == 12 && !strcmp(q.content_type, "image/png") && q.close);
    CHECK(parse("HEAD / HTTP/1.0\r\n\r\n", &q) == 0 && q.head_only && q.close && q.minor == 0);
    CHECK(parse("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: Chunked\r\n"
                "Expect: 100-continue\r\n\r\n",
                &q) == 0);
    CHECK(q.chunked && q.expect_continue);
    CHECK(parse("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2097152\r\n\r\n", &q) == 0);
}

static void test_refused(void) {
    static const struct {
        const char *text;
        int status;
    } cases[] = {
        {"GET /\r\n\r\n", 400},
        {"\r\n\r\n", 400}, /* nothing but empty lines: refused, not a crash */
        {"\n\n", 400},
        {"", 400},
        {"GET / HTTP/1.1", 400}, /* no line end at all */
        {"GET  / HTTP/1.1\r\nHost: t\r\n\r\n", 400},
        {"GET / HTTP/1.1 x\r\nHost: t\r\n\r\n", 400},
        {"G(T / HTTP/1.1\r\nHost: t\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505},
        {"GET / HTTP/1.10\r\nHost: t\r\n\r\n", 400},
        {"GET / http/1.1\r\nHost: t\r\n\r\n", 400},
        {"GET http://t/ HTTP/1.1\r\nHost: t\r\n\r\n", 400},
        {"GET /a#b HTTP/1.1\r\nHost: t\r\n\r\n", 400},
        {"GET /%00 HTTP/1.1\r\nHost: t\r\n\r\n", 400},
        {"GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n", 400},
        {"GET /%4 HTTP/1.1\r\nHost: t\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: t\r\nX-A: b\r\n c\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: t\r\nnocolon\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5 5\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length:\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2097153\r\n\r\n", 413},
        {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: "
         "99999999999999999999999999999999999999\r\n\r\n",
         413},
        {"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
         "Transfer-Encoding: chunked\r\n\r\n",
         501},
        {"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
         400},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\n\r\n", 417},
        {"GETTINGSOMETHINGLONG / HTTP/1.1\r\nHost: t\r\n\r\n", 501},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        dn_http_head q;
        int st = parse(cases[i].text, &q);
        CHECK_MSG(st == cases[i].status, "case %zu: %d, want %d", i, st, cases[i].status);
    }
    /* a target over 8 KiB: 414; 101 header fields: 431 */
    static char big[DN_HTTP_HEAD_MAX];
    int n = snprintf(big, sizeof big, "GET /");
    memset(big + n, 'a', DN_HTTP_TARGET_MAX);
    snprintf(big + n + DN_HTTP_TARGET_MAX, sizeof big - n - DN_HTTP_TARGET_MAX,
             " HTTP/1.1\r\nHost: t\r\n\r\n");
    dn_http_head q;
    CHECK(parse(big, &q) == 414);
    n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: t\r\n");
    for (int i = 0; i < DN_HTTP_FIELDS_MAX; i++) n += snprintf(big + n, sizeof big - n, "X: y\r\n");
    snprintf(big + n, sizeof big - n, "\r\n");
    CHECK(parse(big, &q) == 431);
}

static void test_head_end(void) {
    const char *a = "GET / HTTP/1.1\r\nHost: t\r\n\r\nNEXT";
    CHECK(dn_http_head_end(a, 0, strlen(a)) == strlen(a) - 4);
    const char *b = "GET / HTTP/1.1\nHost: t\n\nNEXT";
    CHECK(dn_http_head_end(b, 0, strlen(b)) == strlen(b) - 4);
    CHECK(dn_http_head_end(a, 0, 20) == 0); /* not all there yet */
}

int main(void) {
    test_accepted();
    test_refused();
    test_head_end();
    return check_report("test_request");
}
