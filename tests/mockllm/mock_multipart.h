/* Reading one text field out of a multipart/form-data body (the `model` of
 * an audio transcription or translation request).
 *
 * Only what the mock needs: find the boundary in the Content-Type, walk the
 * parts, match `Content-Disposition: form-data; name="<field>"` and return the
 * part's content. Binary parts (the audio file) are skipped, never copied.
 * Pure functions over caller buffers; any thread. */
#ifndef MOCK_MULTIPART_H
#define MOCK_MULTIPART_H

#include <stddef.h>

/* Copies the boundary parameter of a multipart/form-data Content-Type
 * (quoted or not) into out (size outsz). Returns its length, or -1 when the
 * type is not multipart/form-data, has no boundary, or it is longer than 70
 * characters (RFC 2046) or outsz - 1. */
int mock_multipart_boundary(const char *content_type, char *out, size_t outsz);

/* Finds the form field `name` in body (len bytes, need not be NUL-terminated)
 * split by boundary and copies its value into out (size outsz, NUL-terminated).
 * Returns the value's length; -1 when the field is absent or the body is
 * malformed; -2 when the value does not fit in out. */
int mock_multipart_field(const char *body, size_t len, const char *boundary, const char *name,
                         char *out, size_t outsz);

#endif
