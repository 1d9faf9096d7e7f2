/* Fault-injection rules of the mock (POST /__mock/faults).
 *
 * A rule set is parsed once from the posted JSON into an immutable,
 * reference-counted struct mock_ruleset; the holder (struct mock_rules)
 * swaps the current set under a mutex. A request that matches takes a
 * reference to the set, so a rule it uses stays valid while its response is
 * still streaming even if the rules are replaced meanwhile. The only mutable
 * part, a rule's remaining count, changes under the holder's mutex.
 * Threads: any (MHD worker threads match; the control route replaces). */
#ifndef MOCK_RULES_H
#define MOCK_RULES_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>

#include "common/err.h"

#define MOCK_RULES_MAX 256   /* rules in one set */
#define MOCK_RULE_HEADERS_MAX 32

struct mock_header {
    char *name;  /* as given (a valid token) */
    char *value; /* no CR/LF */
};

/* One rule. Numbers are -1 when the field was absent. */
struct mock_rule {
    char *model;              /* only requests for this model; NULL = any */
    char *path;               /* only request paths ending with this; NULL = any */
    int status;               /* answer this status (>= 400: OpenAI error body); 0 = normal */
    long remaining;           /* matches left ("count"); -1 = unlimited. Holder's mutex. */
    char *retry_after;        /* Retry-After value, NULL = none */
    struct mock_header *headers; /* extra response headers */
    size_t nheaders;
    long delay_ms;            /* before the response headers */
    long chunk_delay_ms;      /* between stream chunks */
    long chunks;              /* content chunks of a stream */
    long reset_after_chunks;  /* close abruptly after this many chunks */
    int reset;                /* close without any response */
    long prompt_tokens;       /* usage override */
    long completion_tokens;   /* usage override */
    char *body;               /* raw body instead of the normal one; NULL = none */
    size_t body_len;
    int hang;                 /* never answer; hold until the client leaves */
    long first_chunk_delay_ms; /* headers at once, first content chunk after this */
    long stall_after_chunks;  /* after this many content chunks ... */
    long stall_ms;            /* ... wait this long, then */
    int stall_close;          /* ... close abruptly (else continue) */
    long error_after_chunks;  /* an error event after this many chunks, then end */
    long malformed_after_chunks; /* a malformed event after this many chunks */
    int no_done;              /* end the stream without "data: [DONE]" */
    const char *error_code;   /* a known OpenAI error code (static string); NULL = none */
    int refuse_trailing_assistant; /* 400 when the last message is the assistant's */
    int continuation;         /* continue a trailing assistant prefix of the text */
    char *text;               /* the answer text; NULL = "mock reply from <name> for <model>" */
    long fail_until_ms;       /* gw_now_ms() bound of "failForMs"; -1 = none */
};

/* The longest "text" of a rule (bytes). */
#define MOCK_RULE_TEXT_MAX 512

struct mock_ruleset {
    int refs;                 /* atomic (__atomic builtins) */
    size_t n;
    struct mock_rule *rules;
    json_t *source;           /* the document posted (own reference), for GET */
};

/* The current rule set. */
struct mock_rules {
    pthread_mutex_t lock;
    struct mock_ruleset *current; /* NULL = no rules */
};

/* Parses {"rules": [rule, ...]} (doc is borrowed) posted at now_ms
 * (gw_now_ms(): "failForMs" counts from it). Returns a new set with
 * one reference, or NULL with err filled (kind GW_ERR_INVALID naming the
 * field, e.g. "rules[2].status", or GW_ERR_NOMEM). Unknown fields are
 * refused so a typo in a test does not silently do nothing. */
struct mock_ruleset *mock_ruleset_parse(json_t *doc, long now_ms, struct gw_err *err);

/* Drops one reference; frees the set with the last. NULL is a no-op. */
void mock_ruleset_release(struct mock_ruleset *set);

void mock_rules_init(struct mock_rules *r);
/* Releases the current set. */
void mock_rules_cleanup(struct mock_rules *r);

/* Makes set current (takes ownership of the caller's reference; NULL clears
 * the rules) and releases the previous one. */
void mock_rules_replace(struct mock_rules *r, struct mock_ruleset *set);

/* First rule whose model and path filters accept (model, path), whose
 * count is not used up and whose "failForMs" window (if any) is still open
 * at now_ms (gw_now_ms()); consumes one of its count. Returns the rule with a
 * reference to its set in *hold (release it with mock_ruleset_release when
 * the response is done), or NULL (and *hold NULL) when none applies.
 * model and path may be NULL (then only rules without that filter match). */
const struct mock_rule *mock_rules_match(struct mock_rules *r, const char *model,
                                         const char *path, long now_ms,
                                         struct mock_ruleset **hold);

/* The current rules as posted: {"rules": [...]} (a new reference), or NULL
 * on allocation failure. */
json_t *mock_rules_to_json(struct mock_rules *r);

#endif
