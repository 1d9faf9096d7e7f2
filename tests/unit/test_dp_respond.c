/* Unit tests of dataplane/respond.c: the gateway's error shape and types,
 * the headers every answer carries, integer header values. */
#include "testhelp.h"

#include "dataplane/config.h"
#include "dataplane/ratelimit.h"
#include "dataplane/respond.h"

#include <jansson.h>

TEST("error answer: {error:{message,type,code}} as JSON, type by status")
{
    struct dp_reply rep;
    dp_reply_init(&rep, 0);
    dp_reply_error(&rep, 401, "invalid_api_key", "the key \"x\" is not valid");
    CHECK_INT(rep.status, 401);
    CHECK_STR(dp_reply_get(&rep, "Content-Type"), "application/json");
    json_error_t je;
    json_t *doc = json_loadb(rep.body, rep.len, 0, &je);
    CHECK(doc != NULL);
    json_t *e = json_object_get(doc, "error");
    CHECK_STR(json_string_value(json_object_get(e, "message")), "the key \"x\" is not valid");
    CHECK_STR(json_string_value(json_object_get(e, "type")), "authentication_error");
    CHECK_STR(json_string_value(json_object_get(e, "code")), "invalid_api_key");
    json_decref(doc);
    dp_reply_cleanup(&rep);
    CHECK(rep.body == NULL);
    CHECK_STR(dp_error_type(403), "permission_error");
    CHECK_STR(dp_error_type(429), "rate_limit_error");
    CHECK_STR(dp_error_type(502), "upstream_error");
    CHECK_STR(dp_error_type(504), "upstream_error");
    CHECK_STR(dp_error_type(503), "server_error");
    CHECK_STR(dp_error_type(404), "invalid_request_error");
}

TEST("common headers: id, target, attempts, rate-limit values (negatives as 0)")
{
    struct dp_endpoint ep = {.name = "primary"};
    struct dp_target t = {.model = "gpt-4o", .endpoint = &ep};
    struct dp_rl_result rl = {.limit_requests = 5,
                              .remaining_requests = -1,
                              .limit_tokens = -1,
                              .remaining_tokens = -1};
    struct dp_reply rep;
    dp_reply_init(&rep, 200);
    dp_reply_common(&rep, "id-1", &t, 3, &rl);
    CHECK_STR(dp_reply_get(&rep, "x-request-id"), "id-1");
    CHECK_STR(dp_reply_get(&rep, "x-modelmux-model"), "gpt-4o");
    CHECK_STR(dp_reply_get(&rep, "x-modelmux-endpoint"), "primary");
    CHECK_STR(dp_reply_get(&rep, "x-modelmux-attempts"), "3");
    CHECK_STR(dp_reply_get(&rep, "x-ratelimit-limit-requests"), "5");
    CHECK_STR(dp_reply_get(&rep, "x-ratelimit-remaining-requests"), "0");
    CHECK(dp_reply_get(&rep, "x-ratelimit-limit-tokens") == NULL);
    dp_reply_init(&rep, 404);
    dp_reply_common(&rep, "id-2", NULL, 0, NULL);
    CHECK_INT(rep.nheaders, 1);
    dp_reply_header_int(&rep, "n", -1234567890123LL);
    CHECK_STR(dp_reply_get(&rep, "n"), "-1234567890123");
}

TEST_MAIN()
