/* The request log (see mock_record.h).
 *
 * Records are immutable once added and reference counted: the reader copies
 * the pointers it wants under the lock and builds the JSON after releasing
 * it, so a big GET /__mock/requests never stalls the worker threads. */
#include "mock_record.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "mock_utf8.h"

#include <string.h>

struct mock_record {
    int refs;                /* __atomic; the ring holds one */
    size_t size;             /* bytes allocated, for the total bound */
    unsigned long long seq;
    long long at_ms;         /* wall clock when recorded (Unix ms) */
    size_t nheaders;
    size_t body_len;         /* bytes kept */
    size_t body_total;       /* bytes received */
    const char *method;      /* all point into data[] */
    const char *path;
    const char *model;       /* NULL when none */
    const char *headers;     /* nheaders × "name\0value\0" */
    const char *body;        /* body_len bytes + NUL */
    char data[];
};

int mock_recorder_init(struct mock_recorder *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->ring = gw_calloc(MOCK_RECORD_MAX, sizeof(*rec->ring));
    if (!rec->ring)
        return -1;
    pthread_mutex_init(&rec->lock, NULL);
    return 0;
}

static void record_release(struct mock_record *r)
{
    if (r && __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0)
        gw_free(r);
}

/* Drops the oldest record. Lock held. */
static void evict_oldest(struct mock_recorder *rec)
{
    struct mock_record *r = rec->ring[rec->head];
    rec->ring[rec->head] = NULL;
    rec->head = (rec->head + 1) % MOCK_RECORD_MAX;
    rec->count--;
    rec->bytes -= r->size;
    record_release(r);
}

void mock_recorder_clear(struct mock_recorder *rec)
{
    pthread_mutex_lock(&rec->lock);
    while (rec->count)
        evict_oldest(rec);
    pthread_mutex_unlock(&rec->lock);
}

void mock_recorder_cleanup(struct mock_recorder *rec)
{
    if (!rec->ring)
        return;
    mock_recorder_clear(rec);
    gw_free(rec->ring);
    rec->ring = NULL;
    pthread_mutex_destroy(&rec->lock);
}

/* Copies n bytes + NUL at *at and advances it; returns the copy. */
static const char *put(char **at, const char *s, size_t n)
{
    char *d = *at;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    *at = d + n + 1;
    return d;
}

int mock_recorder_add(struct mock_recorder *rec, const struct mock_record_in *in)
{
    size_t mlen = strlen(in->method), plen = strlen(in->path);
    size_t modlen = in->model ? strlen(in->model) : 0;
    size_t blen = in->body_len < MOCK_RECORD_BODY_MAX ? in->body_len : MOCK_RECORD_BODY_MAX;
    size_t hbytes = 0;
    for (size_t i = 0; i < in->nheaders; i++)
        hbytes += in->headers[i].name_len + in->headers[i].value_len + 2;
    size_t size = sizeof(struct mock_record) + mlen + plen + modlen + blen + hbytes + 4;
    struct mock_record *r = gw_malloc(size);
    if (!r)
        return -1;
    r->refs = 1;
    r->size = size;
    r->nheaders = in->nheaders;
    r->body_len = blen;
    r->body_total = in->body_total > in->body_len ? in->body_total : in->body_len;
    char *at = r->data;
    r->method = put(&at, in->method, mlen);
    r->path = put(&at, in->path, plen);
    r->model = in->model ? put(&at, in->model, modlen) : NULL;
    r->headers = at;
    for (size_t i = 0; i < in->nheaders; i++) {
        const struct mock_record_header *h = &in->headers[i];
        char *name = (char *)put(&at, h->name, h->name_len);
        for (char *c = name; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        put(&at, h->value, h->value_len);
    }
    r->body = put(&at, in->body ? in->body : "", blen);
    r->at_ms = (long long)gw_wall_ms();

    pthread_mutex_lock(&rec->lock);
    r->seq = ++rec->seq;
    while (rec->count && (rec->count == MOCK_RECORD_MAX || rec->bytes + size > MOCK_RECORD_BYTES_MAX))
        evict_oldest(rec);
    rec->ring[(rec->head + rec->count) % MOCK_RECORD_MAX] = r;
    rec->count++;
    rec->bytes += size;
    pthread_mutex_unlock(&rec->lock);
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

/* A JSON string of n bytes of possibly invalid UTF-8 (new reference). */
static json_t *text_value(const char *s, size_t n)
{
    if (mock_utf8_valid_len(s, n) == n)
        return json_stringn(s, n);
    char *copy = mock_utf8_lossy(s, n);
    json_t *v = copy ? json_stringn(copy, n) : NULL;
    gw_free(copy);
    return v;
}

/* Adds name: value to obj, joining repeats with ", ". */
static int add_header(json_t *obj, const char *name, const char *value)
{
    json_t *old = json_object_get(obj, name); /* borrowed */
    json_t *v;
    if (old) {
        size_t ol = json_string_length(old), vl = strlen(value);
        char *joined = gw_malloc(ol + vl + 3);
        if (!joined)
            return -1;
        memcpy(joined, json_string_value(old), ol);
        memcpy(joined + ol, ", ", 2);
        memcpy(joined + ol + 2, value, vl + 1);
        v = text_value(joined, ol + vl + 2);
        gw_free(joined);
    } else {
        v = text_value(value, strlen(value));
    }
    return v ? json_object_set_new(obj, name, v) : -1;
}

static json_t *record_json(const struct mock_record *r)
{
    json_t *hdrs = json_object();
    json_t *parsed = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, NULL);
    json_t *item = json_pack("{s:I,s:I,s:o,s:o,s:o,s:o,s:I,s:b,s:o,s:o}", "seq", (json_int_t)r->seq,
                             "receivedAtMs", (json_int_t)r->at_ms,
                             "method", text_value(r->method, strlen(r->method)), "path",
                             text_value(r->path, strlen(r->path)), "headers",
                             hdrs ? json_incref(hdrs) : NULL, "body",
                             text_value(r->body, r->body_len), "bodyLength",
                             (json_int_t)r->body_total, "truncated", r->body_len < r->body_total,
                             "json", parsed ? parsed : json_null(), "model",
                             r->model ? text_value(r->model, strlen(r->model)) : json_null());
    const char *p = r->headers;
    for (size_t i = 0; item && i < r->nheaders; i++) {
        const char *name = p;
        const char *value = name + strlen(name) + 1;
        p = value + strlen(value) + 1;
        if (add_header(hdrs, name, value) < 0) {
            json_decref(item);
            item = NULL;
        }
    }
    json_decref(hdrs);
    return item;
}

json_t *mock_recorder_to_json(struct mock_recorder *rec, size_t limit)
{
    struct mock_record **snap = NULL;
    size_t n = 0;
    json_t *items = json_array();
    json_t *out = NULL;
    if (!items)
        goto out;

    pthread_mutex_lock(&rec->lock);
    n = rec->count;
    if (limit && limit < n)
        n = limit;
    snap = gw_malloc((n ? n : 1) * sizeof(*snap));
    if (snap) {
        size_t first = rec->head + rec->count - n;
        for (size_t i = 0; i < n; i++) {
            snap[i] = rec->ring[(first + i) % MOCK_RECORD_MAX];
            __atomic_add_fetch(&snap[i]->refs, 1, __ATOMIC_ACQ_REL);
        }
    }
    pthread_mutex_unlock(&rec->lock);
    if (!snap)
        goto out;

    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (!failed && json_array_append_new(items, record_json(snap[i])) < 0)
            failed = 1;
        record_release(snap[i]);
    }
    if (!failed)
        out = json_pack("{s:O}", "items", items);
out:
    gw_free(snap);
    json_decref(items);
    return out;
}
