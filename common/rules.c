/* The config contract's validation rules (see rules.h). */
#include "rules.h"

#include <stdio.h>
#include <string.h>

#include "common/limits.h"
#include "common/pem.h"
#include "common/utf8.h"

static int invalid(struct gw_err *err, const char *field, const char *fmt, const char *what)
{
    return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field, fmt, field, what);
}

int gw_rule_no_control(const char *s, const char *field, struct gw_err *err)
{
    if (gw_has_control(s))
        return invalid(err, field, "%s must not contain control characters%s", "");
    return 0;
}

int gw_rule_name(const char *s, const char *field, size_t max_chars, struct gw_err *err)
{
    if (!gw_utf8_valid(s, strlen(s)))
        return invalid(err, field, "%s must be valid UTF-8%s", "");
    size_t len = gw_utf8_len(s);
    if (len == 0 || (max_chars && len > max_chars))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field,
                          "%s must be 1 to %zu characters", field, max_chars);
    return gw_rule_no_control(s, field, err);
}

int gw_rule_header_name(const char *s, const char *field, size_t max, struct gw_err *err)
{
    size_t n = strlen(s);
    int ok = n >= 1 && (!max || n <= max);
    for (size_t i = 0; ok && i < n; i++)
        ok = gw_is_tchar((unsigned char)s[i]);
    if (!ok)
        return invalid(err, field,
                       "%s must be an HTTP header name (letters, digits, !#$%%&'*+-.^_`|~)%s", "");
    return 0;
}

int gw_rule_url(const char *url, const char *field, struct gw_err *err)
{
    size_t n = strlen(url);
    size_t scheme = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
    int ok = scheme && n > scheme && n <= GW_URL_MAX_BYTES && url[scheme] != '/';
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)url[i] > 0x20 && url[i] != 0x7f;
    if (!ok)
        return invalid(err, field, "%s must be an http:// or https:// URL with a host%s", "");
    size_t auth = strcspn(url + scheme, "/?#");
    if (memchr(url + scheme, '@', auth))
        return invalid(err, field, "%s must not hold a user or password (user:pass@)%s", "");
    if (strchr(url, '#'))
        return invalid(err, field, "%s must not hold a fragment ('#')%s", "");
    return 0;
}

int gw_rule_path(const char *s, const char *field, int allow_root, struct gw_err *err)
{
    size_t n = strlen(s);
    int ok = n >= 1 && n <= GW_PATH_MAX_BYTES && s[0] == '/' && !strstr(s, "//") &&
             (n == 1 ? allow_root : s[n - 1] != '/');
    for (size_t i = 0; ok && i < n; i++)
        ok = s[i] > 0x20 && s[i] < 0x7f && s[i] != '?' && s[i] != '#' && s[i] != '\\';
    if (!ok)
        return invalid(err, field,
                       "%s must be a URL path starting with '/' (printable ASCII, no '?', "
                       "'#', '//' or trailing '/')%s",
                       "");
    return 0;
}

int gw_rule_path_segment(const char *s, const char *field, struct gw_err *err)
{
    int ok = s[0] && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
    for (const unsigned char *p = (const unsigned char *)s; ok && *p; p++)
        ok = *p >= 0x20 && *p != 0x7f && !strchr("/\\?#%", *p);
    if (!ok)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field,
                          "%s goes into the upstream URL's path: it must not be empty, \".\" "
                          "or \"..\", nor contain '/', '\\', '?', '#', '%%' or control characters",
                          field);
    return 0;
}

int gw_rule_version(const char *s, const char *field, struct gw_err *err)
{
    size_t n = strlen(s);
    int ok = n >= 1 && n <= GW_VERSION_MAX_BYTES;
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
             (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-' || s[i] == '_';
    if (!ok)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field,
                          "%s must be 1 to %d of A-Z a-z 0-9 . - _", field, GW_VERSION_MAX_BYTES);
    return 0;
}

int gw_rule_scope(const char *s, const char *field, struct gw_err *err)
{
    size_t n = strlen(s);
    int ok = n >= 1 && n <= GW_SCOPE_MAX_BYTES;
    for (size_t i = 0; ok && i < n; i++)
        ok = s[i] > 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\';
    if (!ok)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field,
                          "%s must be 1 to %d printable ASCII characters without space, '\"' "
                          "or '\\' (an OAuth scope)",
                          field, GW_SCOPE_MAX_BYTES);
    return 0;
}

int gw_rule_secret_value(const char *s, size_t len, const char *field, struct gw_err *err)
{
    if (len > GW_SECRET_VALUE_MAX_BYTES || strlen(s) != len)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field,
                          "%s must be at most %d bytes, without NUL", field,
                          GW_SECRET_VALUE_MAX_BYTES);
    return 0;
}

int gw_rule_pem_certs(const char *s, const char *field, struct gw_err *err)
{
    size_t n = strlen(s);
    if (n > GW_PEM_MAX_BYTES)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field,
                          "%s must be at most %d bytes of PEM", field, GW_PEM_MAX_BYTES);
    if (gw_pem_cert_count(s, n) < 0)
        return invalid(err, field, "%s must be PEM certificates (-----BEGIN CERTIFICATE-----)%s",
                       " and nothing else");
    return 0;
}

int gw_rule_pem_key(const char *s, const char *field, struct gw_err *err)
{
    size_t n = strlen(s);
    if (n > GW_SECRET_VALUE_MAX_BYTES || !gw_pem_is_private_key(s, n))
        return invalid(err, field, "%s must be one unencrypted PEM private key%s", "");
    return 0;
}

int gw_rule_secret_text(const char *s, const char *field, struct gw_err *err)
{
    if (!gw_has_control(s) || gw_pem_is_private_key(s, strlen(s)))
        return 0;
    return invalid(err, field,
                   "%s must not contain control characters (unless it is a PEM private key)%s",
                   "");
}

int gw_rule_range(long long v, long long min, long long max, const char *field,
                  struct gw_err *err)
{
    if (v < min || v > max)
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field,
                          "%s must be between %lld and %lld", field, min, max);
    return 0;
}

int gw_rule_stream_timeout(long long v, const char *field, struct gw_err *err)
{
    if (v != 0 && (v < GW_STREAM_TIMEOUT_MIN_MS || v > GW_STREAM_TIMEOUT_MAX_MS))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field,
                          "%s must be 0 (off) or between %d and %d", field,
                          GW_STREAM_TIMEOUT_MIN_MS, GW_STREAM_TIMEOUT_MAX_MS);
    return 0;
}

int gw_rule_enum(const char *s, const char *const *names, size_t n, const char *field,
                 struct gw_err *err)
{
    char list[256];
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    list[0] = '\0';
    for (size_t i = 0; i < n && used < sizeof(list); i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(list + used, sizeof(list) - used, "%s\"%s\"", sep, names[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    gw_err_set(err, GW_ERR_INVALID, "invalid_field", field, "%s must be %s", field, list);
    return -1;
}
