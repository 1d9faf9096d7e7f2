/* Building what a try sends upstream (see forward.h). Owns nothing: the
 * caller owns the buffers and lists. Any thread. */
#include "forward.h"

#include <string.h>
#include <strings.h>

static int is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

static int append_escaped(struct gw_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        enum gw_buf_result rc = is_unreserved(*p) ? gw_buf_append(b, p, 1) : gw_buf_append(b, e, 3);
        if (rc != GW_BUF_OK)
            return -1;
    }
    return 0;
}

int dp_fwd_query_add(struct gw_buf *q, const char *key, const char *value)
{
    if (gw_buf_append(q, q->len ? "&" : "?", 1) != GW_BUF_OK || append_escaped(q, key) != 0)
        return -1;
    if (value && (gw_buf_append(q, "=", 1) != GW_BUF_OK || append_escaped(q, value) != 0))
        return -1;
    return 0;
}

/* Headers never forwarded: hop-by-hop ones, those we set ourselves, and the
 * caller's credentials. */
int dp_fwd_header_dropped(const char *name)
{
    static const char *const drop[] = {
        "connection",        "keep-alive",     "proxy-authenticate", "proxy-authorization",
        "te",                "trailer",        "transfer-encoding",  "upgrade",
        "host",              "content-length", "authorization",      "apikey",
        "expect",            "accept-encoding", "x-request-id",      "proxy-connection",
    };
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        if (strcasecmp(name, drop[i]) == 0)
            return 1;
    return 0;
}

int dp_fwd_header_add(struct curl_slist **list, const char *name, const char *value)
{
    if (dp_fwd_header_dropped(name))
        return 0;
    /* "name: value", or "name;" (curl's way to send an empty value) */
    char line[8192];
    size_t kn = strlen(name), vn = value ? strlen(value) : 0;
    if ((vn ? kn + 2 + vn : kn + 1) >= sizeof(line))
        return 0; /* longer than any sane header: not forwarded */
    memcpy(line, name, kn);
    if (vn) {
        line[kn] = ':';
        line[kn + 1] = ' ';
        memcpy(line + kn + 2, value, vn);
        line[kn + 2 + vn] = '\0';
    } else {
        line[kn] = ';';
        line[kn + 1] = '\0';
    }
    struct curl_slist *l = curl_slist_append(*list, line);
    if (!l)
        return -1;
    *list = l;
    return 0;
}

int dp_fwd_url(const struct dp_target *t, const struct dp_operation *op, const char *query,
               struct gw_buf *url)
{
    const char *base = t->endpoint->url;
    const char *hole = t->endpoint->url_has_model ? strstr(base, "{model}") : NULL;
    if (hole) {
        if (gw_buf_append(url, base, (size_t)(hole - base)) != GW_BUF_OK ||
            append_escaped(url, t->model ? t->model : "") != 0)
            return -1;
        base = hole + 7;
    }
    if (gw_buf_append_str(url, base) != GW_BUF_OK)
        return -1;
    /* endpoint ".../v1" + target "/chat/completions": one slash between. */
    const char *target = op->target;
    if (url->len > 0 && url->data[url->len - 1] == '/' && target[0] == '/')
        target++;
    if (gw_buf_append_str(url, target) != GW_BUF_OK)
        return -1;
    if (query && gw_buf_append_str(url, query) != GW_BUF_OK)
        return -1;
    return 0;
}

int dp_fwd_body(const struct dp_fwd_body *in, const struct dp_target *t, struct gw_buf *send,
                const char **body, size_t *len)
{
    int rewrite_model = t->model && in->vendor->model_in == DP_MODEL_IN_BODY &&
                        (!in->model || strcmp(t->model, in->model) != 0);
    *body = in->data;
    *len = in->len;
    if (in->json && (rewrite_model || in->force_usage)) {
        gw_buf_reset(send);
        if (dp_body_render_json(in->json, in->vendor->model_field, rewrite_model ? t->model : NULL,
                                in->force_usage, send) != 0)
            return -1;
        *body = send->data;
        *len = send->len;
    } else if (in->multipart && in->model && t->model && strcmp(t->model, in->model) != 0) {
        gw_buf_reset(send);
        if (!in->content_type || dp_multipart_replace_model(in->data, in->len, in->content_type,
                                                            t->model, send) != 0)
            return -1;
        *body = send->data;
        *len = send->len;
    }
    return 0;
}

struct curl_slist *dp_fwd_headers(const struct curl_slist *fwd, const struct dp_target *t,
                                  const char *id)
{
    struct curl_slist *l = NULL, *n;
    for (const struct curl_slist *h = fwd; h; h = h->next) {
        /* The endpoint's credential header replaces any caller header of
         * that name. */
        const char *auth = t->endpoint->auth_header;
        if (auth) {
            size_t k = strlen(auth);
            if (strncasecmp(h->data, auth, k) == 0 && (h->data[k] == ':' || h->data[k] == ';'))
                continue;
        }
        if (!(n = curl_slist_append(l, h->data)))
            goto fail;
        l = n;
    }
    static const char idname[] = "X-Request-Id: ";
    char idline[sizeof(idname) + 64];
    size_t idn = strnlen(id, 63);
    memcpy(idline, idname, sizeof(idname) - 1);
    memcpy(idline + sizeof(idname) - 1, id, idn);
    idline[sizeof(idname) - 1 + idn] = '\0';
    if (!(n = curl_slist_append(l, idline)))
        goto fail;
    l = n;
    if (!(n = curl_slist_append(l, "Expect:")))
        goto fail;
    l = n;
    if (t->endpoint->auth_line) {
        if (!(n = curl_slist_append(l, t->endpoint->auth_line)))
            goto fail;
        l = n;
    }
    return l;
fail:
    curl_slist_free_all(l);
    return NULL;
}

static int add_query(void *arg, const char *key, const char *value)
{
    return dp_fwd_query_add(arg, key, value);
}

struct fwd_ctx {
    struct curl_slist *list;
    int failed;
};

static int add_header(void *arg, const char *key, const char *value)
{
    struct fwd_ctx *c = arg;
    if (dp_fwd_header_add(&c->list, key, value) == 0)
        return 0;
    c->failed = 1;
    return -1;
}

int dp_fwd_collect(dp_each_fn each, void *ctx, char **query, struct curl_slist **headers)
{
    struct gw_buf q;
    gw_buf_init(&q, DP_FWD_URL_MAX);
    each(ctx, 0, add_query, &q);
    *query = gw_buf_take(&q);
    gw_buf_cleanup(&q);
    struct fwd_ctx c = {NULL, 0};
    each(ctx, 1, add_header, &c);
    *headers = c.list;
    return c.failed ? -1 : 0;
}
