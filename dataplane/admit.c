/* Admission, SPEC 3.1 steps 1-3 (see admit.h). Owns nothing beyond the
 * admission it fills (the model copy and the parsed body). Worker thread. */
#include "admit.h"

#include "common/alloc.h"
#include "common/fmt.h"
#include "jwt_cache.h"
#include "models.h"
#include "ratelimit.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int refuse(struct dp_refusal *why, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse(struct dp_refusal *why, int status, const char *code, const char *fmt, ...)
{
    why->status = status;
    why->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->message, sizeof(why->message), fmt, ap);
    va_end(ap);
    return -1;
}

static int refuse_err(struct dp_refusal *why, const struct gw_err *err)
{
    return refuse(why, gw_err_http_status(err->kind), err->code[0] ? err->code : "invalid_request",
                  "%s", err->message[0] ? err->message : "invalid request");
}

/* The presented API key, or NULL. */
static const char *find_key(const struct dp_admit_in *in)
{
    const char *h = in->header(in->ctx, "Authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        h += 7;
        while (*h == ' ')
            h++;
        if (*h)
            return h;
    }
    h = in->header(in->ctx, "apikey");
    return h && *h ? h : NULL;
}

/* 1 when the bearer value looks like a JWT: three non-empty base64url
 * parts (the signature may be empty only to be refused by the check). */
static int looks_like_jwt(const char *s)
{
    int dots = 0;
    size_t part = 0;
    for (; *s && *s != ' '; s++) {
        if (*s == '.') {
            if (part == 0 && dots < 2)
                return 0;
            dots++;
            part = 0;
        } else if (isalnum((unsigned char)*s) || *s == '-' || *s == '_') {
            part++;
        } else {
            return 0;
        }
    }
    return dots == 2 && *s == '\0';
}

/* Room for an operation's scopes in a refusal message (cut at the end). */
#define DP_SCOPE_LIST_MAX 256

/* The operation's scopes, space-separated as a scope claim lists them,
 * truncated to fit out. */
static const char *scope_list(const struct dp_operation *op, char *out, size_t outsz)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < op->nscopes && at + 1 < outsz; i++) {
        int n = snprintf(out + at, outsz - at, "%s%s", i ? " " : "", op->scopes[i]);
        if (n < 0)
            break;
        at += (size_t)n < outsz - at ? (size_t)n : outsz - at - 1;
    }
    return out;
}

/* Step 2 for a JWT access token (SPEC 3.1): the verdict of the worker's
 * cache or of a full check; the OAuth client's application and type. The
 * 401 message is the check's fixed sentence (never the token). */
static int authenticate_jwt(const struct dp_admit_in *in, const char *token,
                            struct dp_admission *a, struct dp_refusal *why)
{
    char list[DP_SCOPE_LIST_MAX];
    const struct gw_jwt_claims *claims = NULL;
    struct gw_err err;
    gw_err_clear(&err);
    if (!in->cfg->jwt)
        return refuse(why, 401, "token_issuer_unknown",
                      "unknown issuer: iss names no configured issuer");
    enum gw_jwt_status st = dp_jwt_check(in->jwt, in->cfg->jwt, token, strlen(token), in->now_s,
                                         &claims, &err);
    if (st != GW_JWT_OK)
        return refuse(why, st == GW_JWT_NOMEM ? 503 : 401, gw_jwt_status_code(st), "%s",
                      err.message);
    const struct dp_key *client = claims->client;
    if (!gw_jwt_scopes_hold(claims->scope, a->op->scopes, a->op->nscopes))
        return refuse(why, 403, "insufficient_scope",
                      "the access token's scope claim lacks a scope this operation requires "
                      "(%s %s needs: %s)",
                      a->op->verb, a->op->target, scope_list(a->op, list, sizeof(list)));
    if (a->api->subscription_validation &&
        !dp_key_subscribed(client, a->api->id))
        return refuse(why, 403, "not_subscribed", "the application is not subscribed to API '%s'",
                      a->api->name);
    a->env = client->env;
    a->app_id = client->app_id;
    return 0;
}

/* Step 2: the key and the environment it selects. */
static int authenticate(const struct dp_admit_in *in, struct dp_admission *a,
                        struct dp_refusal *why)
{
    a->env = DP_ENV_PRODUCTION;
    if (!a->op->secured)
        return 0;
    const char *key = find_key(in);
    if (!key)
        return refuse(why, 401, "missing_api_key",
                      "an API key is required (Authorization: Bearer <key> or apikey: <key>)");
    if (looks_like_jwt(key) && in->jwt)
        return authenticate_jwt(in, key, a, why);
    if (a->op->nscopes > 0) {
        char list[DP_SCOPE_LIST_MAX];
        return refuse(why, 403, "insufficient_scope",
                      "%s %s requires OAuth scopes (%s): call it with a JWT access token, not an "
                      "API key",
                      a->op->verb, a->op->target, scope_list(a->op, list, sizeof(list)));
    }
    const struct dp_key *k = NULL;
    switch (dp_config_check_key(in->cfg, a->api, key, in->now_s, &k)) {
    case DP_KEY_OK:
        a->env = k->env;
        a->app_id = k->app_id;
        return 0;
    case DP_KEY_EXPIRED:
        return refuse(why, 401, "expired_api_key", "the API key has expired");
    case DP_KEY_NOT_SUBSCRIBED:
        return refuse(why, 403, "not_subscribed", "the application is not subscribed to API '%s'",
                      a->api->name);
    case DP_KEY_UNKNOWN:
    default:
        return refuse(why, 401, "invalid_api_key", "the API key is not valid");
    }
}

/* Step 7 and the model: parses the body once. */
static int parse_body(const struct dp_admit_in *in, struct dp_admission *a,
                      struct dp_refusal *why)
{
    struct gw_err err;
    gw_err_clear(&err);
    const char *ctype = in->header(in->ctx, "Content-Type");
    const char *data = in->body ? in->body : "";
    if (ctype && strncasecmp(ctype, "multipart/form-data", 19) == 0) {
        a->multipart = 1;
        const char *m = NULL;
        size_t mlen = 0;
        int rc = dp_multipart_find_model(data, in->body_len, ctype, &m, &mlen, &err);
        if (rc < 0)
            return refuse_err(why, &err);
        if (rc == 0 && !(a->model = gw_strndup(m, mlen)))
            return refuse(why, 503, "out_of_memory", "out of memory");
        return 0;
    }
    if (in->body_len == 0 && !a->api->needs_model)
        return 0;
    if (dp_body_parse_json(data, in->body_len, a->api->vendor->model_field, &a->json, &err) != 0)
        return refuse_err(why, &err);
    a->has_json = 1;
    if (a->json.model && !(a->model = gw_strdup(a->json.model)))
        return refuse(why, 503, "out_of_memory", "out of memory");
    const struct dp_ratelimit *p = a->api->ratelimit;
    if (p && a->json.stream && !a->json.include_usage && dp_usage_injectable(a->op->target) &&
        (p->request_tokens >= 0 || p->response_tokens >= 0 || p->total_tokens >= 0))
        a->force_usage = 1;
    return 0;
}

int dp_admit_headers(const struct dp_admit_in *in, struct dp_admission *a,
                     struct dp_refusal *why)
{
    memset(a, 0, sizeof(*a));
    if (!in->cfg)
        return refuse(why, 503, "not_ready", "the data plane has no configuration yet");
    switch (dp_config_match(in->cfg, in->method, in->path, &a->api, &a->op)) {
    case DP_MATCH_NOT_FOUND:
        return refuse(why, 404, "not_found", "no API serves %s", in->path);
    case DP_MATCH_METHOD:
        a->api = NULL;
        return refuse(why, 405, "method_not_allowed", "%s is not allowed on %s", in->method,
                      in->path);
    case DP_MATCH_OK:
        break;
    }
    if (authenticate(in, a, why) != 0)
        return -1;
    a->listing = dp_models_is_listing(a->op);
    return 0;
}

int dp_admit_body(const struct dp_admit_in *in, struct dp_admission *a, struct dp_refusal *why)
{
    if (in->body_too_big)
        return refuse(why, 413, "body_too_large", "request body is over %d bytes", DP_BODY_MAX);
    if (a->listing)
        return 0;
    return parse_body(in, a, why);
}

int dp_admit_check(const struct dp_admit_in *in, struct dp_admission *a, struct dp_refusal *why)
{
    if (dp_admit_headers(in, a, why) != 0)
        return -1;
    return dp_admit_body(in, a, why);
}

void dp_admission_cleanup(struct dp_admission *a)
{
    if (a->has_json)
        dp_body_json_cleanup(&a->json);
    a->has_json = 0;
    gw_free(a->model);
    a->model = NULL;
}

void dp_admit_limited(const struct dp_api *api, const struct dp_rl_result *res,
                      char retry_after[32], struct dp_refusal *why)
{
    *gw_fmt_i64(retry_after, res->retry_after_s > 0 ? res->retry_after_s : 1) = '\0';
    refuse(why, 429, "rate_limited", "rate limit of API '%s' reached; retry in %s s", api->name,
           retry_after);
}
