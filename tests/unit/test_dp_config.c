/* Unit tests of dataplane/config.c: compiling the sample snapshot, route and
 * key lookups, the weighted round-robin schedule, every schema violation
 * giving NULL + its JSON path, state carry-over across reloads, and an
 * allocation-failure torture run. */
#include "testhelp.h"

#include "common/alloc.h"
#include "common/crypto.h"
#include "dataplane/config.h"
#include "dataplane/suspension.h"
#include "dp_snapshot.h"

static struct dp_config *compile_basic(struct dp_suspensions *st)
{
    json_t *doc = snap_load("basic.json");
    struct gw_err err;
    struct dp_config *cfg = dp_config_compile(doc, st, &err);
    if (!cfg)
        fprintf(stderr, "  compile: %s\n", err.message);
    json_decref(doc);
    return cfg;
}

TEST("sample snapshot compiles with every field resolved")
{
    struct dp_suspensions *st = dp_suspensions_new();
    struct dp_config *cfg = compile_basic(st);
    CHECK(cfg != NULL);
    if (!cfg) {
        dp_suspensions_free(st);
        return;
    }
    CHECK_INT(cfg->revision, 7);
    CHECK_INT(strlen(cfg->sha256), 64);
    CHECK_INT(cfg->nvendors, 2);
    CHECK_INT(cfg->napis, 3);
    CHECK_INT(cfg->nkeys, 4);
    CHECK_STR(cfg->vendors[0].model_field, "model");
    CHECK_STR(cfg->vendors[0].usage_total, "usage.total_tokens");
    CHECK_INT(cfg->vendors[1].model_in, DP_MODEL_IN_PATH);

    const struct dp_api *wrr = &cfg->apis[0];
    CHECK_STR(wrr->name, "chat-service-api-prod-sand");
    CHECK(wrr->vendor == &cfg->vendors[0]);
    CHECK_INT(wrr->noperations, 6);
    CHECK_STR(wrr->endpoints[0].auth_line, "Authorization: Bearer sk-upstream");
    CHECK(wrr->endpoints[2].auth_header == NULL && wrr->endpoints[2].auth_line == NULL);
    CHECK(wrr->first_endpoint[DP_ENV_PRODUCTION] == &wrr->endpoints[0]);
    CHECK(wrr->first_endpoint[DP_ENV_SANDBOX] == &wrr->endpoints[2]);
    CHECK(wrr->lb[DP_ENV_PRODUCTION] != NULL && wrr->lb[DP_ENV_SANDBOX] != NULL);
    CHECK_INT(wrr->lb[0]->ntargets, 3);
    CHECK_INT(wrr->lb[0]->bal.schedule_len, 9);
    CHECK_INT(wrr->lb[0]->suspend_ms, 60000);
    CHECK_INT(wrr->lb[1]->bal.schedule_len, 2);
    CHECK(wrr->lb[0]->targets[2].endpoint == &wrr->endpoints[1]);
    CHECK(wrr->needs_model && wrr->needs_model_env[0] && wrr->needs_model_env[1]);
    CHECK(wrr->ratelimit != NULL);
    if (wrr->ratelimit) {
        CHECK_INT(wrr->ratelimit->unit, DP_RL_MINUTE);
        CHECK_INT(wrr->ratelimit->per_application, 1);
        CHECK_INT(wrr->ratelimit->requests, 5);
        CHECK_INT(wrr->ratelimit->total_tokens, 1000);
        CHECK_INT(wrr->ratelimit->request_tokens, -1);
        CHECK_STR(wrr->ratelimit->policy_id, "pol-rl");
    }

    const struct dp_api *fo = &cfg->apis[1];
    CHECK_INT(fo->nfailovers[DP_ENV_PRODUCTION], 2);
    CHECK_INT(fo->nfailovers[DP_ENV_SANDBOX], 1);
    CHECK(fo->lb[0] == NULL && fo->lb[1] == NULL);
    CHECK_INT(fo->failovers[0][0].nchain, 3);
    CHECK_STR(fo->failovers[0][0].chain[2].model, "gpt-4o-mini");
    CHECK_INT(fo->failovers[0][0].request_timeout_ms, 30000);
    CHECK_INT(fo->failovers[0][1].suspend_ms, 10000);
    CHECK_INT(fo->failovers[1][0].nchain, 1);
    CHECK(fo->ratelimit == NULL);
    /* Distinct (model, endpoint) pairs get distinct state entries. */
    CHECK(fo->failovers[0][0].chain[2].state != fo->failovers[0][1].chain[1].state);
    CHECK(fo->failovers[0][0].chain[1].state != fo->failovers[0][0].chain[0].state);

    const struct dp_api *az = &cfg->apis[2];
    CHECK(!az->needs_model && !az->needs_model_env[0]);
    CHECK_INT(az->endpoints[0].url_has_model, 1);
    CHECK_STR(az->endpoints[0].missing_secret, "azure-secret");
    CHECK_STR(az->endpoints[0].auth_header, "api-key");
    CHECK(az->endpoints[0].auth_line == NULL && az->endpoints[0].auth_value == NULL);
    CHECK(az->first_endpoint[DP_ENV_SANDBOX] == NULL);

    CHECK_INT(cfg->napps, 3);
    CHECK(cfg->keys[0].app == &cfg->apps[0] && cfg->keys[1].app == &cfg->apps[0]);
    CHECK_STR(cfg->keys[0].app->subscriptions[0], "api-fo"); /* sorted */
    CHECK_INT(cfg->keys[3].app->nsubscriptions, 0);
    CHECK_INT(cfg->keys[0].expires_at, 0);
    CHECK(cfg->keys[1].expires_at > 0);
    CHECK_INT(cfg->keys[1].env, DP_ENV_SANDBOX);
    dp_config_unref(cfg);
    dp_suspensions_free(st);
}

TEST("routes: versioned, default version, 404, 405, exact match only")
{
    struct dp_suspensions *st = dp_suspensions_new();
    struct dp_config *cfg = compile_basic(st);
    const struct dp_api *api = NULL;
    const struct dp_operation *op = NULL;
    CHECK_INT(dp_config_match(cfg, "POST", "/chat-service-prod-sand/1.0/chat/completions", &api,
                              &op),
              DP_MATCH_OK);
    CHECK(api == &cfg->apis[0]);
    CHECK_STR(op->target, "/chat/completions");
    CHECK_INT(dp_config_match(cfg, "POST", "/chat-service-prod-sand/1.0/audio/translations", &api,
                              &op),
              DP_MATCH_OK);
    CHECK_INT(dp_config_match(cfg, "GET", "/chat-service-prod-sand/1.0/chat/completions", &api, &op),
              DP_MATCH_METHOD);
    CHECK_INT(dp_config_match(cfg, "POST", "/chat-service-prod-sand/chat/completions", &api, &op),
              DP_MATCH_NOT_FOUND);
    CHECK_INT(dp_config_match(cfg, "POST", "/chat-service-prod-sand/1.0/chat/completions/", &api,
                              &op),
              DP_MATCH_NOT_FOUND);
    CHECK_INT(dp_config_match(cfg, "POST", "/fo/chat/completions", &api, &op), DP_MATCH_OK);
    CHECK(api == &cfg->apis[1]);
    CHECK_INT(dp_config_match(cfg, "POST", "/fo/v1/chat/completions", &api, &op), DP_MATCH_OK);
    CHECK_INT(dp_config_match(cfg, "GET", "/azure/2024/models", &api, &op), DP_MATCH_OK);
    CHECK_INT(op->secured, 0);
    CHECK_INT(dp_config_match(cfg, "POST", "/azure/2024/models", &api, &op), DP_MATCH_METHOD);
    CHECK_INT(dp_config_match(cfg, "post", "/azure/2024/chat/completions", &api, &op),
              DP_MATCH_METHOD);
    CHECK_INT(dp_config_match(cfg, "POST", "", &api, &op), DP_MATCH_NOT_FOUND);
    CHECK_INT(dp_config_match(cfg, "POST", "/", &api, &op), DP_MATCH_NOT_FOUND);
    dp_config_unref(cfg);
    dp_suspensions_free(st);
}

TEST("routes: an API's versioned path wins over another's default-version path")
{
    struct dp_suspensions *st = dp_suspensions_new();
    json_t *doc = snap_load("basic.json");
    /* API 1 (/fo, default version) would also serve /fo/chat/completions;
     * make API 2 claim it as its versioned path. */
    snap_edit(doc, "apis[2].basePath", json_string("/fo"));
    snap_edit(doc, "apis[2].version", json_string("chat"));
    snap_edit(doc, "apis[2].operations[0].target", json_string("/completions"));
    struct gw_err err;
    struct dp_config *cfg = dp_config_compile(doc, st, &err);
    CHECK(cfg != NULL);
    const struct dp_api *api = NULL;
    const struct dp_operation *op = NULL;
    CHECK_INT(dp_config_match(cfg, "POST", "/fo/chat/completions", &api, &op), DP_MATCH_OK);
    CHECK(api == &cfg->apis[2]);
    dp_config_unref(cfg);
    json_decref(doc);
    dp_suspensions_free(st);
}

TEST("API keys: known, unknown, expired, subscriptions, environment")
{
    struct dp_suspensions *st = dp_suspensions_new();
    struct dp_config *cfg = compile_basic(st);
    const struct dp_api *wrr = &cfg->apis[0], *fo = &cfg->apis[1];
    const struct dp_key *k = NULL;
    int64_t now = 1700000000;
    CHECK_INT(dp_config_check_key(cfg, fo, "sk-test-prod", now, &k), DP_KEY_OK);
    CHECK_STR(k->app_id, "app-1");
    CHECK_INT(k->env, DP_ENV_PRODUCTION);
    CHECK_INT(dp_config_check_key(cfg, wrr, "sk-test-sand", now, &k), DP_KEY_OK);
    CHECK_INT(k->env, DP_ENV_SANDBOX);
    CHECK_INT(dp_config_check_key(cfg, wrr, "sk-test-sand", 32503680000LL, &k), DP_KEY_EXPIRED);
    CHECK_INT(dp_config_check_key(cfg, wrr, "sk-nope", now, &k), DP_KEY_UNKNOWN);
    CHECK_INT(dp_config_check_key(cfg, wrr, "", now, &k), DP_KEY_UNKNOWN);
    CHECK_INT(dp_config_check_key(cfg, wrr, "sk-test-expired", now, &k), DP_KEY_EXPIRED);
    CHECK_INT(dp_config_check_key(cfg, wrr, "sk-test-nosub", now, &k), DP_KEY_OK);
    CHECK_INT(dp_config_check_key(cfg, fo, "sk-test-nosub", now, &k), DP_KEY_NOT_SUBSCRIBED);
    dp_config_unref(cfg);
    dp_suspensions_free(st);
}

TEST("keys name their application; id and expiresAt may be left out (issue 11 item 11)")
{
    struct dp_suspensions *st = dp_suspensions_new();
    json_t *doc = snap_load("basic.json");
    snap_edit(doc, "keys[0].id", NULL);
    snap_edit(doc, "keys[0].expiresAt", NULL);
    /* app-3 subscribes: its key now passes on api-fo; app-1's keys lose theirs. */
    snap_edit(doc, "applications[2].subscriptions[+]", json_string("api-fo"));
    snap_edit(doc, "applications[0].subscriptions", json_array());
    struct gw_err err;
    struct dp_config *cfg = dp_config_compile(doc, st, &err);
    CHECK(cfg != NULL);
    if (cfg) {
        const struct dp_key *k = NULL;
        const struct dp_api *fo = &cfg->apis[1];
        CHECK(cfg->keys[0].id == NULL);
        CHECK_INT(cfg->keys[0].expires_at, 0);
        CHECK_INT(dp_config_check_key(cfg, fo, "sk-test-nosub", 1700000000, &k), DP_KEY_OK);
        CHECK_STR(k->app_id, "app-3");
        CHECK_INT(dp_config_check_key(cfg, fo, "sk-test-prod", 1700000000, &k),
                  DP_KEY_NOT_SUBSCRIBED);
        CHECK_INT(dp_config_check_key(cfg, fo, "sk-test-sand", 1700000000, &k),
                  DP_KEY_NOT_SUBSCRIBED);
        dp_config_unref(cfg);
    }
    json_decref(doc);
    dp_suspensions_free(st);
}

TEST("weighted schedule: 5:3:1 is smooth and exact; weight 1000; 256 targets")
{
    struct dp_suspensions *st = dp_suspensions_new();
    struct dp_config *cfg = compile_basic(st);
    const struct dp_lb *lb = cfg->apis[0].lb[0];
    /* nginx's smooth WRR for a=5 b=3 c=1: a b a c a b a b a. */
    static const int want[9] = {0, 1, 0, 2, 0, 1, 0, 1, 0};
    for (int i = 0; i < 9; i++)
        CHECK_INT(lb->bal.schedule[i], want[i]);
    dp_config_unref(cfg);

    json_t *doc = snap_load("basic.json");
    json_t *prod = json_array();
    for (int i = 0; i < DP_CONFIG_MAX_TARGETS; i++) {
        json_t *t = json_pack("{s:s, s:s, s:i}", "model", i % 2 ? "gpt-4o" : "o1-mini",
                              "endpoint", i % 3 ? "ep-prod" : "ep-prod2", "weight",
                              i == 0 ? 1000 : 1 + i % 7);
        json_array_append_new(prod, t);
    }
    snap_edit(doc, "apis[0].policies[0].production", prod);
    struct gw_err err;
    cfg = dp_config_compile(doc, st, &err);
    CHECK(cfg != NULL);
    if (cfg) {
        lb = cfg->apis[0].lb[0];
        size_t total = 0, counts[DP_CONFIG_MAX_TARGETS] = {0};
        for (size_t i = 0; i < lb->ntargets; i++)
            total += (size_t)lb->targets[i].weight;
        CHECK_INT(lb->bal.schedule_len, total);
        for (size_t i = 0; i < lb->bal.schedule_len; i++)
            counts[lb->bal.schedule[i]]++;
        for (size_t i = 0; i < lb->ntargets; i++)
            CHECK_INT(counts[i], lb->targets[i].weight);
        dp_config_unref(cfg);
    }
    json_array_append_new(json_object_get(json_array_get(json_object_get(json_array_get(
                                                             json_object_get(doc, "apis"), 0),
                                                                         "policies"),
                                                         0),
                                          "production"),
                          json_pack("{s:s, s:s}", "model", "gpt-4o", "endpoint", "ep-prod"));
    CHECK(dp_config_compile(doc, st, &err) == NULL);
    CHECK_STR(err.field, "apis[0].policies[0].production");
    json_decref(doc);
    dp_suspensions_free(st);
}

TEST("round robin ignores weights; empty target list means no routing there")
{
    struct dp_suspensions *st = dp_suspensions_new();
    json_t *doc = snap_load("basic.json");
    snap_edit(doc, "apis[0].policies[0].type", json_string("modelRoundRobin"));
    snap_edit(doc, "apis[0].policies[0].sandbox", json_array());
    struct gw_err err;
    struct dp_config *cfg = dp_config_compile(doc, st, &err);
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK_INT(cfg->apis[0].lb[0]->bal.schedule_len, 3);
        CHECK(cfg->apis[0].lb[1] == NULL);
        CHECK(cfg->apis[0].needs_model_env[0] && !cfg->apis[0].needs_model_env[1]);
        dp_config_unref(cfg);
    }
    json_decref(doc);
    dp_suspensions_free(st);
}

struct bad_case {
    const char *edit;   /* path to change */
    const char *value;  /* JSON text of the new value, NULL to delete */
    const char *field;  /* expected err.field */
};

static const struct bad_case bad_cases[] = {
    {"schemaVersion", "2", "schemaVersion"},
    {"schemaVersion", NULL, "schemaVersion"},
    {"revision", "-1", "revision"},
    {"revision", "\"7\"", "revision"},
    {"sha256", "\"abc\"", "sha256"},
    {"sha256", "\"D73218D30E14094FFE71BCF7348A08929930E6C1F3363F6FEF2FE8759458B832\"", "sha256"},
    {"generatedAt", "5", "generatedAt"},
    {"vendors", "{}", "vendors"},
    {"keys", NULL, "keys"},
    {"vendors[0]", "[]", "vendors[0]"},
    {"vendors[0].id", "\"\"", "vendors[0].id"},
    {"vendors[1].id", "\"v-openai\"", "vendors[1].id"},
    {"vendors[0].name", NULL, "vendors[0].name"},
    {"vendors[0].models[1]", "7", "vendors[0].models[1]"},
    {"vendors[0].requestModel.in", "\"query\"", "vendors[0].requestModel.in"},
    {"vendors[0].requestModel.field", "\"\"", "vendors[0].requestModel.field"},
    {"vendors[0].responseModel", NULL, "vendors[0].responseModel"},
    {"vendors[0].usage", NULL, "vendors[0].usage"},
    {"vendors[0].usage.totalTokens", "1", "vendors[0].usage.totalTokens"},
    {"vendors[0].auth.header", "\"\"", "vendors[0].auth.header"},
    {"vendors[0].auth.prefix", NULL, "vendors[0].auth.prefix"},
    {"apis", "[1]", "apis[0]"},
    {"apis[0].id", "\"\"", "apis[0].id"},
    {"apis[0].basePath", "\"chat\"", "apis[0].basePath"},
    {"apis[0].version", "\"\"", "apis[0].version"},
    {"apis[0].defaultVersion", "0", "apis[0].defaultVersion"},
    {"apis[0].vendor", "\"v-nope\"", "apis[0].vendor"},
    {"apis[0].subscriptionValidation", NULL, "apis[0].subscriptionValidation"},
    {"apis[0].operations", NULL, "apis[0].operations"},
    {"apis[0].operations[1].verb", "\"FETCH\"", "apis[0].operations[1].verb"},
    {"apis[0].operations[1].target", "\"chat\"", "apis[0].operations[1].target"},
    {"apis[0].operations[1].secured", "\"yes\"", "apis[0].operations[1].secured"},
    {"apis[0].endpoints[0].environment", "\"staging\"", "apis[0].endpoints[0].environment"},
    {"apis[0].endpoints[0].url", "\"ftp://x\"", "apis[0].endpoints[0].url"},
    {"apis[0].endpoints[0].url", "\"http://x/\\r\\nX: y\"", "apis[0].endpoints[0].url"},
    {"apis[0].endpoints[0].timeoutMs", "0", "apis[0].endpoints[0].timeoutMs"},
    {"apis[0].endpoints[0].auth", NULL, "apis[0].endpoints[0].auth"},
    {"apis[0].endpoints[0].auth", "\"Bearer x\"", "apis[0].endpoints[0].auth"},
    {"apis[0].endpoints[0].auth.extra", "1", "apis[0].endpoints[0].auth.extra"},
    {"apis[0].endpoints[0].auth.missingSecret", "\"s\"", "apis[0].endpoints[0].auth"},
    {"apis[0].endpoints[0].auth.value", NULL, "apis[0].endpoints[0].auth"},
    {"apis[0].endpoints[0].auth.header", "\"Bad Header\"", "apis[0].endpoints[0].auth.header"},
    {"apis[0].endpoints[0].auth.value", "\"x\\r\\nHost: evil\"", "apis[0].endpoints[0].auth.value"},
    {"apis[0].endpoints[1].id", "\"ep-prod\"", "apis[0].endpoints[1].id"},
    {"apis[0].policies[0].id", NULL, "apis[0].policies[0].id"},
    {"apis[0].policies[0].type", "\"modelRandom\"", "apis[0].policies[0].type"},
    {"apis[0].policies[0].suspendDurationSec", "-1", "apis[0].policies[0].suspendDurationSec"},
    {"apis[0].policies[0].sandbox", NULL, "apis[0].policies[0].sandbox"},
    {"apis[0].policies[0].production", "{}", "apis[0].policies[0].production"},
    {"apis[0].policies[0].production[2].weight", "0", "apis[0].policies[0].production[2].weight"},
    {"apis[0].policies[0].production[2].weight", "1001",
     "apis[0].policies[0].production[2].weight"},
    {"apis[0].policies[0].production[2].weight", "2.5",
     "apis[0].policies[0].production[2].weight"},
    {"apis[0].policies[0].production[1].model", "\"\"", "apis[0].policies[0].production[1].model"},
    {"apis[0].policies[0].production[1].model", "\"gpt\\n4\"",
     "apis[0].policies[0].production[1].model"},
    {"apis[0].policies[0].production[0].endpoint", "\"ep-sand\"",
     "apis[0].policies[0].production[0].endpoint"},
    {"apis[0].policies[0].production[0].endpoint", "\"ep-nope\"",
     "apis[0].policies[0].production[0].endpoint"},
    {"apis[0].policies[0].sandbox[0].endpoint", "\"ep-prod\"",
     "apis[0].policies[0].sandbox[0].endpoint"},
    {"apis[0].policies[1].unit", "\"week\"", "apis[0].policies[1].unit"},
    {"apis[0].policies[1].scope", NULL, "apis[0].policies[1].scope"},
    {"apis[0].policies[1].requests", "-5", "apis[0].policies[1].requests"},
    {"apis[0].policies[1].totalTokens", "\"many\"", "apis[0].policies[1].totalTokens"},
    {"apis[0].policies[+]",
     "{\"id\":\"p3\",\"type\":\"modelRoundRobin\",\"suspendDurationSec\":1,\"production\":[],"
     "\"sandbox\":[]}",
     "apis[0].policies[2].type"},
    {"apis[0].policies[+]", "{\"id\":\"p3\",\"type\":\"aiRateLimit\",\"unit\":\"day\",\"scope\":\"api\"}",
     "apis[0].policies[2].type"},
    {"apis[1].policies[+]",
     "{\"id\":\"p3\",\"type\":\"modelRoundRobin\",\"suspendDurationSec\":1,\"production\":[],"
     "\"sandbox\":[]}",
     "apis[1].policies[2].type"},
    {"apis[1].policies[0].requestTimeoutMs", "0", "apis[1].policies[0].requestTimeoutMs"},
    {"apis[1].policies[0].suspendDurationSec", NULL, "apis[1].policies[0].suspendDurationSec"},
    {"apis[1].policies[0].production", "[]", "apis[1].policies[0].production"},
    {"apis[1].policies[0].production.target", NULL, "apis[1].policies[0].production.target"},
    {"apis[1].policies[0].production.fallbacks", "\"x\"",
     "apis[1].policies[0].production.fallbacks"},
    {"apis[1].policies[0].production.fallbacks[1].endpoint", "\"ep-s\"",
     "apis[1].policies[0].production.fallbacks[1].endpoint"},
    {"apis[1].policies[1].sandbox.target.model", "3",
     "apis[1].policies[1].sandbox.target.model"},
    {"keys[0].id", "\"\"", "keys[0].id"},
    {"keys[0].hash", "\"ABCDEF\"", "keys[0].hash"},
    {"keys[0].hash", "\"zz0218d30e14094ffe71bcf7348a08929930e6c1f3363f6fef2fe8759458b832\"",
     "keys[0].hash"},
    {"keys[0].application", "\"\"", "keys[0].application"},
    {"keys[0].type", "\"admin\"", "keys[0].type"},
    {"keys[0].expiresAt", "\"tomorrow\"", "keys[0].expiresAt"},
    {"keys[0].expiresAt", "0", "keys[0].expiresAt"},
    {"keys[0].application", "\"app-nope\"", "keys[0].application"},
    {"keys[0].application", NULL, "keys[0].application"},
    {"applications", NULL, "applications"},
    {"applications[0].id", "\"app-2\"", "applications[1].id"},
    {"applications[0].name", "\"\"", "applications[0].name"},
    {"applications[0].subscriptions[0]", "5", "applications[0].subscriptions[0]"},
    {"applications[1].subscriptions", "null", "applications[1].subscriptions"},
};

TEST("SPEC revision 2 routing fields are compiled into the policies (issue 10)")
{
    struct dp_suspensions *st = dp_suspensions_new();
    json_t *doc = snap_load("basic.json");
    snap_edit(doc, "apis[0].policies[0].retries", json_integer(2));
    snap_edit(doc, "apis[0].policies[0].midStreamFailover", json_string("continue"));
    snap_edit(doc, "apis[0].policies[0].operations", json_pack("[s,s]", "/embeddings",
                                                               "/chat/completions"));
    snap_edit(doc, "apis[1].policies[1].streamIdleTimeoutMs", json_integer(1500));
    snap_edit(doc, "apis[1].policies[1].maxRetryAfterWaitSec", json_integer(7));
    struct gw_err err;
    struct dp_config *cfg = dp_config_compile(doc, st, &err);
    CHECK(cfg != NULL);
    if (cfg) {
        const struct dp_lb *lb = cfg->apis[0].lb[0];
        CHECK_INT(lb->routing.retries, 2);
        CHECK_INT(lb->routing.midstream, GW_MIDSTREAM_CONTINUE);
        CHECK_INT((int)lb->noperations, 2);
        CHECK_STR(lb->operations[0], "/embeddings");
        CHECK_INT(cfg->apis[0].lb[1]->routing.retries, 2); /* one policy, both environments */
        const struct dp_failover *f = &cfg->apis[1].failovers[1][0]; /* pol-fo2's sandbox chain */
        CHECK_INT((int)f->routing.stream_idle_timeout_ms, 1500);
        CHECK_INT(f->routing.max_retry_after_wait_s, 7);
        CHECK_INT(cfg->apis[1].failovers[0][0].routing.retries, 0); /* pol-fo1: defaults */
        dp_config_unref(cfg);
    }
    json_decref(doc);
    dp_suspensions_free(st);
}

TEST("names and models of 128 non-ASCII characters compile (the bound is characters)")
{
    /* 128 x "é" = 256 bytes of UTF-8: valid per SPEC, must not be refused. */
    char name[128 * 2 + 1];
    for (int i = 0; i < 128; i++)
        memcpy(name + 2 * i, "\xc3\xa9", 2);
    name[256] = '\0';
    json_t *doc = snap_load("basic.json");
    CHECK_INT(snap_edit(doc, "vendors[0].name", json_string(name)), 0);
    CHECK_INT(snap_edit(doc, "vendors[0].models[+]", json_string(name)), 0);
    struct dp_suspensions *st = dp_suspensions_new();
    struct gw_err err;
    gw_err_clear(&err);
    struct dp_config *cfg = dp_config_compile(doc, st, &err);
    CHECK(cfg != NULL);
    if (!cfg)
        fprintf(stderr, "  %s: %s\n", err.field, err.message);
    dp_config_unref(cfg);
    dp_suspensions_free(st);
    json_decref(doc);
}

TEST("every schema or reference violation: NULL with the JSON path")
{
    struct dp_suspensions *st = dp_suspensions_new();
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        json_t *doc = snap_load("basic.json");
        json_t *v = NULL;
        if (c->value) {
            json_error_t je;
            v = json_loads(c->value, JSON_DECODE_ANY, &je);
            CHECK(v != NULL);
        }
        CHECK_INT(snap_edit(doc, c->edit, v), 0);
        struct gw_err err;
        struct dp_config *cfg = dp_config_compile(doc, st, &err);
        if (cfg) {
            fprintf(stderr, "  case %zu (%s) compiled\n", i, c->edit);
            dp_config_unref(cfg);
        }
        CHECK(cfg == NULL);
        CHECK_INT(err.kind, GW_ERR_INVALID);
        CHECK_STR(err.field, c->field);
        CHECK(strstr(err.message, c->field) != NULL);
        json_decref(doc);
    }
    struct gw_err err;
    json_t *arr = json_array();
    CHECK(dp_config_compile(arr, st, &err) == NULL);
    CHECK_INT(err.kind, GW_ERR_INVALID);
    json_decref(arr);
    dp_suspensions_free(st);
}

TEST("reload: round-robin positions and suspensions carry over, also after removal")
{
    struct dp_suspensions *st = dp_suspensions_new();
    struct dp_config *a = compile_basic(st);
    struct dp_lb *lb = a->apis[0].lb[0];
    atomic_fetch_add(&lb->state->seq, 5);
    struct dp_target_state *ts = lb->targets[2].state;
    dp_target_suspend(ts, 1000, 60000);

    /* B: same targets, one weight changed, another API added. */
    json_t *doc = snap_load("basic.json");
    snap_edit(doc, "apis[0].policies[0].production[0].weight", json_integer(2));
    snap_edit(doc, "revision", json_integer(8));
    struct gw_err err;
    struct dp_config *b = dp_config_compile(doc, st, &err);
    CHECK(b != NULL);
    CHECK(b->apis[0].lb[0]->state == lb->state);
    CHECK_INT(atomic_load(&b->apis[0].lb[0]->state->seq), 5);
    CHECK(b->apis[0].lb[0]->targets[2].state == ts);
    CHECK(dp_target_suspended(b->apis[0].lb[0]->targets[2].state, 2000));
    CHECK_INT(b->apis[0].lb[0]->bal.schedule_len, 6);

    /* C: the suspended target removed; D: added back. */
    snap_edit(doc, "apis[0].policies[0].production[2]", NULL);
    struct dp_config *c = dp_config_compile(doc, st, &err);
    CHECK(c != NULL);
    CHECK_INT(c->apis[0].lb[0]->ntargets, 2);
    struct dp_config *d = compile_basic(st);
    CHECK(d->apis[0].lb[0]->targets[2].state == ts);
    CHECK(dp_target_suspended(d->apis[0].lb[0]->targets[2].state, 2000));
    CHECK(!dp_target_suspended(d->apis[0].lb[0]->targets[2].state, 61000));

    /* An old snapshot stays usable after newer ones: requests in flight. */
    dp_config_ref(a);
    dp_config_unref(a);
    CHECK_STR(a->apis[0].lb[0]->targets[0].model, "gpt-4o");
    dp_config_unref(a);
    dp_config_unref(b);
    dp_config_unref(c);
    dp_config_unref(d);
    dp_config_unref(NULL);
    json_decref(doc);
    dp_suspensions_free(st);
}

TEST("allocation failure at every step: NULL with no leak, or success")
{
    json_t *doc = snap_load("basic.json");
    struct dp_suspensions *st = dp_suspensions_new();
    int ok = 0;
    long n;
    for (n = 0; n < 100000 && !ok; n++) {
        struct gw_err err;
        gw_alloc_fail_after(n);
        struct dp_config *cfg = dp_config_compile(doc, st, &err);
        gw_alloc_fail_after(-1);
        if (cfg) {
            ok = 1;
            dp_config_unref(cfg);
        } else {
            CHECK_INT(err.kind, GW_ERR_NOMEM);
        }
    }
    CHECK(ok);
    CHECK(n > 50);
    /* The state is still consistent: a normal compile works and reuses it. */
    struct dp_config *cfg = compile_basic(st);
    CHECK(cfg != NULL);
    dp_config_unref(cfg);
    dp_suspensions_free(st);
    json_decref(doc);
}

TEST_MAIN()
