/* HOST:PORT parsing (see addr.h). */
#include "addr.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gw_parse_hostport(const char *s, struct sockaddr_storage *out, socklen_t *outlen, char *why,
                      size_t whylen)
{
    char host[256];
    const char *port;
    if (!s || !*s) {
        snprintf(why, whylen, "empty address, expected HOST:PORT");
        return -1;
    }
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host)) {
            snprintf(why, whylen, "'%s' is not [IPv6]:PORT", s);
            return -1;
        }
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof(host)) {
            snprintf(why, whylen, "'%s' is not HOST:PORT", s);
            return -1;
        }
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port = colon + 1;
    }
    char *endp;
    long p = strtol(port, &endp, 10);
    if (!*port || *endp || p < 0 || p > 65535) {
        snprintf(why, whylen, "'%s': port must be a number 0-65535", s);
        return -1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(why, whylen, "'%s': cannot resolve host: %s", s, gai_strerror(rc));
        return -1;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *outlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}
