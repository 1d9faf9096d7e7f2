/* Every bound of the config contract (SPEC 2.2 and 5), defined once.
 *
 * The control plane enforces these on REST input, and the config model
 * (common/config.h) enforces the same ones on every snapshot, in the control
 * plane before it publishes and in the data plane before it applies: so a
 * snapshot built from anything the admin API accepted is never refused by a
 * data plane. "CHARS" bounds count UTF-8 code points, "BYTES" bounds bytes.
 * Header only; no code. */
#ifndef GW_LIMITS_H
#define GW_LIMITS_H

/* Names: vendors, APIs, endpoints, applications, secrets and their keys,
 * model names, vendor auth header and prefix. SPEC 2.2: "1-128 characters". */
#define GW_NAME_MAX_CHARS 128
/* Server-made ids (32 hex digits today; the snapshot allows up to this). */
#define GW_ID_MAX_BYTES 64
/* Endpoint URLs (http:// or https://, bytes). */
#define GW_URL_MAX_BYTES 2048
/* API basePath and operation targets (bytes of printable ASCII). */
#define GW_PATH_MAX_BYTES 256
/* API version (A-Z a-z 0-9 . - _). */
#define GW_VERSION_MAX_BYTES 32
/* Operations per API. */
#define GW_OPERATIONS_MAX 100
/* Scopes an operation may require, and bytes per scope (an RFC 6749
 * scope-token: printable ASCII without space, '"' or '\\'). */
#define GW_OPERATION_SCOPES_MAX 16
#define GW_SCOPE_MAX_BYTES 128
/* Vendor: api version, description, usage paths, models per vendor. */
#define GW_API_VERSION_MAX_CHARS 64
#define GW_DESCRIPTION_MAX_CHARS 1024
#define GW_USAGE_PATH_MAX_CHARS 256
#define GW_MODELS_MAX 1000

/* Targets of one round-robin list, and fallbacks of one failover chain (the
 * chain holds the target plus at most this many fallbacks). */
#define GW_TARGETS_MAX 64
/* Operations a round-robin policy may route ("operations"). */
#define GW_POLICY_OPERATIONS_MAX GW_OPERATIONS_MAX
#define GW_WEIGHT_MIN 1
#define GW_WEIGHT_MAX 1000
#define GW_SUSPEND_MAX_S 86400
#define GW_SUSPEND_DEFAULT_S 60
#define GW_TIMEOUT_MAX_MS 600000 /* endpoint timeoutMs, failover requestTimeoutMs */
#define GW_ENDPOINT_TIMEOUT_DEFAULT_MS 60000
#define GW_REQUEST_TIMEOUT_DEFAULT_MS 30000
/* SPEC revision 2 routing fields. */
#define GW_RETRIES_MAX 3
#define GW_RETRY_AFTER_WAIT_MAX_S 60
#define GW_STREAM_TIMEOUT_MIN_MS 100    /* firstTokenTimeoutMs, streamIdleTimeoutMs: 0 = off */
#define GW_STREAM_TIMEOUT_MAX_MS 600000
/* aiRateLimit counts. */
#define GW_RATE_LIMIT_MAX ((long long)1 << 50)

/* Secrets: keys per secret and the bytes of one value. An endpoint's header
 * value is its prefix (at most GW_NAME_MAX_CHARS characters, 4 bytes each)
 * plus one secret value, so GW_AUTH_VALUE_MAX_BYTES holds every value the
 * control plane can make. */
#define GW_SECRET_KEYS_MAX 64
#define GW_SECRET_VALUE_MAX_BYTES (64 * 1024)
#define GW_AUTH_VALUE_MAX_BYTES (GW_SECRET_VALUE_MAX_BYTES + 4 * GW_NAME_MAX_CHARS)
/* PEM text of an endpoint's tls.caCert / tls.clientCert. */
#define GW_PEM_MAX_BYTES (64 * 1024)
/* Files named by --tls-cert, --tls-key (both listeners) and --cp-ca: PEM
 * text of at most this many bytes (a chain or a CA bundle). */
#define GW_TLS_FILE_MAX_BYTES (1024 * 1024)

/* JWT issuers (SPEC 2.2 "Issuers"): at most this many. The bounds of one
 * issuer belong to the JWT code that enforces them and are defined there:
 * common/jwt_issuer.h (GW_JWT_ISSUER_MAX bytes of iss, GW_JWT_MAX_AUDIENCES,
 * GW_JWT_AUDIENCE_MAX, GW_JWT_CLAIM_NAME_MAX, GW_JWT_CLIENT_ID_MAX) and
 * common/jwk.h (GW_JWK_MAX_KEYS keys, RSA sizes, GW_JWKS_DOC_MAX bytes of a
 * fetched JWKS). */
#define GW_ISSUERS_MAX 64

/* HTTP requests on both listeners (SPEC 5): the request target (path and
 * query) and the header block (every "name: value" line with its CRLF). Over
 * these: 414 and 431 in the binary's JSON error shape. Each listener's MHD
 * connection pool is GW_HTTP_POOL_BYTES, room for a request just over
 * either limit, so MHD reaches our check instead of answering itself; only
 * a request past the pool gets MHD's own 414/431 (HTML, connection closed). */
#define GW_HTTP_URL_MAX_BYTES 16384
#define GW_HTTP_HEADERS_MAX_BYTES 32768
/* Query arguments (each costs MHD pool memory; more are refused as 414). */
#define GW_HTTP_QUERY_ARGS_MAX 256
#define GW_HTTP_POOL_BYTES (64 * 1024)

/* Counts of what the snapshot holds in bulk. The control plane refuses to
 * create more (409 limit_reached), so the snapshot's size is bounded by
 * them (GW_SNAPSHOT_MAX_BYTES below). Issue 11 item 11's load (100,000
 * keys, 1,000 APIs, 1,000 applications with 100 subscriptions each, about
 * 19 MB) is well inside. */
#define GW_APIS_MAX 2000
#define GW_APPLICATIONS_MAX 50000
#define GW_KEYS_MAX 500000
#define GW_SUBSCRIPTIONS_MAX 1000000 /* (application, API) pairs, all applications together */

/* The most bytes one of them takes in the snapshot's text (compact JSON;
 * an id is at most GW_ID_MAX_BYTES, twice that escaped; a name at most
 * GW_NAME_MAX_CHARS characters of 4 bytes, or 2 escaped):
 *   key          {"application":ID,"expiresAt":TIME,"hash":HEX64,"type":"production"},
 *   application  {"id":ID,"name":NAME,"subscriptions":[...]},
 *   subscription ID, (inside its application)
 * An API with its endpoints (URL, credential header of up to
 * GW_AUTH_VALUE_MAX_BYTES, TLS material) and policies has no count bound
 * of its own on endpoints or policies: GW_SNAPSHOT_API_BYTES is the room
 * each API gets, and GW_SNAPSHOT_OTHER_BYTES that of the vendors, the
 * issuers and the document's own fields. */
#define GW_SNAPSHOT_KEY_BYTES (64 + 2 * GW_ID_MAX_BYTES + 64 + 32 + 16)
#define GW_SNAPSHOT_APPLICATION_BYTES (48 + 2 * GW_ID_MAX_BYTES + 4 * GW_NAME_MAX_CHARS)
#define GW_SNAPSHOT_SUBSCRIPTION_BYTES (3 + 2 * GW_ID_MAX_BYTES)
#define GW_SNAPSHOT_API_BYTES (4 * GW_AUTH_VALUE_MAX_BYTES)
#define GW_SNAPSHOT_OTHER_BYTES ((size_t)16 * 1024 * 1024)

/* The largest config snapshot (its JSON text, bytes) a control plane
 * publishes and a data plane downloads or reads from its cache: the
 * largest the counts above allow (about 860 MB). A larger one can only
 * come from an API with more endpoints and policies than its room: the
 * control plane refuses it (logged, not published) and, from anything
 * else, the data plane (logged once per revision, naming this limit;
 * current revision kept). */
#define GW_SNAPSHOT_MAX_BYTES                                                                      \
    ((size_t)GW_KEYS_MAX * GW_SNAPSHOT_KEY_BYTES +                                                 \
     (size_t)GW_APPLICATIONS_MAX * GW_SNAPSHOT_APPLICATION_BYTES +                                 \
     (size_t)GW_SUBSCRIPTIONS_MAX * GW_SNAPSHOT_SUBSCRIPTION_BYTES +                               \
     (size_t)GW_APIS_MAX * GW_SNAPSHOT_API_BYTES + GW_SNAPSHOT_OTHER_BYTES)

/* Upstream responses the data plane reads whole (non-streamed: it reads
 * their usage, or keeps a failed one as the last answer). One response
 * holds at most the per-response cap (modelmux-dp --max-response-bytes;
 * over it: 502), and all responses a worker holds at once share the
 * per-worker budget (--buffer-budget; spent: 503), counted until the
 * client has the body (SPEC 5). Bytes. */
#define GW_UPSTREAM_BODY_DEFAULT_BYTES ((size_t)64 * 1024 * 1024)
#define GW_UPSTREAM_BODY_MIN_BYTES ((size_t)64 * 1024)
#define GW_UPSTREAM_BODY_MAX_BYTES ((size_t)1024 * 1024 * 1024)
#define GW_BUFFER_BUDGET_DEFAULT_BYTES ((size_t)256 * 1024 * 1024)
#define GW_BUFFER_BUDGET_MAX_BYTES ((size_t)64 * 1024 * 1024 * 1024)

#endif
