/* libFuzzer target for the JWT code of common/: the token parser and
 * verifier, the JWKS and PEM key parsers.
 *
 * The first input byte picks what the rest is:
 *   0: a compact token, verified against a table with real RSA and EC keys;
 *   1: "<header JSON>\n<claims JSON>", signed with the table's P-256 key so
 *      that the claim checks behind the signature are reached too;
 *   2: a JWKS document; 3: a PEM public key.
 * Built with clang by tests/fuzz/run.sh (not part of make test); the normal
 * build links it with tests/fuzz/replay.c so it keeps compiling. */
#include "common/jwk.h"
#include "common/jwt.h"
#include "tests/unit/jwt_fixture.h"

#include <stdint.h>

#define NOW 1780000000LL

static struct gw_jwt_issuers *table(void)
{
    static struct gw_jwt_issuers *t;
    if (!t) {
        const char *auds[] = {"api-a", NULL};
        t = fx_table(auds, NULL);
    }
    return t;
}

static void verify(const char *token, size_t len)
{
    struct gw_jwt_claims c;
    struct gw_err err;
    enum gw_jwt_status s = gw_jwt_verify(table(), token, len, NOW, &c, &err);
    if (s == GW_JWT_OK) {
        const char *want[] = {"chat"};
        (void)gw_jwt_scopes_hold(c.scope, want, 1);
    } else if (c.scope || !err.message[0]) {
        abort(); /* a failure must leave no claims and say why */
    }
    gw_jwt_claims_cleanup(&c);
}

/* Signs "<header>\n<claims>" with the P-256 key and verifies the token. */
static void signed_claims(const char *text)
{
    const char *nl = strchr(text, '\n');
    if (!nl)
        return;
    char *header = strndup(text, (size_t)(nl - text));
    char *token = fx_token_raw(fx_keys()->ec256, "ES256", header, nl + 1, NULL);
    verify(token, strlen(token));
    free(token);
    free(header);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    const char *rest = (const char *)data + 1;
    size_t len = size - 1;
    char *text = strndup(rest, len); /* NUL-terminated copy for the text modes */
    struct gw_err err;
    switch (data[0] % 4) {
    case 0:
        verify(rest, len);
        break;
    case 1:
        signed_claims(text);
        break;
    case 2: {
        struct gw_jwks set;
        if (gw_jwks_parse(rest, len, &set, NULL, NULL, &err) == 0)
            gw_jwks_cleanup(&set);
        break;
    }
    default: {
        struct gw_jwk k;
        if (gw_jwk_from_pem(rest, len, &k, &err) == 0)
            gw_jwk_cleanup(&k);
        break;
    }
    }
    free(text);
    return 0;
}
