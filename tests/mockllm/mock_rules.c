/* Fault-injection rules: parsing, matching, reference counting
 * (see mock_rules.h). */
#include "mock_rules.h"

#include "common/alloc.h"
#include "mock_reply.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Bounds of the numeric fields (a test asking for more is a typo). */
#define DELAY_MAX_MS 600000L
#define CHUNKS_MAX 100000L
#define TOKENS_MAX 1000000000L
#define COUNT_MAX 1000000000L
#define BODY_MAX (1024 * 1024)
#define STR_MAX 1024

/* ---- parsing ------------------------------------------------------------ */

static int bad(struct gw_err *err, const char *field, const char *what)
{
    return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field, "%s: %s", field, what);
}

static int nomem(struct gw_err *err)
{
    return gw_err_set(err, GW_ERR_NOMEM, "no_memory", NULL, "out of memory");
}

/* A string field (jansson string; integers accepted when allow_int, for
 * "retryAfter": 5) copied into *out. */
static int get_str(json_t *v, const char *field, size_t max, int allow_int, char **out,
                   size_t *outlen, struct gw_err *err)
{
    char num[32];
    const char *s;
    size_t n;
    if (json_is_string(v)) {
        s = json_string_value(v);
        n = json_string_length(v);
    } else if (allow_int && json_is_integer(v)) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        s = num;
        n = strlen(num);
    } else {
        return bad(err, field, "must be a string");
    }
    if (n > max)
        return bad(err, field, "too long");
    *out = gw_strndup(s, n);
    if (!*out)
        return nomem(err);
    if (outlen)
        *outlen = n;
    return 0;
}

static int get_long(json_t *v, const char *field, long min, long max, long *out,
                    struct gw_err *err)
{
    if (!json_is_integer(v))
        return bad(err, field, "must be an integer");
    json_int_t x = json_integer_value(v);
    if (x < min || x > max) {
        return gw_err_set(err, GW_ERR_INVALID, "invalid_field", field,
                          "%s: must be between %ld and %ld", field, min, max);
    }
    *out = (long)x;
    return 0;
}

/* Header names a rule may not set: MHD owns framing. */
static int reserved_header(const char *name)
{
    static const char *const reserved[] = {"content-length", "transfer-encoding", "connection"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcasecmp(name, reserved[i]) == 0)
            return 1;
    return 0;
}

static int valid_token(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c))
            return 0;
    }
    return 1;
}

static int valid_value(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 && *s != '\t')
            return 0;
    return 1;
}

static int parse_headers(json_t *obj, const char *where, struct mock_rule *rule, struct gw_err *err)
{
    char field[160];
    if (!json_is_object(obj))
        return bad(err, where, "must be an object of strings");
    size_t n = json_object_size(obj);
    if (n > MOCK_RULE_HEADERS_MAX)
        return bad(err, where, "too many headers");
    rule->headers = gw_calloc(n ? n : 1, sizeof(*rule->headers));
    if (!rule->headers)
        return nomem(err);
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        snprintf(field, sizeof(field), "%s.%s", where, key);
        if (!valid_token(key) || strlen(key) > 128)
            return bad(err, field, "not a valid header name");
        if (reserved_header(key))
            return bad(err, field, "header is managed by the server");
        struct mock_header *h = &rule->headers[rule->nheaders];
        h->name = gw_strdup(key);
        if (!h->name)
            return nomem(err);
        rule->nheaders++;
        if (get_str(val, field, STR_MAX, 1, &h->value, NULL, err) < 0)
            return -1;
        if (!valid_value(h->value))
            return bad(err, field, "control characters in header value");
    }
    return 0;
}

static int get_bool(json_t *v, const char *field, int *out, struct gw_err *err)
{
    if (!json_is_boolean(v))
        return bad(err, field, "must be a boolean");
    *out = json_is_true(v);
    return 0;
}

/* "stallThen": "continue" or "close". */
static int get_stall_then(json_t *v, const char *field, int *close, struct gw_err *err)
{
    const char *s = json_string_value(v);
    if (!s || (strcmp(s, "continue") != 0 && strcmp(s, "close") != 0))
        return bad(err, field, "must be \"continue\" or \"close\"");
    *close = strcmp(s, "close") == 0;
    return 0;
}

static int get_error_code(json_t *v, const char *field, const char **out, struct gw_err *err)
{
    const char *s = json_string_value(v);
    *out = s ? mock_reply_error_code_known(s) : NULL;
    if (!*out)
        return bad(err, field, "must be \"context_length_exceeded\" or \"content_policy_violation\"");
    return 0;
}

static int get_text(json_t *v, const char *field, char **out, struct gw_err *err)
{
    size_t n = 0;
    if (get_str(v, field, MOCK_RULE_TEXT_MAX, 0, out, &n, err) < 0)
        return -1;
    if (strlen(*out) != n)
        return bad(err, field, "must not contain NUL");
    return 0;
}

/* The fields of the stream and content faults (see README.md). Returns 1
 * when key is not one of them. */
static int parse_fault_field(const char *key, json_t *v, const char *field, long now_ms,
                             struct mock_rule *rule, struct gw_err *err)
{
    long ms = 0;
    if (strcmp(key, "hang") == 0)
        return get_bool(v, field, &rule->hang, err);
    if (strcmp(key, "firstChunkDelayMs") == 0)
        return get_long(v, field, 0, DELAY_MAX_MS, &rule->first_chunk_delay_ms, err);
    if (strcmp(key, "stallAfterChunks") == 0)
        return get_long(v, field, 0, CHUNKS_MAX, &rule->stall_after_chunks, err);
    if (strcmp(key, "stallMs") == 0)
        return get_long(v, field, 0, DELAY_MAX_MS, &rule->stall_ms, err);
    if (strcmp(key, "stallThen") == 0)
        return get_stall_then(v, field, &rule->stall_close, err);
    if (strcmp(key, "errorAfterChunks") == 0)
        return get_long(v, field, 0, CHUNKS_MAX, &rule->error_after_chunks, err);
    if (strcmp(key, "malformedAfterChunks") == 0)
        return get_long(v, field, 0, CHUNKS_MAX, &rule->malformed_after_chunks, err);
    if (strcmp(key, "noDone") == 0)
        return get_bool(v, field, &rule->no_done, err);
    if (strcmp(key, "errorCode") == 0)
        return get_error_code(v, field, &rule->error_code, err);
    if (strcmp(key, "refuseTrailingAssistant") == 0)
        return get_bool(v, field, &rule->refuse_trailing_assistant, err);
    if (strcmp(key, "continuation") == 0)
        return get_bool(v, field, &rule->continuation, err);
    if (strcmp(key, "text") == 0)
        return get_text(v, field, &rule->text, err);
    if (strcmp(key, "failForMs") == 0) {
        if (get_long(v, field, 0, 86400000L, &ms, err) < 0)
            return -1;
        rule->fail_until_ms = now_ms + ms;
        return 0;
    }
    return 1;
}

static int parse_rule(json_t *obj, size_t index, long now_ms, struct mock_rule *rule,
                      struct gw_err *err)
{
    char where[32], field[96];
    snprintf(where, sizeof(where), "rules[%zu]", index);
    rule->remaining = rule->delay_ms = rule->chunk_delay_ms = rule->chunks = -1;
    rule->reset_after_chunks = rule->prompt_tokens = rule->completion_tokens = -1;
    rule->first_chunk_delay_ms = rule->stall_after_chunks = rule->stall_ms = -1;
    rule->error_after_chunks = rule->malformed_after_chunks = rule->fail_until_ms = -1;
    if (!json_is_object(obj))
        return bad(err, where, "must be an object");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        long x = 0;
        int rc;
        snprintf(field, sizeof(field), "%s.%s", where, key);
        if (strcmp(key, "model") == 0) {
            rc = get_str(v, field, STR_MAX, 0, &rule->model, NULL, err);
        } else if (strcmp(key, "path") == 0) {
            rc = get_str(v, field, STR_MAX, 0, &rule->path, NULL, err);
        } else if (strcmp(key, "status") == 0) {
            rc = get_long(v, field, 200, 599, &x, err);
            rule->status = (int)x;
        } else if (strcmp(key, "count") == 0) {
            rc = get_long(v, field, 0, COUNT_MAX, &rule->remaining, err);
        } else if (strcmp(key, "retryAfter") == 0) {
            rc = get_str(v, field, 64, 1, &rule->retry_after, NULL, err);
            if (rc == 0 && !valid_value(rule->retry_after))
                rc = bad(err, field, "control characters");
        } else if (strcmp(key, "headers") == 0) {
            rc = parse_headers(v, field, rule, err);
        } else if (strcmp(key, "delayMs") == 0) {
            rc = get_long(v, field, 0, DELAY_MAX_MS, &rule->delay_ms, err);
        } else if (strcmp(key, "chunkDelayMs") == 0) {
            rc = get_long(v, field, 0, DELAY_MAX_MS, &rule->chunk_delay_ms, err);
        } else if (strcmp(key, "chunks") == 0) {
            rc = get_long(v, field, 1, CHUNKS_MAX, &rule->chunks, err);
        } else if (strcmp(key, "resetAfterChunks") == 0) {
            rc = get_long(v, field, 0, CHUNKS_MAX, &rule->reset_after_chunks, err);
        } else if (strcmp(key, "reset") == 0) {
            rc = get_bool(v, field, &rule->reset, err);
        } else if (strcmp(key, "promptTokens") == 0) {
            rc = get_long(v, field, 0, TOKENS_MAX, &rule->prompt_tokens, err);
        } else if (strcmp(key, "completionTokens") == 0) {
            rc = get_long(v, field, 0, TOKENS_MAX, &rule->completion_tokens, err);
        } else if (strcmp(key, "body") == 0) {
            rc = get_str(v, field, BODY_MAX, 0, &rule->body, &rule->body_len, err);
        } else {
            rc = parse_fault_field(key, v, field, now_ms, rule, err);
            if (rc == 1)
                rc = bad(err, field, "unknown field");
        }
        if (rc < 0)
            return -1;
    }
    if ((rule->stall_after_chunks >= 0) != (rule->stall_ms >= 0))
        return bad(err, where, "stallAfterChunks and stallMs go together");
    return 0;
}

static void rule_cleanup(struct mock_rule *rule)
{
    gw_free(rule->model);
    gw_free(rule->path);
    gw_free(rule->retry_after);
    gw_free(rule->body);
    gw_free(rule->text);
    for (size_t i = 0; i < rule->nheaders; i++) {
        gw_free(rule->headers[i].name);
        gw_free(rule->headers[i].value);
    }
    gw_free(rule->headers);
}

static void ruleset_free(struct mock_ruleset *set)
{
    for (size_t i = 0; i < set->n; i++)
        rule_cleanup(&set->rules[i]);
    gw_free(set->rules);
    json_decref(set->source);
    gw_free(set);
}

struct mock_ruleset *mock_ruleset_parse(json_t *doc, long now_ms, struct gw_err *err)
{
    struct mock_ruleset *set = NULL;
    json_t *list = json_is_object(doc) ? json_object_get(doc, "rules") : NULL; /* borrowed */
    if (!json_is_array(list)) {
        bad(err, "rules", "the body must be {\"rules\": [...]}");
        return NULL;
    }
    if (json_object_size(doc) != 1) {
        bad(err, "rules", "the body must have only the field \"rules\"");
        return NULL;
    }
    size_t n = json_array_size(list);
    if (n > MOCK_RULES_MAX) {
        bad(err, "rules", "too many rules");
        return NULL;
    }
    set = gw_calloc(1, sizeof(*set));
    if (!set)
        goto nomem;
    set->refs = 1;
    set->rules = gw_calloc(n ? n : 1, sizeof(*set->rules));
    set->source = json_deep_copy(doc); /* new reference */
    if (!set->rules || !set->source)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        set->n = i + 1; /* so a failure frees what parse_rule allocated */
        if (parse_rule(json_array_get(list, i), i, now_ms, &set->rules[i], err) < 0)
            goto fail;
    }
    set->n = n;
    return set;
nomem:
    nomem(err);
fail:
    if (set)
        ruleset_free(set);
    return NULL;
}

void mock_ruleset_release(struct mock_ruleset *set)
{
    if (set && __atomic_sub_fetch(&set->refs, 1, __ATOMIC_ACQ_REL) == 0)
        ruleset_free(set);
}

/* ---- the current set ---------------------------------------------------- */

void mock_rules_init(struct mock_rules *r)
{
    pthread_mutex_init(&r->lock, NULL);
    r->current = NULL;
}

void mock_rules_cleanup(struct mock_rules *r)
{
    mock_ruleset_release(r->current);
    r->current = NULL;
    pthread_mutex_destroy(&r->lock);
}

void mock_rules_replace(struct mock_rules *r, struct mock_ruleset *set)
{
    pthread_mutex_lock(&r->lock);
    struct mock_ruleset *old = r->current;
    r->current = set;
    pthread_mutex_unlock(&r->lock);
    mock_ruleset_release(old);
}

static int filter_ok(const char *want, const char *have, int suffix)
{
    if (!want)
        return 1;
    if (!have)
        return 0;
    if (!suffix)
        return strcmp(want, have) == 0;
    size_t wl = strlen(want), hl = strlen(have);
    return hl >= wl && memcmp(have + hl - wl, want, wl) == 0;
}

const struct mock_rule *mock_rules_match(struct mock_rules *r, const char *model,
                                         const char *path, long now_ms,
                                         struct mock_ruleset **hold)
{
    const struct mock_rule *found = NULL;
    *hold = NULL;
    pthread_mutex_lock(&r->lock);
    struct mock_ruleset *set = r->current;
    for (size_t i = 0; set && i < set->n; i++) {
        struct mock_rule *rule = &set->rules[i];
        if (rule->remaining == 0 || (rule->fail_until_ms >= 0 && now_ms >= rule->fail_until_ms) ||
            !filter_ok(rule->model, model, 0) ||
            !filter_ok(rule->path, path, 1))
            continue;
        if (rule->remaining > 0)
            rule->remaining--;
        __atomic_add_fetch(&set->refs, 1, __ATOMIC_ACQ_REL);
        *hold = set;
        found = rule;
        break;
    }
    pthread_mutex_unlock(&r->lock);
    return found;
}

json_t *mock_rules_to_json(struct mock_rules *r)
{
    json_t *out;
    pthread_mutex_lock(&r->lock);
    if (r->current)
        out = json_deep_copy(r->current->source);
    else
        out = json_pack("{s:[]}", "rules");
    pthread_mutex_unlock(&r->lock);
    return out;
}
