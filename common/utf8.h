/* UTF-8 and text-character rules shared by both binaries: the one copy of
 * UTF-8 validation, code-point counting and the control-character and
 * HTTP-token classes (SPEC 2.2 names: "no control characters"; SPEC 5
 * header injection). Pure functions, any thread. */
#ifndef GW_UTF8_H
#define GW_UTF8_H

#include <stddef.h>

/* Length (1..4) of the well-formed UTF-8 sequence at s[0] within n bytes
 * (n >= 1), or 0 when it is not one (overlong forms, UTF-16 surrogates,
 * values above U+10FFFF, truncated sequences). On NUL-terminated text n may
 * simply be 4: the terminator fails the continuation check before anything
 * past it is read. Inline: the request-body scanner calls it per byte. */
static inline size_t gw_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    if (c < 0x80)
        return 1;
    len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0 || n < len)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    /* Overlong 3- and 4-byte forms, UTF-16 surrogates, above U+10FFFF. */
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return len;
}

/* 1 when the n bytes of s are well-formed UTF-8 (NUL bytes are ASCII here:
 * callers that need no NUL check it themselves), else 0. */
int gw_utf8_valid(const char *s, size_t n);

/* Number of code points of the NUL-terminated s (assumed valid UTF-8). */
size_t gw_utf8_len(const char *s);

/* Replaces every byte of s that is not part of valid UTF-8 with '?', in
 * place, so s can go into a JSON reply. */
void gw_utf8_scrub(char *s);

/* 1 when the NUL-terminated s holds a control character: C0 (U+0000 to
 * U+001F), DEL, or C1 (U+0080 to U+009F, encoded C2 80 to C2 9F). Such text
 * would let a name or a header value inject lines. */
int gw_has_control(const char *s);

/* 1 when c is an RFC 9110 tchar (letters, digits, !#$%&'*+-.^_`|~). */
int gw_is_tchar(unsigned char c);

#endif
