/* Custom resources: Secrets (base64 data, stringData) -> the import
 * description (see crs_doc.h). Pure functions, any thread. */
#include "crs_doc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "import_map.h"

static int b64_decode(const char *s, size_t len, char *out, size_t *out_len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned acc = 0;
    size_t n = 0, pad = 0;
    int bits = 0;

    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        const char *p = s[i] ? strchr(alphabet, s[i]) : NULL;
        if (s[i] == '=' && i >= len - 2) {
            pad++;
            continue;
        }
        if (!p || pad)
            return -1;
        acc = (acc << 6) | (unsigned)(p - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)((acc >> bits) & 0xFF);
        }
    }
    out[n] = 0;
    *out_len = n;
    return 0;
}

/* data (base64) and stringData (plain; wins for a key in both). */
int cp_crs_secret(struct crs *c, const struct doc *d)
{
    const struct cp_ynode *data, *sdata;
    json_t *item, *values;

    if (cp_im_add_item(c->desc, "secrets", d->root, d->label, &item, NULL, c->err) < 0 ||
        cp_im_put(item, "values", values = json_object(), c->err) < 0 ||
        cp_im_put_str(item, "name", d->name, c->err) < 0)
        return -1;
    if (cp_crs_map(d->root, "data", 0, &data, c->err) < 0 ||
        cp_crs_map(d->root, "stringData", 0, &sdata, c->err) < 0)
        return cp_crs_in_doc(c->err, d);
    for (size_t i = 0; data && i < data->n; i += 2) {
        const struct cp_ynode *k = data->items[i], *v = data->items[i + 1];
        char *buf;
        size_t n = 0;
        int rc;
        if (v->kind != CP_YT_SCALAR) {
            cp_yt_fail(c->err, v->line, v->col, "data.%.64s must be a base64 string", k->str);
            return cp_crs_in_doc(c->err, d);
        }
        buf = gw_malloc(v->len + 1);
        if (!buf)
            return cp_yt_nomem(c->err);
        rc = b64_decode(v->str, v->len, buf, &n);
        if (rc == 0 && memchr(buf, 0, n))
            rc = -1; /* a NUL byte cannot be a header value */
        if (rc == 0)
            rc = cp_im_put(values, k->str, json_stringn(buf, n), c->err) < 0 ? -2 : 0;
        gw_free(buf);
        if (rc == -2)
            return -1;
        if (rc < 0) {
            cp_yt_fail(c->err, v->line, v->col,
                       "data.%.64s is not base64 of text (use stringData for plain values)",
                       k->str);
            return cp_crs_in_doc(c->err, d);
        }
    }
    for (size_t i = 0; sdata && i < sdata->n; i += 2) {
        const struct cp_ynode *k = sdata->items[i], *v = sdata->items[i + 1];
        if (v->kind != CP_YT_SCALAR) {
            cp_yt_fail(c->err, v->line, v->col, "stringData.%.64s must be a string", k->str);
            return cp_crs_in_doc(c->err, d);
        }
        if (cp_im_put_str(values, k->str, v->str, c->err) < 0)
            return -1;
    }
    return 0;
}
