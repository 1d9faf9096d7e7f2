/* Mid-stream continuation (SPEC 3.1 step 6, midStreamFailover "continue"):
 * a /chat/completions stream (one choice, text deltas only) that breaks
 * after its first event goes on at the next target, which gets the
 * original request plus one assistant message holding the text already
 * sent, and whose events are relayed under the original stream's id, so
 * the caller sees one stream whose text reads on. A target that refuses
 * the trailing assistant message (400) is asked again without it, and
 * only what follows the text already sent is relayed, if its answer
 * begins with exactly that text.
 *
 * struct dp_cont lives in its request. It keeps the text sent (the SSE
 * scanner appends to it, body.h), builds the continuation's body, and
 * edits the continuation's events through the scanner's edit hook (the
 * id, the role-only first chunk, the prefix to skip). The request's state
 * machine (request.c) decides when to continue; this module never starts
 * a try. The request's worker thread. */
#ifndef DP_CONTINUATION_H
#define DP_CONTINUATION_H

#include "body.h"
#include "common/buf.h"

#include <stddef.h>

#define DP_CONT_TEXT_MAX (1024 * 1024) /* longer answers are not continued */

enum dp_cont_phase {
    DP_CONT_OFF,          /* no continuation (yet) */
    DP_CONT_WITH_TEXT,    /* the next target gets the text as an assistant message */
    DP_CONT_WITHOUT_TEXT  /* it refused that (400): the original request; the
                             text already sent is skipped from its answer */
};

struct dp_cont {
    enum dp_cont_phase phase;
    int watching;           /* the stream's text is being kept (eligible so far) */
    struct gw_buf text;     /* the answer text sent to the caller */
    char id[128];           /* the original stream's id */
    char reason[256];       /* why the stream first broke (the final error event) */
    size_t skip;            /* WITHOUT_TEXT: bytes of text still to find and skip */
    int mismatch;           /* ... the answer did not begin with the text */
    struct gw_buf body;     /* WITH_TEXT: the caller's body plus the message */
    struct dp_json_body json; /* ... parsed, for the forwarder */
    int has_json;
};

/* Prepares c (nothing kept yet). */
void dp_cont_init(struct dp_cont *c);
void dp_cont_cleanup(struct dp_cont *c);

/* A stream starts: when the policy continues (mode), the operation is
 * /chat/completions and the stream is SSE, scan keeps its text in c. */
void dp_cont_watch(struct dp_cont *c, struct dp_sse_scan *scan, enum gw_midstream mode,
                   const char *op_target, int sse);

/* 1 when the broken stream scan read can be continued: watched, one
 * choice, text deltas only, the text within DP_CONT_TEXT_MAX, and no
 * mismatch of an earlier continuation. */
int dp_cont_eligible(const struct dp_cont *c, const struct dp_sse_scan *scan);

/* Starts (or restarts, after another break) a continuation with the text:
 * remembers the stream's id and why it broke (the first time), builds the
 * body (the caller's JSON body data/len plus the assistant message) and
 * parses it with the vendor's model field. Returns 0, or -1 (out of
 * memory, a body without a "messages" array). */
int dp_cont_begin(struct dp_cont *c, const struct dp_sse_scan *scan, const char *reason,
                  const char *data, size_t len, const char *model_field);

/* The target refused the assistant message: ask it again with the
 * caller's own body, skipping the text already sent from its answer. */
void dp_cont_without_text(struct dp_cont *c);

/* A continuation's response streams: scan (freshly reset) relays its
 * events through c's edit and keeps appending the text to c. */
void dp_cont_attach(struct dp_cont *c, struct dp_sse_scan *scan);

/* The scanner's edit hook (body.h) for a continuation's events. */
int dp_cont_edit(void *arg, json_t *doc, struct gw_buf *out);

#endif
