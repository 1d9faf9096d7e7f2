/* The request log of the mock: every OpenAI-route request it received
 * (method, path, all headers, body up to 1 MiB, the model it saw), so tests
 * can assert what the gateway sent (GET /__mock/requests).
 *
 * A ring of the last MOCK_RECORD_MAX requests, also bounded in total bytes
 * (the oldest records go first). Each record is one allocation. A mutex
 * guards the ring: MHD worker threads add, the control routes read and
 * clear. */
#ifndef MOCK_RECORD_H
#define MOCK_RECORD_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>

#define MOCK_RECORD_MAX 10000
#define MOCK_RECORD_BODY_MAX (1024 * 1024)
#define MOCK_RECORD_BYTES_MAX ((size_t)256 * 1024 * 1024)

/* One header as MHD hands it over (borrowed). */
struct mock_record_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* What to record (all borrowed; copied by mock_recorder_add). */
struct mock_record_in {
    const char *method;
    const char *path;
    const char *model;                        /* NULL when none was found */
    const struct mock_record_header *headers;
    size_t nheaders;
    const char *body;                         /* may hold NULs */
    size_t body_len;                          /* bytes at body */
    size_t body_total;                        /* bytes received (>= body_len; a body
                                                 refused as too big is not kept) */
};

struct mock_record;

struct mock_recorder {
    pthread_mutex_t lock;
    struct mock_record **ring; /* MOCK_RECORD_MAX slots */
    size_t head;               /* slot of the oldest record */
    size_t count;
    size_t bytes;              /* sum of record sizes */
    unsigned long long seq;    /* number given to the next record */
};

/* Returns 0, or -1 when out of memory. */
int mock_recorder_init(struct mock_recorder *rec);
void mock_recorder_cleanup(struct mock_recorder *rec);

/* Copies in into a new record (header names lowercased, body cut at
 * MOCK_RECORD_BODY_MAX), evicting the oldest as needed. Returns 0, or -1 when
 * out of memory (nothing recorded). */
int mock_recorder_add(struct mock_recorder *rec, const struct mock_record_in *in);

/* Forgets every record. */
void mock_recorder_clear(struct mock_recorder *rec);

/* {"items": [...]} with the newest `limit` records, oldest first (limit 0 =
 * all). Each item: seq, method, path, headers {lowercase name: value,
 * repeated headers joined with ", "}, body (text; invalid UTF-8 bytes shown
 * as '?'), bodyLength, truncated, json (the parsed body or null), model (or
 * null). Returns a new reference, or NULL when out of memory. */
json_t *mock_recorder_to_json(struct mock_recorder *rec, size_t limit);

#endif
