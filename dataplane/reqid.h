/* Request ids (x-request-id): the caller's when it is a safe token, else
 * "<process prefix>-<worker index, hex>-<sequence, hex>", unique in the
 * process and across restarts (the prefix is random). Any thread. */
#ifndef DP_REQID_H
#define DP_REQID_H

#include <stdint.h>

#define DP_REQID_SIZE 48 /* buffer size for an id, terminator included */

/* Writes the id of a request into out: given (the caller's x-request-id,
 * may be NULL) when it is 1 to 64 characters of [A-Za-z0-9._-] (cut to
 * the buffer), else a new one from the worker index and sequence number. */
void dp_reqid_make(char out[DP_REQID_SIZE], const char *given, int index, uint64_t seq);

#endif
