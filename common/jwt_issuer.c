/* The issuer table of JWT verification (see jwt_issuer.h). Built by one
 * thread, read by many once sealed. */
#include "jwt_issuer.h"

#include "common/alloc.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gw_jwt_issuers {
    struct gw_jwt_issuer **items; /* owned */
    size_t n, cap;
    uint64_t generation;
};

/* 1 when s (len bytes) is non-empty, at most max bytes and free of control
 * characters. */
static int text_ok(const char *s, size_t len, size_t max)
{
    if (len == 0 || len > max)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

struct gw_jwt_issuer *gw_jwt_issuer_new(const char *iss, const char *client_claim,
                                        struct gw_err *err)
{
    size_t len = iss ? strlen(iss) : 0;
    if (!text_ok(iss, len, GW_JWT_ISSUER_MAX)) {
        gw_err_set(err, GW_ERR_INVALID, "invalid_field", "issuer",
                   "issuer must be 1 to %d characters without control characters",
                   GW_JWT_ISSUER_MAX);
        return NULL;
    }
    size_t clen = client_claim ? strlen(client_claim) : 0;
    if (clen && !text_ok(client_claim, clen, GW_JWT_CLAIM_NAME_MAX)) {
        gw_err_set(err, GW_ERR_INVALID, "invalid_field", "clientClaim",
                   "clientClaim must be 1 to %d characters without control characters",
                   GW_JWT_CLAIM_NAME_MAX);
        return NULL;
    }
    struct gw_jwt_issuer *is = gw_calloc(1, sizeof *is);
    if (!is) {
        gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
        return NULL;
    }
    memcpy(is->iss, iss, len + 1);
    is->iss_len = len;
    if (clen)
        memcpy(is->client_claim, client_claim, clen + 1);
    return is;
}

int gw_jwt_issuer_add_audience(struct gw_jwt_issuer *is, const char *aud, struct gw_err *err)
{
    if (is->naudiences >= GW_JWT_MAX_AUDIENCES)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "audiences",
                          "at most %d audiences per issuer", GW_JWT_MAX_AUDIENCES);
    if (!aud || !text_ok(aud, strlen(aud), GW_JWT_AUDIENCE_MAX))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "audiences",
                          "an audience must be 1 to %d characters without control characters",
                          GW_JWT_AUDIENCE_MAX);
    char *copy = gw_strdup(aud);
    if (!copy)
        return gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
    is->audiences[is->naudiences++] = copy;
    return 0;
}

int gw_jwt_issuer_add_key(struct gw_jwt_issuer *is, struct gw_jwk *key, struct gw_err *err)
{
    if (is->nkeys >= GW_JWK_MAX_KEYS)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "keys",
                          "at most %d signing keys per issuer", GW_JWK_MAX_KEYS);
    is->keys[is->nkeys++] = *key;
    memset(key, 0, sizeof *key);
    return 0;
}

/* Prefixes err->field with "keys[i]" so it names the entry of the list. */
static int key_error(struct gw_err *err, size_t i)
{
    if (err) {
        char field[sizeof err->field + 32];
        snprintf(field, sizeof field, "keys[%zu]%s%s", i, err->field[0] ? "." : "", err->field);
        snprintf(err->field, sizeof err->field, "%.*s", (int)sizeof err->field - 1, field);
    }
    return -1;
}

int gw_jwt_issuer_add_keys_json(struct gw_jwt_issuer *is, const json_t *keys, struct gw_err *err)
{
    if (json_is_object(keys)) {
        struct gw_jwks set;
        if (gw_jwks_from_json(keys, &set, NULL, NULL, err) < 0)
            return -1;
        int rc = 0;
        for (size_t i = 0; i < set.n && rc == 0; i++)
            rc = gw_jwt_issuer_add_key(is, &set.keys[i], err);
        gw_jwks_cleanup(&set);
        return rc;
    }
    if (!json_is_array(keys))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "keys",
                          "keys must be an array of PEM public keys or JWKs");
    size_t i;
    json_t *v;
    json_array_foreach(keys, i, v)
    {
        struct gw_jwk k;
        if (gw_jwk_from_value(v, &k, err) < 0)
            return key_error(err, i);
        if (gw_jwt_issuer_add_key(is, &k, err) < 0) {
            gw_jwk_cleanup(&k);
            return -1;
        }
    }
    return 0;
}

int gw_jwt_issuer_add_client(struct gw_jwt_issuer *is, const char *client_id, const void *client,
                             struct gw_err *err)
{
    size_t len = client_id ? strlen(client_id) : 0;
    if (!text_ok(client_id, len, GW_JWT_CLIENT_ID_MAX))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", "clientId",
                          "clientId must be 1 to %d characters without control characters",
                          GW_JWT_CLIENT_ID_MAX);
    if (is->sealed)
        return gw_err_set(err, GW_ERR_INTERNAL, "internal", NULL, "issuer already in a table");
    if (is->nclients == is->capclients) {
        size_t cap = is->capclients ? is->capclients * 2 : 8;
        struct gw_jwt_client *c = gw_realloc(is->clients, cap * sizeof *c);
        if (!c)
            return gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
        is->clients = c;
        is->capclients = cap;
    }
    char *id = gw_strndup(client_id, len);
    if (!id)
        return gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
    is->clients[is->nclients++] = (struct gw_jwt_client){id, len, client};
    return 0;
}

/* Byte-wise order of ids (shorter first on a common prefix). */
static int cmp_id(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static int cmp_client(const void *pa, const void *pb)
{
    const struct gw_jwt_client *a = pa, *b = pb;
    return cmp_id(a->id, a->len, b->id, b->len);
}

const struct gw_jwt_client *gw_jwt_issuer_find_client(const struct gw_jwt_issuer *is,
                                                      const char *id, size_t len)
{
    size_t lo = 0, hi = is->nclients;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_id(id, len, is->clients[mid].id, is->clients[mid].len);
        if (c == 0)
            return &is->clients[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

void gw_jwt_issuer_free(struct gw_jwt_issuer *is)
{
    if (!is)
        return;
    for (size_t i = 0; i < is->naudiences; i++)
        gw_free(is->audiences[i]);
    for (size_t i = 0; i < is->nkeys; i++)
        gw_jwk_cleanup(&is->keys[i]);
    for (size_t i = 0; i < is->nclients; i++)
        gw_free(is->clients[i].id);
    gw_free(is->clients);
    gw_free(is);
}

/* ---------------------------------------------------------------- table --- */

struct gw_jwt_issuers *gw_jwt_issuers_new(void)
{
    static atomic_uint_fast64_t next_generation = 1;
    struct gw_jwt_issuers *t = gw_calloc(1, sizeof *t);
    if (t)
        t->generation = atomic_fetch_add(&next_generation, 1);
    return t;
}

/* Sorts the clients and refuses duplicates. */
static int seal(struct gw_jwt_issuer *is, struct gw_err *err)
{
    if (is->nclients)
        qsort(is->clients, is->nclients, sizeof *is->clients, cmp_client);
    for (size_t i = 1; i < is->nclients; i++)
        if (cmp_client(&is->clients[i - 1], &is->clients[i]) == 0)
            return gw_err_set(err, GW_ERR_CONFLICT, "conflict", "clientId",
                              "OAuth client id given twice for issuer %s", is->iss);
    is->sealed = 1;
    return 0;
}

int gw_jwt_issuers_add(struct gw_jwt_issuers *t, struct gw_jwt_issuer *is, struct gw_err *err)
{
    int rc = -1;
    if (gw_jwt_issuers_find(t, is->iss, is->iss_len)) {
        gw_err_set(err, GW_ERR_CONFLICT, "conflict", "issuer", "issuer %s given twice", is->iss);
        goto out;
    }
    if (seal(is, err) < 0)
        goto out;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4;
        struct gw_jwt_issuer **items = gw_realloc(t->items, cap * sizeof *items);
        if (!items) {
            gw_err_set(err, GW_ERR_NOMEM, "nomem", NULL, "out of memory");
            goto out;
        }
        t->items = items;
        t->cap = cap;
    }
    t->items[t->n++] = is;
    is = NULL;
    rc = 0;
out:
    gw_jwt_issuer_free(is);
    return rc;
}

const struct gw_jwt_issuer *gw_jwt_issuers_find(const struct gw_jwt_issuers *t, const char *iss,
                                                size_t len)
{
    /* Issuers are few (one per key manager): a scan with a length check
     * first beats hashing the iss. */
    for (size_t i = 0; i < t->n; i++)
        if (t->items[i]->iss_len == len && memcmp(t->items[i]->iss, iss, len) == 0)
            return t->items[i];
    return NULL;
}

uint64_t gw_jwt_issuers_generation(const struct gw_jwt_issuers *t)
{
    return t->generation;
}

void gw_jwt_issuers_free(struct gw_jwt_issuers *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        gw_jwt_issuer_free(t->items[i]);
    gw_free(t->items);
    gw_free(t);
}
