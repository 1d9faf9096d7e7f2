/* The proxy environment read once (see proxyenv.h). Worker thread. */
#include "proxyenv.h"

#include "common/alloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The first of the variables that is set and not empty, copied; NULL when
 * none is. *failed is set when a copy could not be made. */
static char *first_env(const char *a, const char *b, int *failed)
{
    const char *v = getenv(a);
    if ((!v || !*v) && b)
        v = getenv(b);
    if (!v || !*v)
        return NULL;
    char *copy = gw_strdup(v);
    if (!copy)
        *failed = 1;
    return copy;
}

int dp_proxyenv_init(struct dp_proxyenv *p)
{
    int failed = 0;
    /* Upper-case HTTP_PROXY is ignored, as libcurl does (a CGI program's
     * environment carries the caller's "Proxy:" header under that name). */
    p->http = first_env("http_proxy", NULL, &failed);
    p->https = first_env("https_proxy", "HTTPS_PROXY", &failed);
    p->all = first_env("all_proxy", "ALL_PROXY", &failed);
    p->no_proxy = first_env("no_proxy", "NO_PROXY", &failed);
    if (failed) {
        dp_proxyenv_cleanup(p);
        return -1;
    }
    return 0;
}

void dp_proxyenv_cleanup(struct dp_proxyenv *p)
{
    gw_free(p->http);
    gw_free(p->https);
    gw_free(p->all);
    gw_free(p->no_proxy);
    memset(p, 0, sizeof(*p));
}

const char *dp_proxyenv_for(const struct dp_proxyenv *p, const char *url)
{
    const char *scheme_proxy = strncasecmp(url, "https://", 8) == 0  ? p->https
                               : strncasecmp(url, "http://", 7) == 0 ? p->http
                                                                      : NULL;
    if (scheme_proxy)
        return scheme_proxy;
    return p->all ? p->all : "";
}

void dp_proxyenv_apply(const struct dp_proxyenv *p, CURL *e, const char *url)
{
    curl_easy_setopt(e, CURLOPT_PROXY, dp_proxyenv_for(p, url));
    curl_easy_setopt(e, CURLOPT_NOPROXY, p->no_proxy ? p->no_proxy : "");
}
