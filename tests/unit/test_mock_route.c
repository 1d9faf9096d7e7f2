/* Unit tests of tests/mockllm/mock_route.c and mock_utf8.c (pure helpers). */
#include "testhelp.h"

#include "tests/mockllm/mock_route.h"
#include "tests/mockllm/mock_utf8.h"
#include "common/alloc.h"

TEST("route: suffix match under any prefix")
{
    CHECK_INT(mock_route_match("/chat/completions"), MOCK_ROUTE_CHAT);
    CHECK_INT(mock_route_match("/v1/chat/completions"), MOCK_ROUTE_CHAT);
    CHECK_INT(mock_route_match("/openai/deployments/x/chat/completions/"), MOCK_ROUTE_CHAT);
    CHECK_INT(mock_route_match("/v1/completions"), MOCK_ROUTE_COMPLETIONS);
    CHECK_INT(mock_route_match("/a/b/embeddings"), MOCK_ROUTE_EMBEDDINGS);
    CHECK_INT(mock_route_match("/v1/images/generations"), MOCK_ROUTE_IMAGES);
    CHECK_INT(mock_route_match("/v1/audio/transcriptions"), MOCK_ROUTE_TRANSCRIPTIONS);
    CHECK_INT(mock_route_match("/v1/audio/translations"), MOCK_ROUTE_TRANSLATIONS);
}

TEST("route: non-matches")
{
    CHECK_INT(mock_route_match(NULL), MOCK_ROUTE_NONE);
    CHECK_INT(mock_route_match(""), MOCK_ROUTE_NONE);
    CHECK_INT(mock_route_match("/"), MOCK_ROUTE_NONE);
    CHECK_INT(mock_route_match("/v1/models"), MOCK_ROUTE_NONE);
    CHECK_INT(mock_route_match("/v1/xcompletions"), MOCK_ROUTE_NONE);
    CHECK_INT(mock_route_match("/v1/chat/completions/extra"), MOCK_ROUTE_NONE);
    CHECK_INT(mock_route_match("completions"), MOCK_ROUTE_NONE);
    CHECK_STR(mock_route_name(MOCK_ROUTE_NONE), "none");
    CHECK_STR(mock_route_name(MOCK_ROUTE_CHAT), "chat");
}

TEST("route: azure deployment segment")
{
    char out[16];
    CHECK_INT(mock_route_azure_model("/openai/deployments/gpt-4o/chat/completions", out, sizeof(out)),
              6);
    CHECK_STR(out, "gpt-4o");
    CHECK_INT(mock_route_azure_model("/deployments/x", out, sizeof(out)), 1);
    CHECK_STR(out, "x");
    CHECK_INT(mock_route_azure_model("/v1/chat/completions", out, sizeof(out)), 0);
    CHECK_STR(out, "");
    CHECK_INT(mock_route_azure_model("/openai/deployments//chat", out, sizeof(out)), 0);
    CHECK_INT(mock_route_azure_model("/deployments/0123456789abcdef/chat", out, sizeof(out)), -1);
    CHECK_INT(mock_route_azure_model(NULL, out, sizeof(out)), 0);
    CHECK_INT(mock_route_azure_model("/deployments/x", out, 0), -1);
}

TEST("utf8: valid prefix")
{
    CHECK_INT(mock_utf8_valid_len("abc", 3), 3);
    CHECK_INT(mock_utf8_valid_len("h\xc3\xa9llo", 6), 6);
    CHECK_INT(mock_utf8_valid_len("\xe6\x97\xa5", 3), 3);
    CHECK_INT(mock_utf8_valid_len("\xf0\x9f\x98\x80", 4), 4);
    CHECK_INT(mock_utf8_valid_len("a\xff", 2), 1);
    CHECK_INT(mock_utf8_valid_len("a\xc3", 2), 1);          /* truncated */
    CHECK_INT(mock_utf8_valid_len("\xc0\xaf", 2), 0);       /* overlong */
    CHECK_INT(mock_utf8_valid_len("\xe0\x80\xaf", 3), 0);   /* overlong */
    CHECK_INT(mock_utf8_valid_len("\xed\xa0\x80", 3), 0);   /* surrogate */
    CHECK_INT(mock_utf8_valid_len("\xf4\x90\x80\x80", 4), 0); /* > U+10FFFF */
    CHECK_INT(mock_utf8_valid_len("a\0b", 3), 3);
}

TEST("utf8: lossy copy")
{
    char *s = mock_utf8_lossy("a\xff\xc3\xa9z\xc3", 6);
    CHECK(s != NULL);
    CHECK_STR(s, "a?\xc3\xa9z?");
    gw_free(s);
    gw_alloc_fail_after(0);
    CHECK(mock_utf8_lossy("x", 1) == NULL);
    gw_alloc_fail_after(-1);
}

TEST_MAIN()
