/* Unit tests of the sealing of secret values (common/crypto.c gw_seal,
 * gw_unseal, gw_seal_key_parse): round trip, a fresh nonce per value, and
 * refusal of another key, other associated data, altered or truncated
 * values; keys in hex and both base64 alphabets, nothing else. */
#include "testhelp.h"

#include "common/alloc.h"
#include "common/crypto.h"

#include <string.h>

static const char HEX_KEY[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

TEST("keys: 64 hex digits, or base64 of 32 bytes in either alphabet")
{
    unsigned char k[GW_SEAL_KEY_LEN], k2[GW_SEAL_KEY_LEN];
    CHECK_INT(gw_seal_key_parse(HEX_KEY, k), 0);
    CHECK(k[0] == 0x00 && k[1] == 0x11 && k[15] == 0xff && k[31] == 0xff);
    /* the same bytes in base64, padded and unpadded, and URL-safe */
    CHECK_INT(gw_seal_key_parse("ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=", k2), 0);
    CHECK(memcmp(k, k2, sizeof(k)) == 0);
    CHECK_INT(gw_seal_key_parse("ABEiM0RVZneImaq7zN3u_wARIjNEVWZ3iJmqu8zd7v8", k2), 0);
    CHECK(memcmp(k, k2, sizeof(k)) == 0);
    CHECK_INT(gw_seal_key_parse("00112233", k), -1);                    /* short hex */
    CHECK_INT(gw_seal_key_parse(HEX_KEY + 2, k), -1);                   /* 31 bytes */
    CHECK_INT(gw_seal_key_parse("ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8AAAA=", k), -1);
    CHECK_INT(gw_seal_key_parse("ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v!", k), -1);
    CHECK_INT(gw_seal_key_parse("", k), -1);
    CHECK_INT(gw_seal_key_parse(NULL, k), -1);
}

TEST("seal and unseal round trip; a fresh nonce every time")
{
    unsigned char k[GW_SEAL_KEY_LEN];
    CHECK_INT(gw_seal_key_parse(HEX_KEY, k), 0);
    const char *plain = "sk-upstream-secret-0123456789";
    char *a = gw_seal(k, "s\0key", 5, plain, strlen(plain));
    char *b = gw_seal(k, "s\0key", 5, plain, strlen(plain));
    CHECK(a && b && gw_is_sealed(a) && gw_is_sealed(b));
    CHECK(strcmp(a, b) != 0);
    CHECK(strstr(a, "secret") == NULL);
    size_t len = 0;
    char *back = gw_unseal(k, "s\0key", 5, a, &len);
    CHECK(back != NULL);
    CHECK_STR(back, plain);
    CHECK_INT(len, strlen(plain));
    gw_free(back);
    char *empty = gw_seal(k, "x", 1, "", 0);
    back = gw_unseal(k, "x", 1, empty, &len);
    CHECK(back != NULL && len == 0 && back[0] == '\0');
    gw_free(back);
    gw_free(empty);
    gw_free(a);
    gw_free(b);
}

TEST("unseal refuses another key, other associated data, altered or plain values")
{
    unsigned char k[GW_SEAL_KEY_LEN], other[GW_SEAL_KEY_LEN];
    CHECK_INT(gw_seal_key_parse(HEX_KEY, k), 0);
    memcpy(other, k, sizeof(k));
    other[7] ^= 1;
    char *s = gw_seal(k, "openai\0apiKey", 13, "value-1", 7);
    CHECK(s != NULL);
    CHECK(gw_unseal(other, "openai\0apiKey", 13, s, NULL) == NULL);
    CHECK(gw_unseal(k, "azure\0apiKey", 12, s, NULL) == NULL);
    CHECK(gw_unseal(k, "openai\0other", 12, s, NULL) == NULL);
    size_t n = strlen(s);
    for (size_t i = sizeof(GW_SEAL_MARKER) - 1; i < n; i++) {
        char saved = s[i];
        /* 'A' and 'Q' differ in a bit every position carries (the last
         * character before '=' has unused low bits) */
        s[i] = saved == 'A' ? 'Q' : 'A';
        CHECK(gw_unseal(k, "openai\0apiKey", 13, s, NULL) == NULL);
        s[i] = saved;
    }
    s[n - 4] = '\0'; /* truncated */
    CHECK(gw_unseal(k, "openai\0apiKey", 13, s, NULL) == NULL);
    CHECK(gw_unseal(k, "openai\0apiKey", 13, "value-1", NULL) == NULL);
    CHECK(gw_unseal(k, "openai\0apiKey", 13, GW_SEAL_MARKER, NULL) == NULL);
    CHECK(!gw_is_sealed("value-1") && !gw_is_sealed(NULL));
    gw_free(s);
}

TEST("sealing fails cleanly when memory runs out")
{
    unsigned char k[GW_SEAL_KEY_LEN];
    CHECK_INT(gw_seal_key_parse(HEX_KEY, k), 0);
    char *s = gw_seal(k, "a", 1, "v", 1);
    for (long n = 0; n < 4; n++) {
        gw_alloc_fail_after(n);
        char *t = gw_seal(k, "a", 1, "v", 1);
        char *u = gw_unseal(k, "a", 1, s, NULL);
        gw_alloc_fail_after(-1);
        gw_free(t);
        gw_free(u);
    }
    gw_free(s);
}

TEST_MAIN()
