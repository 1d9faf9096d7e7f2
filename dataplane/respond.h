/* What the gateway answers, before it is handed to the client connection:
 * struct dp_reply (status, headers, a body or a stream), the error shape
 * {"error":{"message","type","code"}} of every answer the gateway makes
 * itself, and the headers every answer carries (x-request-id,
 * x-modelmux-*, x-ratelimit-*).
 *
 * Building a reply needs no connection: the listener turns it into an MHD
 * response (listener.c), a unit test reads it as it is. Pure; any thread. */
#ifndef DP_RESPOND_H
#define DP_RESPOND_H

#include "common/fmt.h"

#include <stddef.h>
#include <stdint.h>

struct dp_relay;
struct dp_rl_result;
struct dp_target;

#define DP_REPLY_HEADERS 16 /* more than any answer of ours carries */
#define DP_REPLY_INTS 8     /* integer-valued headers per reply */

struct dp_reply {
    int status;
    int nheaders;
    const char *name[DP_REPLY_HEADERS];  /* borrowed until the reply is sent */
    const char *value[DP_REPLY_HEADERS]; /* borrowed, or in ints[] */
    int nints;
    char ints[DP_REPLY_INTS][GW_FMT_INT_MAX + 1];
    char *body;          /* owned (gw_malloc), or NULL: see fixed */
    size_t len;
    size_t held;         /* budget bytes the body holds (bufbudget.h), given back with it */
    const char *fixed;   /* a static body when body is NULL (may be NULL: empty) */
    struct dp_relay *stream; /* non-NULL: the body is this relay's stream */
};

/* An empty reply with status. */
void dp_reply_init(struct dp_reply *rep, int status);

/* Frees the body if it was not handed over (giving back its budget). */
void dp_reply_cleanup(struct dp_reply *rep);

/* Adds a header (name and value borrowed until sent). Headers past
 * DP_REPLY_HEADERS are dropped (never reached: fixed set). */
void dp_reply_header(struct dp_reply *rep, const char *name, const char *value);
void dp_reply_header_int(struct dp_reply *rep, const char *name, int64_t v);

/* The value of header name (case-sensitive, as added), or NULL. */
const char *dp_reply_get(const struct dp_reply *rep, const char *name);

/* The OpenAI "type" of a gateway error with this status. */
const char *dp_error_type(int status);

/* Makes rep the JSON error answer: Content-Type application/json, body
 * {"error":{"message":message,"type":...,"code":code}}. When memory runs out
 * the answer becomes a static 503 out_of_memory error. */
void dp_reply_error(struct dp_reply *rep, int status, const char *code, const char *message);

/* Adds the headers every answer carries: x-request-id, the target's
 * x-modelmux-model / -endpoint / -attempts (when a target was tried), and
 * the x-ratelimit-* of the limiter's decision (rl may be NULL). Values are
 * borrowed. */
void dp_reply_common(struct dp_reply *rep, const char *id, const struct dp_target *target,
                     int attempts, const struct dp_rl_result *rl);

#endif
