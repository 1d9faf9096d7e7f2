/* The mock's embeddings: one deterministic vector per input, written as
 * OpenAI writes them, a JSON array of floats or, with encoding_format
 * "base64", the base64 of the vector's little-endian float32 bytes (what the
 * OpenAI SDKs ask for by default and decode).
 *
 * Component j of the vector of input i (both 0-based) is
 * (-1)^j * ((i + 1) / 8 + j / 1024): dyadic values that float32, float64 and
 * decimal text all hold exactly, so a client test can check every value
 * whichever encoding it asked for. Pure functions; any thread. */
#ifndef MOCK_EMBED_H
#define MOCK_EMBED_H

#include "common/buf.h"
#include "mock_reply.h"

/* Values per vector when the request names no "dimensions". */
#define MOCK_EMBED_DIMS 8
/* Bounds of a request: OpenAI's 2048 inputs and 3072 dimensions
 * (text-embedding-3-large), and at most this many values in all. */
#define MOCK_EMBED_INPUTS_MAX 2048
#define MOCK_EMBED_DIMS_MAX 3072
#define MOCK_EMBED_VALUES_MAX (1024L * 1024L)
/* A body of MOCK_EMBED_VALUES_MAX values fits in this. */
#define MOCK_EMBED_BODY_MAX ((size_t)32 * 1024 * 1024)

/* Component j of the vector of input i. */
float mock_embed_value(long i, long j);

/* {"object": "list", "data": [{"object": "embedding", "index": i,
 * "embedding": ...}, ...], "model", "usage"} for r->inputs inputs of
 * r->dimensions values (0: defaults), in base64 when r->base64. Returns 0,
 * or -1 when out refused (the caller bounds inputs x dimensions). */
int mock_embed_body(struct gw_buf *out, const struct mock_reply *r);

#endif
