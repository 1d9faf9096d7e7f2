/* Request ids (see reqid.h). The process prefix is made once
 * (pthread_once); everything else is pure. Any thread. */
#include "reqid.h"

#include "common/clock.h"
#include "common/crypto.h"
#include "common/fmt.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_once_t id_once = PTHREAD_ONCE_INIT;
static char id_prefix[17];

static void init_id_prefix(void)
{
    if (gw_random_hex(4, id_prefix, sizeof(id_prefix)) != 0)
        snprintf(id_prefix, sizeof(id_prefix), "%08lx", (unsigned long)gw_wall_ms());
}

static int id_acceptable(const char *v)
{
    size_t n = 0;
    for (; v[n]; n++) {
        char c = v[n];
        if (n >= 64 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return n > 0;
}

void dp_reqid_make(char out[DP_REQID_SIZE], const char *given, int index, uint64_t seq)
{
    if (given && id_acceptable(given)) {
        size_t n = strnlen(given, DP_REQID_SIZE - 1);
        memcpy(out, given, n);
        out[n] = '\0';
        return;
    }
    pthread_once(&id_once, init_id_prefix);
    _Static_assert(DP_REQID_SIZE >= sizeof(id_prefix) + 1 + 8 + 1 + 16,
                   "request id buffer too small");
    size_t n = strlen(id_prefix);
    memcpy(out, id_prefix, n);
    char *p = out + n;
    *p++ = '-';
    p = gw_fmt_u64(p, (unsigned)index, 16);
    *p++ = '-';
    p = gw_fmt_u64(p, seq, 16);
    *p = '\0';
}
