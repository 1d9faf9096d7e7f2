/* Reading the snapshot's "issuers" (SPEC 2.3) into the config model
 * (config.h). Each issuer is built with gw_jwt_issuer_from_json, and all of
 * them go into one throwaway table, exactly as a data plane compiles them:
 * so the control plane, which reads its own snapshot with this code before
 * publishing it, never publishes issuers a data plane refuses. Pure
 * functions, any thread. */
#include "config.h"

#include <string.h>

#include "common/alloc.h"
#include "common/json_read.h"
#include "common/jwt_issuer_json.h"
#include "common/limits.h"

#define PATH GW_JR_PATH_MAX

static int nomem(struct gw_err *err)
{
    return gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory reading config");
}

/* Rewrites err (from common/jwt*.c, field relative to the issuer) as a
 * config error at path. */
static int at_path(struct gw_err *err, const char *path)
{
    char why[sizeof(err->message)];
    if (err->kind == GW_ERR_NOMEM)
        return -1;
    snprintf(why, sizeof(why), "%s", err->message);
    return gw_jr_fail(err, path, NULL, "%s", why);
}

static int read_client(json_t *j, const char *path, struct gw_cfg_key *c, struct gw_err *err)
{
    const char *id, *app, *name;
    int type;
    if (gw_jr_is_object(j, path, err) < 0 ||
        gw_jr_string(j, path, "clientId", 0, 1, GW_JWT_CLIENT_ID_MAX, &id, err) < 0 ||
        gw_jr_string(j, path, "application", 0, 1, GW_ID_MAX_BYTES, &app, err) < 0 ||
        gw_jr_string(j, path, "applicationName", GW_JR_OPTIONAL, 0, (size_t)-1, &name, err) < 0 ||
        gw_jr_enum(j, path, "type", 0, gw_cfg_env_names, GW_ENV_COUNT, &type, err) < 0 ||
        gw_cfg_read_subscriptions(j, path, &c->subscriptions, &c->nsubscriptions, err) < 0)
        return -1;
    c->type = (enum gw_env)type;
    c->id = gw_strdup(id);
    c->application = gw_strdup(app);
    return c->id && c->application ? 0 : nomem(err);
}

static int read_issuer(json_t *j, const char *path, struct gw_cfg_issuer *is, struct gw_err *err)
{
    const char *id, *iss, *claim = NULL;
    json_t *clients;
    if (gw_jr_is_object(j, path, err) < 0 ||
        gw_jr_string(j, path, "id", 0, 1, GW_ID_MAX_BYTES, &id, err) < 0 ||
        gw_jr_string(j, path, "issuer", 0, 1, GW_JWT_ISSUER_MAX, &iss, err) < 0 ||
        gw_jr_string(j, path, "clientClaim", GW_JR_OPTIONAL, 1, GW_JWT_CLAIM_NAME_MAX, &claim,
                     err) < 0 ||
        gw_jr_array(j, path, "audiences", 0, &is->audiences, err) < 0 ||
        gw_jr_array(j, path, "keys", 0, &is->keys, err) < 0 ||
        gw_jr_array(j, path, "clients", 0, &clients, err) < 0)
        return -1;
    json_incref(is->audiences);
    json_incref(is->keys);
    is->id = gw_strdup(id);
    is->issuer = gw_strdup(iss);
    is->client_claim = claim ? gw_strdup(claim) : NULL;
    is->clients = gw_calloc(json_array_size(clients) + 1, sizeof(*is->clients));
    if (!is->id || !is->issuer || (claim && !is->client_claim) || !is->clients)
        return nomem(err);
    is->nclients = json_array_size(clients);
    for (size_t i = 0; i < is->nclients; i++) {
        char cpath[PATH], base[PATH];
        gw_jr_path(base, sizeof(base), path, "clients");
        gw_jr_index(cpath, sizeof(cpath), base, i);
        if (read_client(json_array_get(clients, i), cpath, &is->clients[i], err) < 0)
            return -1;
    }
    return 0;
}

/* Builds the issuers into a table as a data plane does, and drops it. */
static int check_table(const struct gw_cfg *cfg, struct gw_err *err)
{
    struct gw_jwt_issuers *t = gw_jwt_issuers_new();
    int rc = t ? 0 : nomem(err);
    for (size_t i = 0; rc == 0 && i < cfg->nissuers; i++) {
        const struct gw_cfg_issuer *m = &cfg->issuers[i];
        char path[PATH];
        gw_jr_index(path, sizeof(path), "issuers", i);
        struct gw_jwt_issuer *is = gw_jwt_issuer_from_json(m->issuer, m->client_claim,
                                                           m->audiences, m->keys, NULL, err);
        for (size_t c = 0; is && c < m->nclients; c++)
            if (gw_jwt_issuer_add_client(is, m->clients[c].id, &m->clients[c], err) < 0) {
                gw_jwt_issuer_free(is);
                is = NULL;
            }
        if (!is || gw_jwt_issuers_add(t, is, err) < 0)
            rc = at_path(err, path);
    }
    gw_jwt_issuers_free(t);
    return rc;
}

int gw_cfg_read_issuers(json_t *doc, struct gw_cfg *cfg, struct gw_err *err)
{
    json_t *arr = NULL;
    if (gw_jr_array(doc, "", "issuers", GW_JR_OPTIONAL, &arr, err) < 0)
        return -1;
    if (!arr || json_array_size(arr) == 0)
        return 0;
    if (json_array_size(arr) > GW_ISSUERS_MAX)
        return gw_jr_fail(err, "", "issuers", "at most %d issuers", GW_ISSUERS_MAX);
    cfg->issuers = gw_calloc(json_array_size(arr), sizeof(*cfg->issuers));
    if (!cfg->issuers)
        return nomem(err);
    cfg->nissuers = json_array_size(arr);
    for (size_t i = 0; i < cfg->nissuers; i++) {
        char path[PATH];
        gw_jr_index(path, sizeof(path), "issuers", i);
        if (read_issuer(json_array_get(arr, i), path, &cfg->issuers[i], err) < 0)
            return -1;
    }
    return check_table(cfg, err);
}

void gw_cfg_free_issuers(struct gw_cfg *cfg)
{
    for (size_t i = 0; cfg->issuers && i < cfg->nissuers; i++) {
        struct gw_cfg_issuer *is = &cfg->issuers[i];
        gw_free(is->id);
        gw_free(is->issuer);
        gw_free(is->client_claim);
        json_decref(is->audiences);
        json_decref(is->keys);
        for (size_t c = 0; is->clients && c < is->nclients; c++) {
            gw_free(is->clients[c].id);
            gw_free(is->clients[c].application);
            for (size_t s = 0; s < is->clients[c].nsubscriptions; s++)
                gw_free(is->clients[c].subscriptions[s]);
            gw_free(is->clients[c].subscriptions);
        }
        gw_free(is->clients);
    }
    gw_free(cfg->issuers);
}
