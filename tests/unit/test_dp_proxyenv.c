/* Unit tests of dataplane/proxyenv.c: the proxy libcurl would pick from the
 * environment, read once: http:// only from lower-case http_proxy, https://
 * from https_proxy then HTTPS_PROXY, all_proxy/ALL_PROXY as the fallback,
 * "" when nothing is set, no_proxy/NO_PROXY kept; empty values are unset;
 * a change of the environment after the read changes nothing. */
#include "testhelp.h"

#include "dataplane/proxyenv.h"

#include <stdlib.h>

static void clear_env(void)
{
    const char *names[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                           "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        unsetenv(names[i]);
}

TEST("nothing set: no proxy for either scheme")
{
    clear_env();
    struct dp_proxyenv p;
    CHECK(dp_proxyenv_init(&p) == 0);
    CHECK_STR(dp_proxyenv_for(&p, "http://a/v1"), "");
    CHECK_STR(dp_proxyenv_for(&p, "https://a/v1"), "");
    CHECK(p.no_proxy == NULL);
    dp_proxyenv_cleanup(&p);
}

TEST("per scheme, libcurl's order; upper-case HTTP_PROXY ignored; read once")
{
    clear_env();
    setenv("HTTP_PROXY", "http://ignored:1", 1);
    setenv("HTTPS_PROXY", "http://upper-https:2", 1);
    setenv("ALL_PROXY", "http://all:3", 1);
    setenv("NO_PROXY", "localhost,.internal", 1);
    struct dp_proxyenv p;
    CHECK(dp_proxyenv_init(&p) == 0);
    CHECK_STR(dp_proxyenv_for(&p, "http://a/v1"), "http://all:3");
    CHECK_STR(dp_proxyenv_for(&p, "HTTPS://a/v1"), "http://upper-https:2");
    CHECK_STR(p.no_proxy, "localhost,.internal");
    setenv("http_proxy", "http://later:9", 1); /* after the read: not seen */
    CHECK_STR(dp_proxyenv_for(&p, "http://a/v1"), "http://all:3");
    dp_proxyenv_cleanup(&p);

    setenv("https_proxy", "http://lower-https:4", 1);
    setenv("no_proxy", "", 1); /* empty: as if unset, NO_PROXY is used */
    CHECK(dp_proxyenv_init(&p) == 0);
    CHECK_STR(dp_proxyenv_for(&p, "http://a/v1"), "http://later:9");
    CHECK_STR(dp_proxyenv_for(&p, "https://a/v1"), "http://lower-https:4");
    CHECK_STR(p.no_proxy, "localhost,.internal");
    dp_proxyenv_cleanup(&p);
    clear_env();
}

TEST_MAIN()
