/* Unit tests of dataplane/models.c: the gateway's own GET /models for each
 * API and environment of basic.json (routing policies' models, each once,
 * in policy order; the vendor's list without a policy), the operation test,
 * allocation failures. */
#include "testhelp.h"

#include "common/alloc.h"
#include "dataplane/config.h"
#include "dataplane/models.h"
#include "dataplane/suspension.h"
#include "dp_snapshot.h"

/* The listing of api in env as "id,id,..." (owners checked against owner). */
static void listing(const struct dp_config *cfg, size_t api, enum dp_env env, const char *owner,
                    char *ids, size_t idsz)
{
    struct gw_buf b;
    gw_buf_init(&b, DP_MODELS_BODY_MAX);
    ids[0] = '\0';
    CHECK_INT(dp_models_list(cfg, &cfg->apis[api], env, &b), 0);
    json_t *doc = json_loadb(b.data, b.len, 0, NULL);
    CHECK(doc != NULL);
    CHECK_STR(json_string_value(json_object_get(doc, "object")), "list");
    size_t i;
    json_t *m;
    json_array_foreach (json_object_get(doc, "data"), i, m) {
        CHECK_STR(json_string_value(json_object_get(m, "object")), "model");
        CHECK_INT(json_integer_value(json_object_get(m, "created")), 0);
        CHECK_STR(json_string_value(json_object_get(m, "owned_by")), owner);
        snprintf(ids + strlen(ids), idsz - strlen(ids), "%s%s", i ? "," : "",
                 json_string_value(json_object_get(m, "id")));
    }
    json_decref(doc);
    gw_buf_cleanup(&b);
}

TEST("GET /models: the routing policies' models for the caller's environment, else the vendor's")
{
    json_t *doc = snap_load("basic.json");
    struct gw_err err;
    struct dp_suspensions *st = dp_suspensions_new();
    struct dp_config *cfg = dp_config_compile(doc, st, &err);
    CHECK(cfg != NULL);
    char ids[512];
    /* weighted round robin: its targets' models, each once */
    listing(cfg, 0, DP_ENV_PRODUCTION, "OpenAI", ids, sizeof(ids));
    CHECK_STR(ids, "gpt-4o,o1-mini,gpt-4o-mini");
    listing(cfg, 0, DP_ENV_SANDBOX, "OpenAI", ids, sizeof(ids));
    CHECK_STR(ids, "gpt-4o,gpt-4o-mini");
    /* failover policies: targets and fallbacks, in policy order */
    listing(cfg, 1, DP_ENV_PRODUCTION, "OpenAI", ids, sizeof(ids));
    CHECK_STR(ids, "gpt-4o,gpt-4o-mini,o1-mini");
    listing(cfg, 1, DP_ENV_SANDBOX, "OpenAI", ids, sizeof(ids));
    CHECK_STR(ids, "gpt-4o");
    /* no routing policy: the vendor's whole list */
    listing(cfg, 2, DP_ENV_PRODUCTION, "AzureOpenAI", ids, sizeof(ids));
    CHECK_STR(ids, "gpt-4o,gpt-4o-mini");
    listing(cfg, 2, DP_ENV_SANDBOX, "AzureOpenAI", ids, sizeof(ids));
    CHECK_STR(ids, "gpt-4o,gpt-4o-mini");

    /* only GET /models is the gateway's own */
    const struct dp_api *az = &cfg->apis[2];
    int found = 0;
    for (size_t i = 0; i < az->noperations; i++) {
        const struct dp_operation *op = &az->operations[i];
        int own = strcmp(op->target, "/models") == 0;
        found += own;
        CHECK_INT(dp_models_is_listing(op), own && strcmp(op->verb, "GET") == 0);
    }
    CHECK_INT(found, 1);
    struct dp_operation post = {.verb = "POST", .target = "/models"};
    CHECK_INT(dp_models_is_listing(&post), 0);
    CHECK_INT(dp_models_is_listing(NULL), 0);

    /* out of memory at any allocation: -1 with an empty buffer, or the list */
    for (long k = 0; k < 12; k++) {
        struct gw_buf b;
        gw_buf_init(&b, DP_MODELS_BODY_MAX);
        gw_alloc_fail_after(k);
        int rc = dp_models_list(cfg, &cfg->apis[1], DP_ENV_PRODUCTION, &b);
        gw_alloc_fail_after(-1);
        CHECK(rc == 0 || (rc == -1 && b.len == 0));
        gw_buf_cleanup(&b);
    }
    /* a buffer too small fails cleanly */
    struct gw_buf small;
    gw_buf_init(&small, 40);
    CHECK_INT(dp_models_list(cfg, &cfg->apis[0], DP_ENV_PRODUCTION, &small), -1);
    CHECK_INT(small.len, 0);
    gw_buf_cleanup(&small);
    dp_config_unref(cfg);

    /* an environment no routing policy applies to lists the vendor's models */
    CHECK_INT(snap_edit(doc, "apis[0].policies[0].sandbox", json_array()), 0);
    CHECK_INT(snap_edit(doc, "vendors[0].models[+]", json_string("text-embedding-3-small")), 0);
    cfg = dp_config_compile(doc, st, &err);
    CHECK(cfg != NULL);
    listing(cfg, 0, DP_ENV_SANDBOX, "OpenAI", ids, sizeof(ids));
    CHECK_STR(ids, "gpt-4o,gpt-4o-mini,o1-mini,text-embedding-3-small");
    listing(cfg, 0, DP_ENV_PRODUCTION, "OpenAI", ids, sizeof(ids));
    CHECK_STR(ids, "gpt-4o,o1-mini,gpt-4o-mini");
    dp_config_unref(cfg);
    dp_suspensions_free(st);
    json_decref(doc);
}

TEST_MAIN()
