/* The custom-resource import's shared state and helpers (see crs.h):
 * crs_import.c indexes the documents and drives the walk; crs_routes.c
 * (API, HTTPRoutes, Backends), crs_policy.c (APIPolicy,
 * AIRateLimitPolicy), crs_provider.c (AIProvider -> vendor) and
 * crs_secret.c (Secret) map one group of kinds each. Internal to those
 * files. Pure functions, any thread. */
#ifndef CP_CRS_DOC_H
#define CP_CRS_DOC_H

#include <stddef.h>

#include <jansson.h>

#include "common/err.h"
#include "yaml_tree.h"

/* The kinds modelmux maps; coupled with kinds[] in crs_import.c. */
enum crs_kind {
    K_API,       /* the API */
    K_ROUTE,     /* HTTPRoute: operations and Backends of one environment */
    K_BACKEND,   /* Backend: an endpoint */
    K_POLICY,    /* APIPolicy: vendor, routing policies */
    K_PROVIDER,  /* AIProvider: a vendor */
    K_RATELIMIT, /* AIRateLimitPolicy: the aiRateLimit policy */
    K_SECRET,    /* Secret */
    K_COUNT
};

struct doc {
    const struct cp_ynode *root, *spec;
    enum crs_kind kind;
    const char *name;
    char label[200];    /* `Backend "name"`, the prefix of its errors */
    const char *ref[2]; /* Backend: its endpoint's ref per environment (NULL: unused) */
};

struct crs {
    struct doc *docs;
    size_t n;
    struct doc *api;
    json_t *desc;
    const struct doc *provider_by;      /* the APIPolicy that named the vendor */
    const struct cp_ynode *provider_at; /* its aiProvider.name */
    struct gw_err *err;
};

/* Prefixes an INVALID error with the document's label; returns -1. */
int cp_crs_in_doc(struct gw_err *err, const struct doc *d);

/* cp_yt_check_keys without an "unsupported" list. */
int cp_crs_keys(const struct cp_ynode *map, const char *const *allowed, const char *what,
                struct gw_err *err);

/* A mapping / a list at key: *out NULL when absent (a 400 when a required
 * mapping is absent or either has the wrong kind). */
int cp_crs_map(const struct cp_ynode *map, const char *key, int required,
               const struct cp_ynode **out, struct gw_err *err);
int cp_crs_seq(const struct cp_ynode *map, const char *key, const struct cp_ynode **out,
               struct gw_err *err);

/* The document of that kind and name among those indexed so far, or NULL. */
struct doc *cp_crs_find(struct crs *c, enum crs_kind kind, const char *name);

/* The mapping of each group of kinds: 0, or -1 with c->err naming the
 * document. */
int cp_crs_api(struct crs *c);                            /* crs_routes.c */
int cp_crs_routes(struct crs *c, int env);                /* crs_routes.c */
int cp_crs_apipolicy(struct crs *c, const struct doc *d); /* crs_policy.c */
int cp_crs_ratelimit(struct crs *c, const struct doc *d); /* crs_policy.c */
int cp_crs_vendor(struct crs *c);                         /* crs_provider.c */
int cp_crs_secret(struct crs *c, const struct doc *d);    /* crs_secret.c */

#endif
