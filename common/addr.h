/* Parsing of HOST:PORT flag values (both binaries' --listen flags). */
#ifndef GW_ADDR_H
#define GW_ADDR_H

#include <netinet/in.h>

/* Parses "HOST:PORT" or "[v6]:PORT" (HOST may be a name, resolved with
 * getaddrinfo). Fills *out (sockaddr_in or sockaddr_in6) and *outlen.
 * Returns 0, or -1 with a one-line reason in why (size whylen). */
int gw_parse_hostport(const char *s, struct sockaddr_storage *out, socklen_t *outlen, char *why,
                      size_t whylen);

#endif
