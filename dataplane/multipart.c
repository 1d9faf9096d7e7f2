/* multipart/form-data request bodies (body.h, RFC 7578 / RFC 2046): finds
 * the "model" form field and rewrites its value in place, every other byte
 * (the audio file) unchanged.
 *
 * The body is walked once, delimiter to delimiter; nothing is copied except
 * into the output buffer of a rewrite. Anything that does not follow the
 * grammar (no boundary, a part without a header block, no close delimiter)
 * is malformed. Pure functions; any thread. */
#include "body.h"

#include <ctype.h>
#include <string.h>

#define BOUNDARY_MAX 70 /* RFC 2046 */

/* Reads parameter `name` from a header value of the form
 * `type; a=b; name="quoted \" value"` (s, n bytes). Copies the value to
 * out (outsz with NUL; a longer value is cut short there, but *outlen is
 * its full length). Returns 0 found, 1 absent, -1 malformed. */
static int header_param(const char *s, size_t n, const char *name, char *out, size_t outsz,
                        size_t *outlen)
{
    size_t i = 0, nlen = strlen(name);
    while (i < n && s[i] != ';') /* skip the type */
        i++;
    while (i < n) {
        i++; /* ';' */
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        size_t k = i;
        while (i < n && s[i] != '=' && s[i] != ';')
            i++;
        size_t klen = i;
        while (klen > k && (s[klen - 1] == ' ' || s[klen - 1] == '\t'))
            klen--;
        if (i >= n || s[i] == ';') /* a parameter without a value */
            continue;
        i++; /* '=' */
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        size_t len = 0;
        int quoted = i < n && s[i] == '"';
        if (quoted) {
            for (i++; i < n && s[i] != '"'; i++) {
                if (s[i] == '\\' && i + 1 < n)
                    i++;
                if (len + 1 < outsz)
                    out[len] = s[i];
                len++;
            }
            if (i >= n)
                return -1; /* unterminated quote */
            i++;
            while (i < n && s[i] != ';')
                i++;
        } else {
            for (; i < n && s[i] != ';' && s[i] != ' ' && s[i] != '\t'; i++) {
                if (len + 1 < outsz)
                    out[len] = s[i];
                len++;
            }
            while (i < n && s[i] != ';')
                i++;
        }
        out[len < outsz ? len : outsz - 1] = '\0';
        if (klen - k == nlen && strncasecmp(s + k, name, nlen) == 0) {
            *outlen = len;
            return 0;
        }
    }
    return 1;
}

/* The boundary of a multipart/form-data Content-Type. 0 or -1. */
static int get_boundary(const char *ct, char out[BOUNDARY_MAX + 1], size_t *len)
{
    if (!ct)
        return -1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, "multipart/form-data", 19) != 0 ||
        (ct[19] && ct[19] != ';' && ct[19] != ' ' && ct[19] != '\t'))
        return -1;
    if (header_param(ct, strlen(ct), "boundary", out, BOUNDARY_MAX + 1, len) != 0 || *len == 0 ||
        *len > BOUNDARY_MAX)
        return -1;
    return 0;
}

/* Whether the header block [h, h + n) has Content-Disposition: form-data
 * with name="model". -1 when that header is malformed. */
static int is_model_part(const char *h, size_t n)
{
    static const char cd[] = "content-disposition:";
    size_t i = 0;
    while (i < n) {
        const char *eol = memmem(h + i, n - i, "\r\n", 2);
        size_t line_end = eol ? (size_t)(eol - h) : n;
        if (line_end - i >= sizeof(cd) - 1 && strncasecmp(h + i, cd, sizeof(cd) - 1) == 0) {
            char name[128];
            size_t nlen;
            int r = header_param(h + i + sizeof(cd) - 1, line_end - i - (sizeof(cd) - 1), "name",
                                 name, sizeof(name), &nlen);
            if (r < 0)
                return -1;
            return r == 0 && nlen == 5 && memcmp(name, "model", 5) == 0;
        }
        i = line_end + 2;
    }
    return 0;
}

/* Walks the parts; sets val and vlen to the "model" part's content.
 * Returns 0 found, 1 absent, -1 malformed or more than one "model" part
 * (err set): the gateway routes one model part, and an upstream reading
 * another (Starlette takes the last) must never see a model we did not
 * choose (SPEC 3.1 step 7). */
static int find_model(const char *body, size_t len, const char *content_type, const char **val,
                      size_t *vlen, struct gw_err *err)
{
    char b[BOUNDARY_MAX + 3] = "--";
    size_t blen;
    if (get_boundary(content_type, b + 2, &blen) < 0)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_request_error", NULL,
                          "multipart/form-data without a valid boundary");
    blen += 2; /* "--" + boundary */
    char delim[BOUNDARY_MAX + 5] = "\r\n";
    memcpy(delim + 2, b, blen);
    size_t dlen = blen + 2;

    size_t p;
    if (len >= blen && memcmp(body, b, blen) == 0) {
        p = 0;
    } else {
        const char *d = memmem(body, len, delim, dlen);
        if (!d)
            goto malformed;
        p = (size_t)(d - body) + 2;
    }
    int found = 0;
    for (;;) {
        size_t q = p + blen; /* just after a delimiter */
        if (q + 2 <= len && body[q] == '-' && body[q + 1] == '-')
            return found ? 0 : 1; /* close delimiter; the epilogue is ignored */
        while (q < len && (body[q] == ' ' || body[q] == '\t'))
            q++;
        if (q + 2 > len || body[q] != '\r' || body[q + 1] != '\n')
            goto malformed;
        size_t h = q + 2, content;
        size_t hlen;
        if (h + 2 <= len && body[h] == '\r' && body[h + 1] == '\n') {
            hlen = 0; /* no headers */
            content = h + 2;
        } else {
            const char *e = memmem(body + h, len - h, "\r\n\r\n", 4);
            if (!e)
                goto malformed;
            hlen = (size_t)(e - (body + h));
            content = h + hlen + 4;
        }
        const char *next = memmem(body + content, len - content, delim, dlen);
        if (!next)
            goto malformed;
        int m = is_model_part(body + h, hlen);
        if (m < 0)
            goto malformed;
        if (m && found)
            return gw_err_set(err, GW_ERR_INVALID, "invalid_request_error", "model",
                              "multipart/form-data with more than one model field");
        if (m) {
            *val = body + content;
            *vlen = (size_t)(next - (body + content));
            found = 1;
        }
        p = (size_t)(next - body) + 2;
    }
malformed:
    return gw_err_set(err, GW_ERR_INVALID, "invalid_request_error", NULL,
                      "malformed multipart/form-data body");
}

int dp_multipart_find_model(const char *body, size_t len, const char *content_type,
                            const char **model, size_t *model_len, struct gw_err *err)
{
    int r = find_model(body, len, content_type, model, model_len, err);
    if (r == 0 && dp_body_check_model(*model, *model_len) < 0)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_request_error", "model",
                          "the model field must be at most %d characters, without control "
                          "characters", DP_MODEL_MAX);
    return r;
}

int dp_multipart_replace_model(const char *body, size_t len, const char *content_type,
                               const char *model, struct gw_buf *out)
{
    const char *val = NULL;
    size_t vlen = 0;
    int r = find_model(body, len, content_type, &val, &vlen, NULL);
    if (r < 0)
        return -1;
    if (r == 1) /* no model field: nothing to rewrite */
        return gw_buf_append(out, body, len) == GW_BUF_OK ? 0 : -1;
    size_t off = (size_t)(val - body);
    if (gw_buf_append(out, body, off) != GW_BUF_OK ||
        gw_buf_append_str(out, model) != GW_BUF_OK ||
        gw_buf_append(out, val + vlen, len - off - vlen) != GW_BUF_OK)
        return -1;
    return 0;
}
