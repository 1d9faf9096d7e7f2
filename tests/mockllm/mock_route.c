/* Path suffix → OpenAI operation, Azure deployment segment → model
 * (see mock_route.h). */
#include "mock_route.h"

#include <string.h>

struct suffix {
    const char *text;
    enum mock_route route;
};

/* Longest first where one suffix ends another: "/chat/completions" must be
 * tried before "/completions". */
static const struct suffix suffixes[] = {
    {"/chat/completions", MOCK_ROUTE_CHAT},
    {"/completions", MOCK_ROUTE_COMPLETIONS},
    {"/responses", MOCK_ROUTE_RESPONSES},
    {"/embeddings", MOCK_ROUTE_EMBEDDINGS},
    {"/images/generations", MOCK_ROUTE_IMAGES},
    {"/audio/transcriptions", MOCK_ROUTE_TRANSCRIPTIONS},
    {"/audio/translations", MOCK_ROUTE_TRANSLATIONS},
};

enum mock_route mock_route_match(const char *path)
{
    if (!path)
        return MOCK_ROUTE_NONE;
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t n = strlen(suffixes[i].text);
        if (len >= n && memcmp(path + len - n, suffixes[i].text, n) == 0)
            return suffixes[i].route;
    }
    return MOCK_ROUTE_NONE;
}

const char *mock_route_name(enum mock_route r)
{
    switch (r) {
    case MOCK_ROUTE_CHAT:
        return "chat";
    case MOCK_ROUTE_COMPLETIONS:
        return "completions";
    case MOCK_ROUTE_RESPONSES:
        return "responses";
    case MOCK_ROUTE_EMBEDDINGS:
        return "embeddings";
    case MOCK_ROUTE_IMAGES:
        return "images";
    case MOCK_ROUTE_TRANSCRIPTIONS:
        return "transcriptions";
    case MOCK_ROUTE_TRANSLATIONS:
        return "translations";
    case MOCK_ROUTE_NONE:
        break;
    }
    return "none";
}

int mock_route_azure_model(const char *path, char *out, size_t outsz)
{
    static const char key[] = "/deployments/";
    if (outsz == 0)
        return -1;
    out[0] = '\0';
    const char *p = path ? strstr(path, key) : NULL;
    if (!p)
        return 0;
    p += sizeof(key) - 1;
    size_t n = strcspn(p, "/");
    if (n >= outsz)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return (int)n;
}
