/* Integer formatting (see fmt.h). */
#include "fmt.h"

char *gw_fmt_u64(char *p, uint64_t u, unsigned base)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[u % base];
        u /= base;
    } while (u);
    while (n > 0)
        *p++ = digits[--n];
    return p;
}

char *gw_fmt_i64(char *p, int64_t v)
{
    if (v < 0)
        *p++ = '-';
    return gw_fmt_u64(p, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 10);
}
