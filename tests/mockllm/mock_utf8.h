/* UTF-8 validation for text the mock echoes into JSON (models from paths
 * and form fields, recorded bodies). Pure functions; any thread. */
#ifndef MOCK_UTF8_H
#define MOCK_UTF8_H

#include <stddef.h>

/* Length of the longest prefix of s (n bytes) that is valid UTF-8 (no
 * overlong forms, no surrogates, nothing above U+10FFFF). Embedded NULs
 * count as valid. */
size_t mock_utf8_valid_len(const char *s, size_t n);

/* A copy of s (n bytes) where every byte that does not start a valid UTF-8
 * sequence is replaced by '?'; NUL-terminated, length n. Caller frees with
 * gw_free. NULL when out of memory. */
char *mock_utf8_lossy(const char *s, size_t n);

#endif
