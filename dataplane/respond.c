/* Replies and the gateway's error answers (see respond.h). Pure: owns only
 * the reply's body until it is handed over. Any thread. */
#include "respond.h"

#include "accesslog.h"
#include "bufbudget.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "config.h"
#include "ratelimit.h"

#include <string.h>

void dp_reply_init(struct dp_reply *rep, int status)
{
    memset(rep, 0, sizeof(*rep));
    rep->status = status;
}

void dp_reply_cleanup(struct dp_reply *rep)
{
    gw_free(rep->body);
    rep->body = NULL;
    dp_bufbudget_give(&rep->held);
}

void dp_reply_header(struct dp_reply *rep, const char *name, const char *value)
{
    if (rep->nheaders >= DP_REPLY_HEADERS)
        return;
    rep->name[rep->nheaders] = name;
    rep->value[rep->nheaders++] = value;
}

void dp_reply_header_int(struct dp_reply *rep, const char *name, int64_t v)
{
    if (rep->nints >= DP_REPLY_INTS)
        return;
    char *s = rep->ints[rep->nints++];
    *gw_fmt_i64(s, v) = '\0';
    dp_reply_header(rep, name, s);
}

const char *dp_reply_get(const struct dp_reply *rep, const char *name)
{
    for (int i = 0; i < rep->nheaders; i++)
        if (strcmp(rep->name[i], name) == 0)
            return rep->value[i];
    return NULL;
}

const char *dp_error_type(int status)
{
    switch (status) {
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 429:
        return "rate_limit_error";
    case 502:
    case 504:
        return "upstream_error";
    default:
        return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

void dp_reply_error(struct dp_reply *rep, int status, const char *code, const char *message)
{
    struct gw_buf b;
    gw_buf_init(&b, 8192);
    int rc = gw_buf_append_str(&b, "{\"error\":{\"message\":") == GW_BUF_OK ? 0 : -1;
    rc |= dp_json_str(&b, message);
    rc |= gw_buf_append_str(&b, ",\"type\":") == GW_BUF_OK ? 0 : -1;
    rc |= dp_json_str(&b, dp_error_type(status));
    rc |= gw_buf_append_str(&b, ",\"code\":") == GW_BUF_OK ? 0 : -1;
    rc |= dp_json_str(&b, code);
    rc |= gw_buf_append_str(&b, "}}") == GW_BUF_OK ? 0 : -1;
    gw_free(rep->body);
    rep->body = NULL;
    rep->len = 0;
    if (rc == 0) {
        rep->len = b.len;
        rep->body = gw_buf_take(&b);
    }
    gw_buf_cleanup(&b);
    rep->status = status;
    if (!rep->body) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":"
                                  "\"server_error\",\"code\":\"out_of_memory\"}}";
        rep->fixed = oom;
        rep->len = sizeof(oom) - 1;
        rep->status = 503;
    }
    dp_reply_header(rep, "Content-Type", "application/json");
}

void dp_reply_common(struct dp_reply *rep, const char *id, const struct dp_target *target,
                     int attempts, const struct dp_rl_result *rl)
{
    dp_reply_header(rep, "x-request-id", id);
    if (target) {
        if (target->model)
            dp_reply_header(rep, "x-modelmux-model", target->model);
        dp_reply_header(rep, "x-modelmux-endpoint", target->endpoint->name);
        dp_reply_header_int(rep, "x-modelmux-attempts", attempts);
    }
    if (rl) {
        if (rl->limit_requests >= 0) {
            dp_reply_header_int(rep, "x-ratelimit-limit-requests", rl->limit_requests);
            dp_reply_header_int(rep, "x-ratelimit-remaining-requests",
                                rl->remaining_requests < 0 ? 0 : rl->remaining_requests);
        }
        if (rl->limit_tokens >= 0) {
            dp_reply_header_int(rep, "x-ratelimit-limit-tokens", rl->limit_tokens);
            dp_reply_header_int(rep, "x-ratelimit-remaining-tokens",
                                rl->remaining_tokens < 0 ? 0 : rl->remaining_tokens);
        }
    }
}
