/* The validation rules of the config contract, each stated once (SPEC 2.2,
 * 5). The control plane applies them to REST input (controlplane/jfield.c,
 * api_*.c) and the config model applies them to every snapshot
 * (common/config_json.c), in both binaries. Bounds are in limits.h.
 *
 * Every function checks one value and returns 0, or -1 with err filled
 * (GW_ERR_INVALID, code "invalid_field", err->field = field, a message that
 * starts with field and never repeats the value when it may be secret).
 * Strings are NUL-terminated. Pure functions, any thread. */
#ifndef GW_RULES_H
#define GW_RULES_H

#include <stddef.h>

#include "common/err.h"

/* A name: valid UTF-8, 1..max_chars code points, no control character. */
int gw_rule_name(const char *s, const char *field, size_t max_chars, struct gw_err *err);

/* No control character (C0, DEL, C1): text that becomes part of a header. */
int gw_rule_no_control(const char *s, const char *field, struct gw_err *err);

/* An HTTP header name: 1..max bytes of RFC 9110 tchar (0: no bound). */
int gw_rule_header_name(const char *s, const char *field, size_t max, struct gw_err *err);

/* An endpoint URL: http:// or https://, a host, at most GW_URL_MAX_BYTES,
 * no space or control character, no user or password ("user:pass@"), no
 * fragment ('#'). */
int gw_rule_url(const char *url, const char *field, struct gw_err *err);

/* A URL path (API basePath, operation target): starts with '/', printable
 * ASCII without space, '?', '#', '\\', no "//", no trailing '/' (except "/"
 * itself when allow_root), at most GW_PATH_MAX_BYTES. */
int gw_rule_path(const char *s, const char *field, int allow_root, struct gw_err *err);

/* A model name that becomes one segment of a URL path (an Azure-style
 * "{model}" endpoint): not empty, "." or "..", no '/', '\\', '?', '#', '%' and no
 * control character, so no dot segment or escape can move the request to
 * another upstream path. */
int gw_rule_path_segment(const char *s, const char *field, struct gw_err *err);

/* An OAuth scope an operation requires (RFC 6749 3.3 scope-token):
 * 1..GW_SCOPE_MAX_BYTES of %x21 / %x23-5B / %x5D-7E. */
int gw_rule_scope(const char *s, const char *field, struct gw_err *err);

/* An API version: 1..GW_VERSION_MAX_BYTES of A-Z a-z 0-9 . - _ */
int gw_rule_version(const char *s, const char *field, struct gw_err *err);

/* A secret value of len bytes: at most GW_SECRET_VALUE_MAX_BYTES, no NUL. */
int gw_rule_secret_value(const char *s, size_t len, const char *field, struct gw_err *err);

/* Endpoint tls.caCert / tls.clientCert: PEM text of at most
 * GW_PEM_MAX_BYTES holding one or more X.509 certificates and nothing
 * else. */
int gw_rule_pem_certs(const char *s, const char *field, struct gw_err *err);

/* The secret value behind an endpoint's tls.clientKey: one unencrypted
 * PEM private key (at most GW_SECRET_VALUE_MAX_BYTES, a secret value). The
 * message never quotes the value. */
int gw_rule_pem_key(const char *s, const char *field, struct gw_err *err);

/* A secret value that may be stored (SPEC 2.2 Secrets): free of control
 * characters (it may become a header value), or a PEM private key (for
 * tls.clientKey). Which use an endpoint makes of it is checked where the
 * endpoint and the value meet (gw_rule_no_control, gw_rule_pem_key). */
int gw_rule_secret_text(const char *s, const char *field, struct gw_err *err);

/* An integer in [min, max]. */
int gw_rule_range(long long v, long long min, long long max, const char *field,
                  struct gw_err *err);

/* firstTokenTimeoutMs / streamIdleTimeoutMs: 0 (off) or
 * GW_STREAM_TIMEOUT_MIN_MS..GW_STREAM_TIMEOUT_MAX_MS. */
int gw_rule_stream_timeout(long long v, const char *field, struct gw_err *err);

/* Index of s in names[0..n-1], or -1 with err ("field must be \"a\", \"b\"
 * or \"c\""). */
int gw_rule_enum(const char *s, const char *const *names, size_t n, const char *field,
                 struct gw_err *err);

#endif
