/* Compiles a snapshot's issuers (common/config.h gw_cfg_issuer) into the
 * JWT issuer table of the config (see config.h dp_config_compile_jwt): one
 * table per applied snapshot, built with common/jwt_issuer_json.c (the code
 * the control plane checked the snapshot with), sealed, read by every
 * worker without locks and freed with the config. Runs where the compile
 * runs (the sync thread, or main). */
#include "config.h"

#include "common/alloc.h"
#include "common/jwt_issuer.h"
#include "common/jwt_issuer_json.h"

/* Builds one issuer with its clients, which go into cfg->jwt_clients from
 * *next on. */
static int compile_issuer(struct dp_config *cfg, struct gw_cfg_issuer *m, size_t *next,
                          struct gw_err *err)
{
    struct gw_jwt_issuer *is =
        gw_jwt_issuer_from_json(m->issuer, m->client_claim, m->audiences, m->keys, NULL, err);
    if (!is)
        return -1;
    for (size_t c = 0; c < m->nclients; c++) {
        struct dp_key *k = &cfg->jwt_clients[*next];
        int rc = dp_config_compile_key(&m->clients[c], k, err);
        cfg->njwt_clients = ++*next; /* freed with the config from now on */
        if (rc < 0 || gw_jwt_issuer_add_client(is, k->id, k, err) < 0) {
            gw_jwt_issuer_free(is);
            return -1;
        }
    }
    return gw_jwt_issuers_add(cfg->jwt, is, err);
}

int dp_config_compile_jwt(struct dp_config *cfg, struct gw_err *err)
{
    const struct gw_cfg *m = cfg->model;
    size_t total = 0, next = 0;
    if (m->nissuers == 0)
        return 0;
    for (size_t i = 0; i < m->nissuers; i++)
        total += m->issuers[i].nclients;
    cfg->jwt = gw_jwt_issuers_new();
    cfg->jwt_clients = gw_calloc(total + 1, sizeof(*cfg->jwt_clients));
    if (!cfg->jwt || !cfg->jwt_clients)
        return gw_err_set(err, GW_ERR_NOMEM, "out_of_memory", NULL, "out of memory");
    for (size_t i = 0; i < m->nissuers; i++)
        if (compile_issuer(cfg, &m->issuers[i], &next, err) < 0)
            return -1;
    return 0;
}

void dp_config_free_jwt(struct dp_config *cfg)
{
    for (size_t i = 0; cfg->jwt_clients && i < cfg->njwt_clients; i++)
        gw_free(cfg->jwt_clients[i].subscriptions);
    gw_free(cfg->jwt_clients);
    gw_jwt_issuers_free(cfg->jwt);
}
