/* File-descriptor limit (see fdlimit.h). */
#include "fdlimit.h"

#include <sys/resource.h>

unsigned long gw_fd_limit_raise(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit up = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    return rl.rlim_cur == RLIM_INFINITY ? (unsigned long)-1 : (unsigned long)rl.rlim_cur;
}

unsigned gw_conn_limit(unsigned long spare, unsigned min, unsigned max)
{
    struct rlimit rl;
    unsigned long fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                            ? (unsigned long)rl.rlim_cur
                            : (unsigned long)max + spare;
    unsigned long n = fds > spare ? fds - spare : 0;
    return n < min ? min : n > max ? max : (unsigned)n;
}
