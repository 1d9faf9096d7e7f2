/* The proxy environment of upstream transfers, read once.
 *
 * libcurl looks up http_proxy, https_proxy, all_proxy and no_proxy in the
 * environment for every transfer that has no CURLOPT_PROXY / NOPROXY of its
 * own (getenv and string compares on the hot path). The data plane keeps
 * libcurl's meaning of those variables but reads them once, when a worker
 * starts: dp_proxyenv_apply sets both options on every transfer, to the
 * proxy libcurl would have chosen for the URL's scheme or to "" (none).
 *
 * libcurl's choice: http:// uses http_proxy (lower case only), https://
 * https_proxy then HTTPS_PROXY, both fall back to all_proxy then ALL_PROXY;
 * no_proxy then NO_PROXY lists the hosts that go direct. Worker thread. */
#ifndef DP_PROXYENV_H
#define DP_PROXYENV_H

#include <curl/curl.h>

struct dp_proxyenv {
    char *http;  /* NULL: none */
    char *https;
    char *all;
    char *no_proxy;
};

/* Reads the environment. Returns 0, or -1 when out of memory (then every
 * field is NULL). */
int dp_proxyenv_init(struct dp_proxyenv *p);
void dp_proxyenv_cleanup(struct dp_proxyenv *p);

/* The proxy for url ("" for none: never NULL). */
const char *dp_proxyenv_for(const struct dp_proxyenv *p, const char *url);

/* Sets CURLOPT_PROXY and CURLOPT_NOPROXY on e for a transfer to url. */
void dp_proxyenv_apply(const struct dp_proxyenv *p, CURL *e, const char *url);

#endif
