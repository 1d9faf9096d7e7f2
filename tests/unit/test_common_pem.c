/* PEM checks (common/pem.c), the TLS rules of common/rules.c, and an
 * endpoint's "tls" in the config model (common/config_json.c and
 * config_write.c), with hostile inputs. The fixtures are a throwaway
 * self-signed certificate and its key made for this test (openssl req
 * -x509 -newkey ec), and that key encrypted. */
#include "common/config.h"
#include "common/limits.h"
#include "common/pem.h"
#include "common/rules.h"

#include <jansson.h>

#include "testhelp.h"
#include "dp_snapshot.h"

static const char cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBczCCARmgAwIBAgIUNA5QTJ8SpviHvpBK6wgRan1u4dcwCgYIKoZIzj0EAwIw\n"
    "DzENMAsGA1UEAwwEdW5pdDAeFw0yNjEyMDUxNTE2MzBaFw0zNjEyMDIxNTE2MzBa\n"
    "MA8xDTALBgNVBAMMBHVuaXQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQjGYQF\n"
    "RHu8edskalPbkQHJX9d030J6fcMnFdOPIKyx3gTz0MUd+WrTlUcGJp8ZjWeD5zGg\n"
    "+Vvn2kSlWmACV3yoo1MwUTAdBgNVHQ4EFgQUMUf9RSz0zBlVVvz4nNCar84Zr6ww\n"
    "HwYDVR0jBBgwFoAUMUf9RSz0zBlVVvz4nNCar84Zr6wwDwYDVR0TAQH/BAUwAwEB\n"
    "/zAKBggqhkjOPQQDAgNIADBFAiAInYSwVeBGl5hGexl3gUiGUW/LIUKnl5rCLCSB\n"
    "y8awUQIhAL4uPAy2iFWyerqnMf5KZcmzjr3i6vEw2sIR4ZE6V1dE\n"
    "-----END CERTIFICATE-----\n";

static const char key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgK1+DSGEaGLXeG6i/\n"
    "kDDpqG3IUN+on8Y70oknBTyhPlahRANCAAQjGYQFRHu8edskalPbkQHJX9d030J6\n"
    "fcMnFdOPIKyx3gTz0MUd+WrTlUcGJp8ZjWeD5zGg+Vvn2kSlWmACV3yo\n"
    "-----END PRIVATE KEY-----\n";

static const char enc_key_pem[] =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
    "MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAgNwLsksn5uZgICCAAw\n"
    "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEOLnE0zgWUebhMbbfe2tFr8EgZA0\n"
    "yj7AuWQ85c5CIr7xHtTk2e59I3Mc/McOmkbR2qTjRwqPQpsGAELsmYGZ4Hn32u8j\n"
    "83S+ksVuN1vZA57wdW5Yn1TOA9r1XgwKo3FsdGUWXOjM4OUeGhdUMIGMbSqsW/6m\n"
    "k9+nAk+GO5Go3QWF6MTeCAZqeayRAZDjlF7rffizl9VAsaa03F6L+q+xYoCxXPY=\n"
    "-----END ENCRYPTED PRIVATE KEY-----\n";

static char *cat(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%s%s", a, b);
    return s;
}

TEST("pem: certificates counted, anything else refused")
{
    char *two = cat(cert_pem, cert_pem);
    char *with_key = cat(cert_pem, key_pem);
    char *text_around = cat("issuer: test\n", cert_pem);
    CHECK_INT(gw_pem_cert_count(cert_pem, strlen(cert_pem)), 1);
    CHECK_INT(gw_pem_cert_count(two, strlen(two)), 2);
    CHECK_INT(gw_pem_cert_count(text_around, strlen(text_around)), 1);
    CHECK_INT(gw_pem_cert_count(with_key, strlen(with_key)), -1);
    CHECK_INT(gw_pem_cert_count(key_pem, strlen(key_pem)), -1);
    CHECK_INT(gw_pem_cert_count("", 0), -1);
    CHECK_INT(gw_pem_cert_count("hello", 5), -1);
    CHECK_INT(gw_pem_cert_count(cert_pem, strlen(cert_pem) / 2), -1); /* cut */
    const char bad[] = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    CHECK_INT(gw_pem_cert_count(bad, strlen(bad)), -1);
    free(two);
    free(with_key);
    free(text_around);
}

TEST("pem: one unencrypted private key")
{
    char *two = cat(key_pem, key_pem);
    CHECK_INT(gw_pem_is_private_key(key_pem, strlen(key_pem)), 1);
    CHECK_INT(gw_pem_is_private_key(enc_key_pem, strlen(enc_key_pem)), 0); /* never prompts */
    CHECK_INT(gw_pem_is_private_key(cert_pem, strlen(cert_pem)), 0);
    CHECK_INT(gw_pem_is_private_key(two, strlen(two)), 0);
    CHECK_INT(gw_pem_is_private_key("sk-abc", 6), 0);
    CHECK_INT(gw_pem_is_private_key("", 0), 0);
    free(two);
}

TEST("rules: TLS material and secret text, messages never quote the value")
{
    struct gw_err err;
    CHECK_INT(gw_rule_pem_certs(cert_pem, "tls.caCert", &err), 0);
    CHECK_INT(gw_rule_pem_certs(key_pem, "tls.caCert", &err), -1);
    CHECK(strstr(err.message, "tls.caCert") == err.message);
    CHECK(strstr(err.message, "PRIVATE") == NULL);
    char *big = malloc(GW_PEM_MAX_BYTES + 2);
    memset(big, 'A', GW_PEM_MAX_BYTES + 1);
    big[GW_PEM_MAX_BYTES + 1] = '\0';
    CHECK_INT(gw_rule_pem_certs(big, "tls.caCert", &err), -1);
    free(big);
    CHECK_INT(gw_rule_pem_key(key_pem, "tls.clientKey", &err), 0);
    CHECK_INT(gw_rule_pem_key("sk-abc", "tls.clientKey", &err), -1);
    CHECK(strstr(err.message, "sk-abc") == NULL);
    CHECK_INT(gw_rule_secret_text("sk-abc", "k", &err), 0);
    CHECK_INT(gw_rule_secret_text(key_pem, "k", &err), 0);
    CHECK_INT(gw_rule_secret_text("sk-abc\n", "k", &err), -1);
    CHECK_INT(gw_rule_secret_text(cert_pem, "k", &err), -1); /* only a key may span lines */
}

/* basic.json with endpoint 0's "tls" set to tls (a new reference). */
static struct gw_cfg *with_tls(json_t *tls, struct gw_err *err)
{
    json_t *doc = snap_load("basic.json");
    snap_edit(doc, "apis[0].endpoints[0].tls", tls);
    struct gw_cfg *cfg = gw_cfg_from_json(doc, err);
    json_decref(doc);
    return cfg;
}

TEST("model: endpoint tls read, checked and written back")
{
    struct gw_err err;
    struct gw_cfg *cfg = with_tls(json_pack("{s:s, s:s, s:s}", "caCert", cert_pem, "clientCert",
                                            cert_pem, "clientKey", key_pem),
                                  &err);
    CHECK(cfg != NULL);
    if (cfg) {
        const struct gw_cfg_endpoint *e = &cfg->apis[0].endpoints[0];
        CHECK_STR(e->tls_ca_cert, cert_pem);
        CHECK_STR(e->tls_client_key, key_pem);
        CHECK(e->tls_missing_key == NULL);
        json_t *w = gw_cfg_to_json(cfg);
        json_t *api = json_array_get(json_object_get(w, "apis"), 0);
        json_t *ep = json_array_get(json_object_get(api, "endpoints"), 0);
        json_t *t = json_object_get(ep, "tls");
        CHECK_STR(json_string_value(json_object_get(t, "clientKey")), key_pem);
        json_decref(w);
    }
    gw_cfg_free(cfg);
    cfg = with_tls(json_pack("{s:s, s:s}", "clientCert", cert_pem, "missingClientKey", "s"), &err);
    CHECK(cfg != NULL && strcmp(cfg->apis[0].endpoints[0].tls_missing_key, "s") == 0);
    gw_cfg_free(cfg);
    cfg = with_tls(json_null(), &err);
    CHECK(cfg != NULL && cfg->apis[0].endpoints[0].tls_ca_cert == NULL);
    gw_cfg_free(cfg);
    json_t *bad[] = {
        json_pack("{}"),
        json_string("x"),
        json_pack("{s:s}", "caCert", "not pem"),
        json_pack("{s:s}", "caCert", key_pem),
        json_pack("{s:s}", "clientCert", cert_pem),
        json_pack("{s:s, s:s}", "caCert", cert_pem, "clientKey", key_pem),
        json_pack("{s:s, s:s}", "clientCert", cert_pem, "clientKey", "sk-abc"),
        json_pack("{s:s, s:s, s:s}", "clientCert", cert_pem, "clientKey", key_pem,
                  "missingClientKey", "s"),
        json_pack("{s:s, s:s}", "caCert", cert_pem, "extra", "x"),
        json_pack("{s:i}", "caCert", 1),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        gw_err_clear(&err);
        cfg = with_tls(bad[i], &err);
        CHECK(cfg == NULL);
        CHECK(strstr(err.message, "tls") != NULL || strstr(err.field, "tls") != NULL);
        CHECK(strstr(err.message, "PRIVATE") == NULL);
        gw_cfg_free(cfg);
    }
}

TEST_MAIN()
