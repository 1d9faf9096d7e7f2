/* Embedding vectors and their two encodings (see mock_embed.h). */
#include "mock_embed.h"

#include <stdint.h>
#include <string.h>

float mock_embed_value(long i, long j)
{
    float v = (float)(i + 1) / 8.0f + (float)j / 1024.0f;
    return j % 2 ? -v : v;
}

static int ok(enum gw_buf_result r)
{
    return r == GW_BUF_OK ? 0 : -1;
}

/* The vector as a JSON array of numbers. %.17g of a dyadic float prints
 * its exact decimal value, so the text parses back to the same float. */
static int vector_floats(struct gw_buf *out, long i, long dims)
{
    if (gw_buf_append(out, "[", 1) != GW_BUF_OK)
        return -1;
    for (long j = 0; j < dims; j++)
        if (gw_buf_printf(out, j ? ",%.17g" : "%.17g", (double)mock_embed_value(i, j)) != GW_BUF_OK)
            return -1;
    return ok(gw_buf_append(out, "]", 1));
}

/* Three bytes (n of them real, the rest 0) as four base64 characters. */
static int base64_group(struct gw_buf *out, const unsigned char t[3], size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4] = {b64[t[0] >> 2], b64[((t[0] & 3) << 4) | (t[1] >> 4)],
                 n > 1 ? b64[((t[1] & 15) << 2) | (t[2] >> 6)] : '=',
                 n > 2 ? b64[t[2] & 63] : '='};
    return ok(gw_buf_append(out, q, 4));
}

/* The vector as "<base64 of little-endian float32s>" (RFC 4648, padded). */
static int vector_base64(struct gw_buf *out, long i, long dims)
{
    unsigned char t[3] = {0, 0, 0};
    size_t have = 0;
    if (gw_buf_append(out, "\"", 1) != GW_BUF_OK)
        return -1;
    for (long j = 0; j < dims; j++) {
        float v = mock_embed_value(i, j);
        uint32_t bits;
        memcpy(&bits, &v, sizeof(bits));
        for (int k = 0; k < 4; k++) {
            t[have++] = (unsigned char)(bits >> (8 * k));
            if (have == 3) {
                if (base64_group(out, t, 3) < 0)
                    return -1;
                have = 0;
            }
        }
    }
    if (have > 0) {
        memset(t + have, 0, 3 - have);
        if (base64_group(out, t, have) < 0)
            return -1;
    }
    return ok(gw_buf_append(out, "\"", 1));
}

int mock_embed_body(struct gw_buf *out, const struct mock_reply *r)
{
    long n = r->inputs > 0 ? r->inputs : 1;
    long dims = r->dimensions > 0 ? r->dimensions : MOCK_EMBED_DIMS;
    if (gw_buf_append_str(out, "{\"object\":\"list\",\"data\":[") != GW_BUF_OK)
        return -1;
    for (long i = 0; i < n; i++) {
        if (gw_buf_printf(out, "%s{\"object\":\"embedding\",\"index\":%ld,\"embedding\":",
                          i ? "," : "", i) != GW_BUF_OK ||
            (r->base64 ? vector_base64(out, i, dims) : vector_floats(out, i, dims)) < 0 ||
            gw_buf_append(out, "}", 1) != GW_BUF_OK)
            return -1;
    }
    if (gw_buf_append_str(out, "],") != GW_BUF_OK || mock_reply_model_field(out, r) < 0)
        return -1;
    /* Embeddings have no completion: total = prompt, as OpenAI reports. */
    return ok(gw_buf_printf(out, ",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}}",
                            r->prompt_tokens, r->prompt_tokens));
}
