/* Which OpenAI operation a request path names, and the model an Azure-style
 * path carries.
 *
 * The gateway calls `endpoint url + target`, so the operation is matched by
 * path suffix whatever the prefix ("/v1/chat/completions",
 * "/openai/deployments/gpt-4o/chat/completions"). Pure functions, no state,
 * callable from any thread. */
#ifndef MOCK_ROUTE_H
#define MOCK_ROUTE_H

#include <stddef.h>

enum mock_route {
    MOCK_ROUTE_NONE = 0,        /* not an OpenAI operation */
    MOCK_ROUTE_CHAT,            /* .../chat/completions */
    MOCK_ROUTE_COMPLETIONS,     /* .../completions (not chat) */
    MOCK_ROUTE_RESPONSES,       /* .../responses (the Responses API) */
    MOCK_ROUTE_EMBEDDINGS,      /* .../embeddings */
    MOCK_ROUTE_IMAGES,          /* .../images/generations */
    MOCK_ROUTE_TRANSCRIPTIONS,  /* .../audio/transcriptions */
    MOCK_ROUTE_TRANSLATIONS     /* .../audio/translations */
};

/* The operation path ends with (a trailing '/' is ignored), or
 * MOCK_ROUTE_NONE. path may be NULL. */
enum mock_route mock_route_match(const char *path);

/* Short name of a route ("chat", "completions", ...; "none"). */
const char *mock_route_name(enum mock_route r);

/* Copies the path segment after "/deployments/" (Azure OpenAI) into out
 * (size outsz, NUL-terminated). Returns its length, 0 when the path has no
 * deployment segment, or -1 when the segment does not fit in out. */
int mock_route_azure_model(const char *path, char *out, size_t outsz);

#endif
