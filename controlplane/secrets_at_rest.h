/* Secret values encrypted at rest (MODELMUX_SECRETS_KEY, SPEC 2).
 *
 * Without a key, secret values are stored as given. With a key, every value
 * in secret_values is sealed with AES-256-GCM (gw_seal: a random nonce per
 * value, the secret's name and key name as associated data, so a value
 * moved to another secret or key does not open), and the settings table
 * holds a key check (a known text sealed with the key): a database that
 * has one is "encrypted", and a start without the key, or with another
 * key, fails with one line.
 *
 * Readers do not see any of it: this module shadows the table with a TEMP
 * view of the same name (temp objects come first in SQLite's name lookup)
 * whose value column is opened on read, so snapshot.c reads
 * `secret_values` as before. Writers name the table itself and pass each
 * value through the SQL function this module registers:
 *
 *   INSERT INTO main.secret_values (secret_name, key, value)
 *   VALUES (?1, ?2, mm_secret_store(?1, ?2, ?3))
 *
 * (the view is read-only: a writer that forgets fails instead of storing
 * plain text). Without a key both functions pass values through.
 *
 * Main thread, once, after cp_db_open and before serving. */
#ifndef CP_SECRETS_AT_REST_H
#define CP_SECRETS_AT_REST_H

#include "common/err.h"

struct cp_db;

/* Sets up secret storage for db: registers mm_secret_store() and
 * mm_secret_load(), creates the view, and checks or converts the stored
 * values. key_text is MODELMUX_SECRETS_KEY (NULL or
 * "" for none), old_key_text MODELMUX_SECRETS_KEY_OLD (NULL or "").
 *
 *   no key, plain database       -> values stay plain, 0
 *   no key, encrypted database   -> -1 ("set MODELMUX_SECRETS_KEY")
 *   key, plain database          -> every value sealed, key check stored
 *                                   (one transaction), 0
 *   key, database sealed with it -> 0
 *   key, database sealed with the old key -> every value re-sealed with
 *                                   key, key check replaced (one
 *                                   transaction), 0
 *   key, any other key           -> -1 (wrong key)
 *
 * A key that is not 32 bytes in hex or base64 is GW_ERR_INVALID; the other
 * failures GW_ERR_INTERNAL. Messages never hold key material. */
int cp_secrets_at_rest_setup(struct cp_db *db, const char *key_text, const char *old_key_text,
                             struct gw_err *err);

#endif
