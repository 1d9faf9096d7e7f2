/* multipart/form-data field lookup (see mock_multipart.h). */
#include "mock_multipart.h"

#include <string.h>
#include <strings.h>

#define BOUNDARY_MAX 70

int mock_multipart_boundary(const char *content_type, char *out, size_t outsz)
{
    static const char type[] = "multipart/form-data";
    if (!content_type || outsz == 0)
        return -1;
    while (*content_type == ' ' || *content_type == '\t')
        content_type++;
    if (strncasecmp(content_type, type, sizeof(type) - 1) != 0)
        return -1;
    const char *p = content_type + sizeof(type) - 1;
    /* Walk the ;-separated parameters looking for boundary=. */
    while ((p = strchr(p, ';')) != NULL) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "boundary=", 9) != 0)
            continue;
        p += 9;
        size_t n;
        if (*p == '"') {
            p++;
            const char *end = strchr(p, '"');
            if (!end)
                return -1;
            n = (size_t)(end - p);
        } else {
            n = strcspn(p, "; \t");
        }
        if (n == 0 || n > BOUNDARY_MAX || n >= outsz)
            return -1;
        memcpy(out, p, n);
        out[n] = '\0';
        return (int)n;
    }
    return -1;
}

/* Does the header block [h, end) name the part `name` in its
 * Content-Disposition? Header lines are CRLF separated. */
static int part_is_named(const char *h, const char *end, const char *name)
{
    static const char cd[] = "content-disposition:";
    size_t nlen = strlen(name);
    while (h < end) {
        const char *eol = memmem(h, (size_t)(end - h), "\r\n", 2);
        const char *line_end = eol ? eol : end;
        size_t ll = (size_t)(line_end - h);
        if (ll > sizeof(cd) - 1 && strncasecmp(h, cd, sizeof(cd) - 1) == 0) {
            /* look for name="<name>" with an exact match */
            const char *q = h;
            while ((q = memmem(q, (size_t)(line_end - q), "name=\"", 6)) != NULL) {
                /* skip "filename=" matches: the char before must not be a letter */
                int is_filename = q > h && ((q[-1] >= 'a' && q[-1] <= 'z') ||
                                            (q[-1] >= 'A' && q[-1] <= 'Z'));
                q += 6;
                if (!is_filename && (size_t)(line_end - q) > nlen && memcmp(q, name, nlen) == 0 &&
                    q[nlen] == '"')
                    return 1;
            }
        }
        if (!eol)
            break;
        h = eol + 2;
    }
    return 0;
}

int mock_multipart_field(const char *body, size_t len, const char *boundary, const char *name,
                         char *out, size_t outsz)
{
    char delim[BOUNDARY_MAX + 5];
    size_t blen = boundary ? strlen(boundary) : 0;
    if (!body || blen == 0 || blen > BOUNDARY_MAX || !name || outsz == 0)
        return -1;
    /* Parts are introduced by "--boundary"; later ones by "\r\n--boundary". */
    delim[0] = '\r';
    delim[1] = '\n';
    delim[2] = '-';
    delim[3] = '-';
    memcpy(delim + 4, boundary, blen);
    size_t dlen = blen + 4;

    const char *end = body + len;
    const char *p = memmem(body, len, delim + 2, dlen - 2);
    if (!p)
        return -1;
    p += dlen - 2;
    for (;;) {
        /* After a delimiter: "--" closes the body, else CRLF and headers. */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return -1;
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol)
            return -1;
        const char *headers = eol + 2;
        const char *hend = memmem(headers, (size_t)(end - headers), "\r\n\r\n", 4);
        if (!hend)
            return -1;
        const char *content = hend + 4;
        const char *next = memmem(content, (size_t)(end - content), delim, dlen);
        if (!next)
            return -1;
        if (part_is_named(headers, hend + 2, name)) {
            size_t vlen = (size_t)(next - content);
            if (vlen >= outsz)
                return -2;
            memcpy(out, content, vlen);
            out[vlen] = '\0';
            return (int)vlen;
        }
        p = next + dlen;
    }
}
