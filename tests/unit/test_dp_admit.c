/* Unit tests of dataplane/admit.c on the basic.json snapshot, with headers
 * and bodies as plain strings: the order of the refusals (503 no config,
 * 413, 404, 405, 401 missing / invalid / expired key, 403 not subscribed,
 * 400 bad body), the environment a key selects, the model from JSON and
 * multipart bodies, stream usage asked for under token limits, the
 * limiter's 429 wording. */
#include "testhelp.h"

#include "dataplane/admit.h"
#include "dataplane/ratelimit.h"
#include "dataplane/suspension.h"
#include "dp_snapshot.h"

#include <strings.h>

#define WRR "/chat-service-prod-sand/1.0/chat/completions"
#define FO "/fo/v1/chat/completions"

static const char *hdr_names[4], *hdr_values[4];
static int nhdr;

static const char *lookup(void *ctx, const char *name)
{
    (void)ctx;
    for (int i = 0; i < nhdr; i++)
        if (strcasecmp(hdr_names[i], name) == 0)
            return hdr_values[i];
    return NULL;
}

static void headers(const char *key, const char *ctype)
{
    nhdr = 0;
    if (key) {
        hdr_names[nhdr] = "Authorization";
        hdr_values[nhdr++] = key;
    }
    if (ctype) {
        hdr_names[nhdr] = "Content-Type";
        hdr_values[nhdr++] = ctype;
    }
}

static struct dp_suspensions *st;
static struct dp_config *cfg;

/* basic.json, with subscription validation of api-fo off when !validate. */
static struct dp_config *compile_with(int validate)
{
    json_t *doc = snap_load("basic.json");
    if (!validate)
        snap_edit(doc, "apis[1].subscriptionValidation", json_false());
    struct gw_err err;
    st = dp_suspensions_new();
    struct dp_config *c = dp_config_compile(doc, st, &err);
    json_decref(doc);
    return c;
}

static struct dp_config *compile(void)
{
    return compile_with(1);
}

/* Admits method path body with the current headers; returns the status
 * (200 when admitted) and leaves the admission in *a (to clean up). */
static int admit(const char *method, const char *path, const char *body, struct dp_admission *a,
                 struct dp_refusal *why)
{
    struct dp_admit_in in = {
        .cfg = cfg,
        .method = method,
        .path = path,
        .header = lookup,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .now_s = 1700000000,
    };
    return dp_admit_check(&in, a, why) == 0 ? 200 : why->status;
}

static int status_of(const char *method, const char *path, const char *body, const char **code)
{
    struct dp_admission a;
    struct dp_refusal why;
    int s = admit(method, path, body, &a, &why);
    *code = s == 200 ? "" : why.code;
    dp_admission_cleanup(&a);
    return s;
}

TEST("refusals, in SPEC order")
{
    cfg = compile();
    const char *code;
    const char *chat = "{\"model\":\"gpt-4o\"}";
    headers("Bearer sk-test-prod", "application/json");
    CHECK_INT(status_of("POST", "/nope", chat, &code), 404);
    CHECK_STR(code, "not_found");
    CHECK_INT(status_of("GET", WRR, chat, &code), 405);
    CHECK_STR(code, "method_not_allowed");
    headers(NULL, "application/json");
    CHECK_INT(status_of("POST", WRR, chat, &code), 401);
    CHECK_STR(code, "missing_api_key");
    headers("Bearer sk-nope", "application/json");
    CHECK_INT(status_of("POST", WRR, chat, &code), 401);
    CHECK_STR(code, "invalid_api_key");
    headers("Bearer sk-test-expired", "application/json");
    CHECK_INT(status_of("POST", WRR, chat, &code), 401);
    CHECK_STR(code, "expired_api_key");
    headers("Bearer sk-test-nosub", "application/json");
    CHECK_INT(status_of("POST", FO, chat, &code), 403);
    CHECK_STR(code, "not_subscribed");
    headers("Bearer sk-test-prod", "application/json");
    CHECK_INT(status_of("POST", WRR, "{not json", &code), 400);
    headers("Bearer sk-test-prod", "application/json");
    CHECK_INT(status_of("POST", WRR, "", &code), 400); /* a routing policy needs a model */

    struct dp_admission a;
    struct dp_refusal why;
    struct dp_admit_in in = {.cfg = cfg, .method = "POST", .path = WRR, .header = lookup,
                             .body_too_big = 1};
    CHECK_INT(dp_admit_check(&in, &a, &why), -1);
    CHECK_INT(why.status, 413);
    dp_admission_cleanup(&a);
    in.cfg = NULL;
    CHECK_INT(dp_admit_check(&in, &a, &why), -1);
    CHECK_INT(why.status, 503);
    CHECK_STR(why.code, "not_ready");
    dp_admission_cleanup(&a);
    dp_config_unref(cfg);
    dp_suspensions_free(st);
}

TEST("admitted: API, operation, environment and application of the key, the model")
{
    cfg = compile();
    struct dp_admission a;
    struct dp_refusal why;
    headers("Bearer   sk-test-sand", "application/json");
    CHECK_INT(admit("POST", WRR, "{\"model\":\"gpt-4o-mini\",\"stream\":true}", &a, &why), 200);
    CHECK_STR(a.api->id, "api-wrr");
    CHECK_STR(a.op->target, "/chat/completions");
    CHECK_INT(a.env, DP_ENV_SANDBOX);
    CHECK_STR(a.app_id, "app-1");
    CHECK_STR(a.model, "gpt-4o-mini");
    CHECK_INT(a.has_json, 1);
    CHECK_INT(a.json.stream, 1);
    CHECK_INT(a.force_usage, 1); /* aiRateLimit with totalTokens, no include_usage */
    dp_admission_cleanup(&a);

    nhdr = 0; /* the apikey header works too; unsecured needs none */
    hdr_names[nhdr] = "apikey";
    hdr_values[nhdr++] = "sk-test-prod";
    CHECK_INT(admit("POST", FO, "{\"model\":\"gpt-4o\",\"stream\":true,"
                                "\"stream_options\":{\"include_usage\":true}}",
                    &a, &why),
              200);
    CHECK_INT(a.env, DP_ENV_PRODUCTION);
    CHECK_INT(a.force_usage, 0);
    dp_admission_cleanup(&a);
    headers(NULL, NULL);
    CHECK_INT(admit("GET", "/azure/2024/models", NULL, &a, &why), 200);
    CHECK_INT(a.listing, 1); /* answered by the gateway, the body not read */
    CHECK(a.app_id == NULL);
    CHECK(a.model == NULL);
    CHECK_INT(a.has_json, 0);
    dp_admission_cleanup(&a);
    dp_config_unref(cfg);
    dp_suspensions_free(st);
}

TEST("multipart: the model field is read, a malformed form is 400")
{
    cfg = compile();
    struct dp_admission a;
    struct dp_refusal why;
    const char *form = "--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
                       "--B--\r\n";
    headers("Bearer sk-test-prod", "multipart/form-data; boundary=B");
    CHECK_INT(admit("POST", "/chat-service-prod-sand/1.0/audio/transcriptions", form, &a, &why),
              200);
    CHECK_INT(a.multipart, 1);
    CHECK_STR(a.model, "whisper-1");
    dp_admission_cleanup(&a);
    CHECK_INT(admit("POST", "/chat-service-prod-sand/1.0/audio/transcriptions", "junk", &a, &why),
              400);
    dp_admission_cleanup(&a);
    dp_config_unref(cfg);
    dp_suspensions_free(st);
}

TEST("subscription validation off: an unsubscribed key is admitted")
{
    cfg = compile_with(0);
    const char *code;
    headers("Bearer sk-test-nosub", "application/json");
    CHECK_INT(status_of("POST", FO, "{\"model\":\"gpt-4o\"}", &code), 200);
    dp_config_unref(cfg);
    dp_suspensions_free(st);
}

TEST("the limiter's refusal: 429, Retry-After at least 1 s")
{
    struct dp_api api = {.name = "chat"};
    struct dp_rl_result res = {.limited = 1, .retry_after_s = 42};
    char ra[32];
    struct dp_refusal why;
    dp_admit_limited(&api, &res, ra, &why);
    CHECK_INT(why.status, 429);
    CHECK_STR(why.code, "rate_limited");
    CHECK_STR(ra, "42");
    CHECK_STR(why.message, "rate limit of API 'chat' reached; retry in 42 s");
    res.retry_after_s = 0;
    dp_admit_limited(&api, &res, ra, &why);
    CHECK_STR(ra, "1");
}

TEST_MAIN()
