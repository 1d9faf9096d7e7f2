-- modelmux control plane, initial schema. Applied once by controlplane/migrate.c
-- (which records it in schema_migrations). Never edit an applied migration:
-- add NNN_next.sql instead.

-- The config revision: one row, bumped by every committed change.
CREATE TABLE config_revision (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
);
INSERT INTO config_revision (id, revision) VALUES (1, 1);

-- Control-plane settings (admin token hash).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE vendors (
    id               TEXT PRIMARY KEY,
    seq              INTEGER NOT NULL,
    name             TEXT NOT NULL UNIQUE,
    api_version      TEXT NOT NULL DEFAULT '',
    description      TEXT NOT NULL DEFAULT '',
    builtin          INTEGER NOT NULL DEFAULT 0,
    request_in       TEXT NOT NULL DEFAULT 'body' CHECK (request_in IN ('body', 'path')),
    request_field    TEXT NOT NULL DEFAULT 'model',
    response_in      TEXT NOT NULL DEFAULT 'body' CHECK (response_in IN ('body', 'path')),
    response_field   TEXT NOT NULL DEFAULT 'model',
    usage_prompt     TEXT NOT NULL DEFAULT 'usage.prompt_tokens',
    usage_completion TEXT NOT NULL DEFAULT 'usage.completion_tokens',
    usage_total      TEXT NOT NULL DEFAULT 'usage.total_tokens',
    auth_header      TEXT NOT NULL DEFAULT 'Authorization',
    auth_prefix      TEXT NOT NULL DEFAULT 'Bearer '
);

CREATE TABLE vendor_models (
    vendor_id TEXT NOT NULL REFERENCES vendors (id) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (vendor_id, name)
);

CREATE TABLE secrets (
    name TEXT PRIMARY KEY
);

CREATE TABLE secret_values (
    secret_name TEXT NOT NULL REFERENCES secrets (name) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (secret_name, key)
);

CREATE TABLE apis (
    id                      TEXT PRIMARY KEY,
    seq                     INTEGER NOT NULL,
    name                    TEXT NOT NULL,
    base_path               TEXT NOT NULL,
    version                 TEXT NOT NULL,
    default_version         INTEGER NOT NULL DEFAULT 0,
    vendor_id               TEXT NOT NULL REFERENCES vendors (id),
    subscription_validation INTEGER NOT NULL DEFAULT 0,
    operations              TEXT NOT NULL, -- JSON array, validated by the control plane
    UNIQUE (base_path, version)
);

-- secret_name has no foreign key: an endpoint may name a secret created later.
CREATE TABLE endpoints (
    id          TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL,
    api_id      TEXT NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    environment TEXT NOT NULL CHECK (environment IN ('production', 'sandbox')),
    url         TEXT NOT NULL,
    timeout_ms  INTEGER NOT NULL,
    secret_name TEXT,
    secret_key  TEXT,
    header      TEXT,
    prefix      TEXT,
    UNIQUE (api_id, name)
);
CREATE INDEX endpoints_secret ON endpoints (secret_name);

CREATE TABLE policies (
    id     TEXT PRIMARY KEY,
    seq    INTEGER NOT NULL,
    api_id TEXT NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    type   TEXT NOT NULL,
    body   TEXT NOT NULL -- JSON object (the REST shape without "id")
);
CREATE INDEX policies_api ON policies (api_id);

-- What each policy points at, for the "still in use" checks.
CREATE TABLE policy_refs (
    policy_id   TEXT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    model       TEXT NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES endpoints (id)
);
CREATE INDEX policy_refs_policy ON policy_refs (policy_id);
CREATE INDEX policy_refs_endpoint ON policy_refs (endpoint_id);
CREATE INDEX policy_refs_model ON policy_refs (model);

CREATE TABLE applications (
    id          TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    seq            INTEGER NOT NULL,
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    hash           TEXT NOT NULL UNIQUE,
    type           TEXT NOT NULL CHECK (type IN ('production', 'sandbox')),
    created_at     TEXT NOT NULL,
    expires_at     TEXT
);

CREATE TABLE subscriptions (
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    api_id         TEXT NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (application_id, api_id)
);
