-- Strongroom host schema, version 1.
-- The host is untrusted: nothing here is secret. `credentials` holds only what the
-- enclave needs to open a sealed credential again (HPKE enc, ciphertext, tag, key id).

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- API keys are stored only as SHA-256 hashes of high-entropy random keys.
CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key_hash    bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE sessions (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    exchange    text NOT NULL CHECK (octet_length(exchange) BETWEEN 1 AND 64),
    label       text NOT NULL CHECK (octet_length(label) BETWEEN 1 AND 128),
    key_id      text NOT NULL CHECK (octet_length(key_id) BETWEEN 1 AND 128),
    state       text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'revoked', 'expired')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    ended_at    timestamptz
);
CREATE INDEX sessions_tenant ON sessions (tenant_id);
CREATE INDEX sessions_expiry ON sessions (expires_at) WHERE state = 'active';

-- Exactly the sealed credential, nothing else (no tenant, no metadata, no plaintext).
CREATE TABLE credentials (
    session_id  uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    key_id      text NOT NULL CHECK (octet_length(key_id) BETWEEN 1 AND 128),
    enc         bytea NOT NULL CHECK (octet_length(enc) = 65),
    ciphertext  bytea NOT NULL CHECK (octet_length(ciphertext) BETWEEN 1 AND 8192),
    tag         bytea NOT NULL CHECK (octet_length(tag) = 16)
);

-- Signed aggregates (COSE_Sign1 bytes as the enclave produced them).
CREATE TABLE aggregates (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    session_id  uuid REFERENCES sessions (id) ON DELETE SET NULL,
    cose        bytea NOT NULL CHECK (octet_length(cose) BETWEEN 1 AND 1048576),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- RFC 9162 log: leaf hashes stay forever so proofs stay valid; the leaf data
-- (the aggregate) may be erased, leaving only its hash.
CREATE TABLE transparency_log (
    leaf_index    bigint PRIMARY KEY CHECK (leaf_index >= 0),
    leaf_hash     bytea NOT NULL CHECK (octet_length(leaf_hash) = 32),
    aggregate_id  uuid REFERENCES aggregates (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tree_heads (
    tree_size   bigint PRIMARY KEY CHECK (tree_size >= 0),
    root_hash   bytea NOT NULL CHECK (octet_length(root_hash) = 32),
    cose        bytea NOT NULL CHECK (octet_length(cose) BETWEEN 1 AND 65536),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Every state change; client addresses only as keyed-hash pseudonyms.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    tenant_id   uuid,
    action      text NOT NULL CHECK (octet_length(action) BETWEEN 1 AND 64),
    session_id  uuid,
    outcome     text NOT NULL CHECK (octet_length(outcome) BETWEEN 1 AND 64),
    request_id  text CHECK (octet_length(request_id) <= 64),
    client      text CHECK (octet_length(client) <= 64),
    detail      bigint
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Failed authentications per client pseudonym, shared by every host instance.
CREATE TABLE auth_failures (
    client        text PRIMARY KEY CHECK (octet_length(client) <= 64),
    failures      integer NOT NULL DEFAULT 0,
    window_start  timestamptz NOT NULL DEFAULT now(),
    locked_until  timestamptz
);

-- Host-side settings (e.g. the generated audit pseudonym key). Not for operators.
CREATE TABLE host_settings (
    name   text PRIMARY KEY,
    value  bytea NOT NULL
);
