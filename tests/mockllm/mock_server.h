/* The mock LLM's HTTP server: one MHD daemon (internal epoll threads, a
 * pool of --threads workers, suspend/resume), the per-request state shared
 * by the route handlers, body accumulation, the counters of
 * GET /__mock/stats, and helpers to queue responses.
 *
 * Routes: /__mock/... go to mock_control.c, everything else to mock_openai.c.
 * Threads: the MHD workers run every callback; mock_timer's thread resumes
 * delayed connections; main starts and stops. Counters are atomics. */
#ifndef MOCK_SERVER_H
#define MOCK_SERVER_H

#include <jansson.h>
#include <microhttpd.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/err.h"
#include "mock_record.h"
#include "mock_reply.h"
#include "mock_rules.h"
#include "mock_timer.h"

/* Largest request body the OpenAI routes accept (larger: 413). */
#define MOCK_BODY_MAX ((size_t)32 * 1024 * 1024)
/* Largest body of a /__mock/ call. */
#define MOCK_CONTROL_BODY_MAX ((size_t)4 * 1024 * 1024)

struct mock_server {
    struct MHD_Daemon *daemon;
    char name[MOCK_NAME_MAX + 1];   /* --name, echoed in replies */
    struct mock_rules rules;
    struct mock_recorder recorder;
    struct mock_timer *timer;
    int stopping;                   /* __atomic: no new suspensions */
    unsigned long long next_id;     /* __atomic: reply ids */
    long requests;                  /* __atomic: OpenAI-route requests received */
    long active;                    /* __atomic: OpenAI-route requests in flight */
    long cancelled;                 /* __atomic: client left before the end */
};

struct mock_stream;

/* One HTTP request (MHD's *con_cls), freed in the completion callback. */
struct mock_req {
    struct mock_server *srv;
    struct MHD_Connection *conn;
    int control;              /* a /__mock/ route: not counted, not recorded */
    struct gw_buf body;       /* the request body (bounded) */
    size_t received;          /* body bytes received, kept or not */
    int too_big;              /* the body went over its bound */
    int nomem;                /* the body could not be stored */
    int reset_by_us;          /* the mock closed it on purpose: not "cancelled" */
    /* OpenAI-route state (mock_openai.c) */
    int phase;                /* 0 = new; 1 = delayMs wait done (or hang polling) */
    enum mock_route route;
    char model[MOCK_MODEL_MAX + 1];
    int stream;               /* "stream": true */
    int include_usage;        /* "stream_options": {"include_usage": true} */
    long inputs;              /* embeddings: inputs in "input" (0: not given) */
    long dimensions;          /* embeddings: "dimensions" (0: not given) */
    int base64;               /* embeddings: "encoding_format": "base64" */
    long images;              /* images: "n" (0: not given) */
    int b64_json;             /* images: "response_format": "b64_json" */
    int last_assistant;       /* the last of "messages" has role "assistant" */
    char *assistant_text;     /* its string content (owned), NULL when not a string */
    const struct mock_rule *rule; /* the fault rule applied, or NULL */
    struct mock_ruleset *hold;    /* keeps rule alive */
    struct mock_stream *stream_state;
};

/* Initialises srv (name copied, cut at MOCK_NAME_MAX) and starts the daemon
 * on the listening socket fd (takes ownership: MHD closes it) with threads
 * workers. Returns 0, or -1 with err filled (everything released). */
int mock_server_start(struct mock_server *srv, int fd, const char *name, unsigned threads,
                      struct gw_err *err);

/* Stops: resumes every delayed connection, stops the daemon (connections
 * closed), frees the rules and the request log. */
void mock_server_stop(struct mock_server *srv);

/* Returns 1 once mock_server_stop has begun (handlers then close instead of
 * waiting). */
int mock_server_stopping(const struct mock_server *srv);

/* A response whose body is b's contents (taken over: b is left empty), with
 * Content-Type ctype. NULL when out of memory (b then freed). */
struct MHD_Response *mock_response_from_buf(struct gw_buf *b, const char *ctype);

/* Queues status with the given response and releases the caller's
 * reference. resp NULL (allocation failed) closes the connection. */
enum MHD_Result mock_queue(struct MHD_Connection *c, unsigned int status,
                           struct MHD_Response *resp);

/* Queues doc (borrowed) as a JSON response. */
enum MHD_Result mock_queue_json(struct MHD_Connection *c, unsigned int status, json_t *doc);

/* A response with an OpenAI error body {"error": {message, type, code}}
 * for status, or NULL when out of memory. */
struct MHD_Response *mock_response_error(unsigned int status, const char *message);

/* Queues mock_response_error(status, message). */
enum MHD_Result mock_queue_error(struct MHD_Connection *c, unsigned int status,
                                 const char *message);

#endif
