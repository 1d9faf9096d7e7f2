/* The claim on --listen (see portclaim.h). Main thread. */
#include "portclaim.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

static int fail(int fd, struct gw_err *err)
{
    int e = errno;
    if (fd >= 0)
        close(fd);
    return gw_err_set(err, GW_ERR_UNAVAILABLE, "listen", NULL, "cannot listen: %s", strerror(e));
}

int dp_port_claim(const struct sockaddr *addr, socklen_t addrlen, struct gw_err *err)
{
    int one = 1;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(fd, err);
    /* SO_REUSEADDR only lets the bind pass the TIME_WAIT connections of an
     * earlier run; it never lets two sockets listen. IPV6_V6ONLY as MHD
     * sets it on the workers' sockets (the group must match). */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (addr->sa_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0))
        return fail(fd, err);
    /* Order matters: SO_REUSEPORT set before listen() would let a second
     * data plane's claim, bound at the same moment, listen as well. */
    if (bind(fd, addr, addrlen) != 0 || listen(fd, DP_LISTEN_BACKLOG) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        return fail(fd, err);
    return fd;
}
