/* One gateway request: the per-request state machine of SPEC 3.1.
 *
 * A struct dp_request is born in the first call of the MHD access handler
 * (listener.c) and lives until both sides let go of it: the client side (MHD's
 * request-completed callback) and the upstream side (the curl transfer, the
 * rate limiter's pending decision). It belongs to one worker and is touched
 * only from that worker's thread.
 *
 *   RECV --body done--> ADMIT --admitted--> UPSTREAM --headers, final--> BUFFER
 *     |                   |                   |  \--headers, failed--> DISCARD
 *     |                   |                   |  \--headers, stream---> STREAM
 *     +---- any error ----+-------------------+--> RESPOND --MHD done--> CLOSED
 *
 * DISCARD and UPSTREAM failures loop back to UPSTREAM on the next target
 * (only before a byte reached the client). The state changes only through
 * set_state() in request.c, which logs each transition (MODELMUX_DEBUG=1).
 * If you add a state here, add its name to state_names[] in request.c.
 *
 * Destruction never happens inside a callback of the object that is going
 * away: the MHD completed callback and the curl completion only set flags
 * and queue one deferred "pump" call per request (dp_loop_defer), which does
 * MHD resume, curl unpause and the final free in the loop's before-sleep
 * phase. */
#ifndef DP_REQUEST_H
#define DP_REQUEST_H

#include "body.h"
#include "common/buf.h"
#include "config.h"
#include "ratelimit.h"
#include "relay.h"
#include "router.h"
#include "upstream.h"

#include <microhttpd.h>
#include <stdint.h>

struct dp_worker;
struct dp_loop;
struct dp_request;

/* One client connection (MHD's socket context, from connection start to
 * close). Its socket stays in the worker's loop for the connection's whole
 * life, watched one-shot for EPOLLRDHUP; a report goes to the request the
 * connection is serving, if any (see "the client's hang-ups" in request.c).
 * Registering once per connection instead of once per request saves two
 * epoll_ctl calls per kept-alive request. */
struct dp_client {
    struct dp_loop *loop;
    int fd;                 /* owned by MHD */
    int armed;              /* the one-shot watch may still report */
    struct dp_request *req; /* the request being served, or NULL */
};

enum dp_req_state {
    DP_REQ_RECV,     /* reading the request body */
    DP_REQ_ADMIT,    /* waiting for the rate limiter's decision */
    DP_REQ_UPSTREAM, /* a try is in flight, no response headers yet */
    DP_REQ_BUFFER,   /* final response: reading its body to send it whole */
    DP_REQ_DISCARD,  /* failed try: reading its body (kept as "last response") */
    DP_REQ_STREAM,   /* relaying the upstream's stream as it arrives */
    DP_REQ_RESPOND,  /* our response is queued; waiting for MHD to finish */
    DP_REQ_CLOSED    /* the client side is finished */
};

/* Work the deferred pump does (bits of dp_request.pump). */
#define DP_PUMP_RESUME 1u  /* MHD_resume_connection */
#define DP_PUMP_UNPAUSE 2u /* curl_easy_pause(CONT) */
#define DP_PUMP_STREAM 4u  /* queue the streaming response */
#define DP_PUMP_REAP 8u    /* free when nothing holds the request any more */
#define DP_PUMP_HANGUP 16u /* the client socket reported a hang-up: act on it */

struct dp_request {
    struct dp_worker *worker;
    struct dp_request *prev, *next; /* the worker's list of live requests */
    struct MHD_Connection *conn;    /* NULL once MHD completed the request */
    enum dp_req_state state;
    unsigned pump;       /* DP_PUMP_* bits pending */
    int pump_scheduled;  /* one deferred pump call queued */
    int suspended;       /* MHD connection suspended by us */
    int mhd_done;        /* MHD's completed callback ran */
    int client_error;    /* ... with a termination code other than OK */
    int rl_pending;      /* dp_rl_admit's callback has not run yet */
    int client_fd;       /* the connection's socket (owned by MHD), or -1 */
    struct dp_client *client; /* its connection's hang-up watch, or NULL */
    int hup_seen;        /* the client shut its sending side or the socket failed */
    int client_gone;     /* ... and we ended the request for it (499) */
    int counted;         /* modelmux_requests_total has this request */
    int usage_settled;   /* token metrics and the limiter have the usage */
    int64_t start_ms;
    char id[48];         /* x-request-id */
    char method[16];
    char *path;          /* owned copy for the access log */

    /* The snapshot this request runs on (one reference). */
    struct dp_config *cfg;
    const struct dp_api *api;
    const struct dp_operation *op;
    const char *app_id; /* borrowed from cfg, NULL when unsecured */
    enum dp_env env;

    /* Request body and what it says. */
    struct gw_buf body;
    int body_too_big;
    uint64_t body_received; /* bytes of body MHD handed us (kept or not) */
    uint64_t hup_mark;      /* body_received at the last hang-up check */
    int hup_stalls;         /* hang-up checks in a row without body progress */
    int has_json;
    struct dp_json_body json;
    int multipart;
    char *model;        /* the request's model (owned), or NULL */
    int force_usage;    /* we asked for stream usage the caller did not */
    struct gw_buf send; /* the body of the current try when rewritten */
    char *query;        /* "?a=b" re-encoded, or NULL */
    struct curl_slist *fwd_headers; /* the caller's headers to forward */

    /* Rate limiting. */
    int has_rl;
    struct dp_rl_result rl;

    /* Routing. */
    struct dp_route route;
    const struct dp_target *target;
    struct dp_upstream_xfer xfer;
    int last_fail; /* DP_OUTCOME_* of the last try without a response, or -1 */

    /* The response being read (BUFFER), or the last failed one (DISCARD). */
    int resp_status;
    char resp_ctype[128];
    char resp_retry_after[32];
    struct gw_buf resp_body;
    int have_last; /* resp_* hold a complete failed response */

    struct dp_relay relay; /* STREAM */
    int stream_started;    /* the streaming response is queued */
    struct dp_usage usage;

    /* What the client got, for metrics and the access log. */
    int status;
    int64_t upstream_ms;
};

/* Creates the request for a new MHD request (first access-handler call):
 * copies method and path, takes a reference to the worker's current config.
 * Returns NULL when out of memory (the caller then refuses the connection). */
struct dp_request *dp_request_new(struct dp_worker *w, struct MHD_Connection *conn,
                                  const char *method, const char *url);

/* MHD_CONNECTION_NOTIFY_STARTED: watches the new connection's socket for
 * hang-ups. NULL when out of memory (its requests then go unwatched). */
struct dp_client *dp_client_open(struct dp_worker *w, struct MHD_Connection *conn);

/* MHD_CONNECTION_NOTIFY_CLOSED (before MHD closes the socket): stops the
 * watch, detaches a request still attached, frees. NULL is a no-op. */
void dp_client_close(struct dp_client *c);

/* First call: header checks that need no body (Content-Length over the
 * limit: 413 at once). */
void dp_request_headers(struct dp_request *r);

/* A piece of the request body (bounded; over DP_BODY_MAX answers 413). */
void dp_request_body(struct dp_request *r, const char *data, size_t n);

/* The body is complete: runs SPEC 3.1 from step 1. Either queues a response
 * at once or suspends the connection and continues from the loop. Called
 * from the access handler. */
void dp_request_run(struct dp_request *r);

/* MHD's request-completed callback: toe is the termination code. */
void dp_request_closed(struct dp_request *r, enum MHD_RequestTerminationCode toe);

/* --- called by upstream.c (from curl callbacks: no multi calls here) ---- */

/* The response headers of the current try are complete. Returns 0 to go on
 * reading, -1 to abort the transfer. */
int dp_request_upstream_headers(struct dp_request *r);

/* Body bytes of the current try; returns n, 0 (abort) or
 * CURL_WRITEFUNC_PAUSE. */
size_t dp_request_upstream_data(struct dp_request *r, const char *data, size_t n);

/* --- called by upstream.c after curl_multi_info_read (not a callback) ---- */

/* The current try ended; result is its CURLcode (0 = CURLE_OK). The easy
 * handle is already removed from the multi. */
void dp_request_upstream_done(struct dp_request *r, int result);

/* --- called by relay.c and the worker ------------------------------------ */

/* Asks the deferred pump to do work (DP_PUMP_* bits). */
void dp_request_pump(struct dp_request *r, unsigned bits);

/* Suspends r's MHD connection (from the access handler or the content
 * reader only, as MHD requires). While suspended MHD does not watch the
 * socket: the request's own hang-up watch does (see request.c). */
void dp_request_suspend(struct dp_request *r);

/* The response's token usage is final (stream end): counts it in the token
 * metrics and settles it with the limiter, once, before the client has the
 * whole response, so a request sent right after sees it. */
void dp_request_usage_final(struct dp_request *r);

/* Worker shutdown after the drain deadline: stops the upstream side and
 * answers 503 (or ends a stream), resuming the connection. */
void dp_request_abort(struct dp_request *r);

#endif
