-- JWT issuers (SPEC 2.2 "Issuers") and the applications' OAuth clients.
-- audiences and keys are JSON arrays as given (checked by common/jwk.c and
-- common/jwt_issuer.c); jwks_* is the state of the control plane's JWKS
-- fetch (controlplane/jwks_fetch.c): the last good document, its key ids,
-- the last error, and jwks_due, a counter bumped when a fetch is wanted.
CREATE TABLE issuers (
    id              TEXT PRIMARY KEY,
    seq             INTEGER NOT NULL,
    name            TEXT NOT NULL UNIQUE,
    issuer          TEXT NOT NULL,
    audiences       TEXT NOT NULL DEFAULT '[]',
    jwks_uri        TEXT,
    keys            TEXT NOT NULL DEFAULT '[]',
    client_claim    TEXT NOT NULL DEFAULT 'azp',
    jwks_doc        TEXT,
    jwks_kids       TEXT NOT NULL DEFAULT '[]',
    jwks_error      TEXT,
    jwks_fetched_at TEXT,
    jwks_checked_at INTEGER NOT NULL DEFAULT 0,
    jwks_due        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE oauth_clients (
    issuer_id      TEXT NOT NULL REFERENCES issuers (id),
    client_id      TEXT NOT NULL,
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    type           TEXT NOT NULL CHECK (type IN ('production', 'sandbox')),
    seq            INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (issuer_id, client_id)
);
CREATE INDEX oauth_clients_application ON oauth_clients (application_id);
