/* The control plane's HTTP server: one libmicrohttpd daemon for the admin
 * REST API (/api/v1), the data-plane channel (/dp/v1) and the web UI (/ui/).
 *
 * MHD runs a small pool of internal epoll threads with suspend/resume, so a
 * long-polling data plane is a suspended connection, not a thread. This file
 * owns the per-connection state (bounded body buffer), the admin-token
 * check, the dispatch through the route table (routes.c), and the single
 * place where a struct gw_err becomes an error reply (cp_http_reply_error). */
#ifndef CP_HTTP_H
#define CP_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>

#include "common/crypto.h"
#include "common/err.h"

struct cp_db;
struct cp_dp;

/* Request bodies above this get 413. */
#define CP_MAX_BODY (1024 * 1024)
/* JSON nesting deeper than this gets 400 (jansson's own bound is 2048). */
#define CP_MAX_JSON_DEPTH 32

struct cp_http_config {
    const char *listen;                     /* HOST:PORT */
    const char *web_dir;                    /* static files of the UI */
    char admin_hash[GW_SHA256_HEX_LEN + 1]; /* sha256 hex of the admin token */
    struct cp_db *db;
    struct cp_dp *dp; /* data-plane channel */
    struct gw_tls_server *tls; /* --tls-cert/--tls-key (borrowed), or NULL: plain HTTP */
};

struct cp_http;
struct gw_tls_server;

/* Binds config->listen and starts the daemon. config is copied except the
 * db/dp pointers (borrowed, must outlive the server). Returns 0 with *out
 * set, or -1 with err (e.g. "cannot listen on 127.0.0.1:9400: Address
 * already in use"). */
int cp_http_start(const struct cp_http_config *config, struct cp_http **out, struct gw_err *err);

/* Stops accepting, wakes the waiting data planes, lets requests in flight
 * finish (bounded wait), and stops the daemon. NULL is a no-op. */
void cp_http_stop(struct cp_http *srv);

/* Queues the SPEC 2.1 error reply for err: status from its kind, body
 * {"error": {"code", "message"}}. Returns MHD's result. */
enum MHD_Result cp_http_reply_error(struct MHD_Connection *c, const struct gw_err *err);

/* 1 when c carries "Authorization: Bearer <token>" whose SHA-256 hex is
 * hash (GW_SHA256_HEX_LEN chars), compared in constant time; else 0. Both
 * the admin API and the data-plane channel check their token with it. */
int cp_http_bearer_ok(struct MHD_Connection *c, const char *hash);

/* Queues status with the JSON value j (borrowed; NULL = no body). */
enum MHD_Result cp_http_reply_json(struct MHD_Connection *c, unsigned status, json_t *j);

#endif
