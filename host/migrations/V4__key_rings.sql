-- Keys that survive (issue 7): the sealed key ring, the instance registry and
-- key rotations, version 4.
--
-- Nothing here is plaintext key material: `key_rings.sealed` is the CBOR
-- SealedKeyRing the enclave produced (AES-256-GCM under the ring's data key;
-- the data key exists outside an enclave only wrapped by KMS, in `kms_blob`
-- inside that CBOR, or not at all).

-- Every version of every ring the enclaves produced; versions are never
-- rewritten, so an instance that loaded version N can always be compared.
CREATE TABLE key_rings (
    ring_id         bytea NOT NULL CHECK (octet_length(ring_id) = 16),
    ring_version    bigint NOT NULL CHECK (ring_version >= 1),
    sealed          bytea NOT NULL CHECK (octet_length(sealed) BETWEEN 1 AND 1048576),
    current_key_id  text NOT NULL CHECK (octet_length(current_key_id) BETWEEN 1 AND 128),
    key_ids         text[] NOT NULL,
    kms             boolean NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ring_id, ring_version)
);

-- The ring in use: one row, moved forward only under a row lock.
CREATE TABLE key_ring_state (
    id            boolean PRIMARY KEY DEFAULT true CHECK (id),
    ring_id       bytea NOT NULL,
    ring_version  bigint NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (ring_id, ring_version) REFERENCES key_rings (ring_id, ring_version)
);

-- Host+enclave pairs: heartbeats every few seconds; a peer is live while its
-- last_seen is recent. peer_url is where its key-sync listener answers.
CREATE TABLE instances (
    id            uuid PRIMARY KEY,
    peer_url      text CHECK (octet_length(peer_url) BETWEEN 1 AND 512),
    phase         text NOT NULL CHECK (phase IN ('booting', 'ready', 'unavailable')),
    ring_id       bytea CHECK (octet_length(ring_id) = 16),
    ring_version  bigint,
    current_key_id text CHECK (octet_length(current_key_id) <= 128),
    started_at    timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instances_last_seen ON instances (last_seen);

-- Rotations: requested by `strongroom-host keys rotate`, driven by whichever
-- host holds the rotation lock, resumable after any crash (every step is
-- recorded before the next begins).
CREATE TABLE key_rotations (
    id            bigserial PRIMARY KEY,
    state         text NOT NULL CHECK (state IN ('requested', 'added', 'resealing', 'retiring', 'done', 'failed')),
    ring_id       bytea CHECK (octet_length(ring_id) = 16),
    new_key_id    text CHECK (octet_length(new_key_id) <= 128),
    old_key_ids   text[],
    resealed      bigint NOT NULL DEFAULT 0,
    unusable      bigint NOT NULL DEFAULT 0,
    error         text CHECK (octet_length(error) <= 512),
    requested_at  timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
-- At most one rotation in progress.
CREATE UNIQUE INDEX key_rotations_one_active ON key_rotations ((true))
    WHERE state NOT IN ('done', 'failed');

CREATE INDEX credentials_key_id ON credentials (key_id);

GRANT SELECT, INSERT ON key_rings TO app_service;
GRANT SELECT, INSERT, UPDATE ON key_ring_state TO app_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON instances TO app_service;
GRANT SELECT, INSERT, UPDATE ON key_rotations TO app_service;
GRANT USAGE ON SEQUENCE key_rotations_id_seq TO app_service;
GRANT SELECT ON key_rings, key_ring_state, instances, key_rotations TO operator_readonly;

-- Re-sealing walks every tenant's credentials, which row-level security hides
-- from app_service outside a tenant's transaction: three narrow SECURITY
-- DEFINER functions instead of a policy that opens the table.

-- Up to `n` stored credentials sealed to none of `keep` (ciphertext only),
-- with the metadata the enclave checks.
CREATE FUNCTION strongroom_reseal_batch(keep text[], n integer)
    RETURNS TABLE (session_id uuid, key_id text, enc bytea, ciphertext bytea, tag bytea,
                   exchange text, label text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$
        SELECT c.session_id, c.key_id, c.enc, c.ciphertext, c.tag, s.exchange, s.label
        FROM credentials c JOIN sessions s ON s.id = c.session_id
        WHERE c.key_id <> ALL (keep)
        ORDER BY c.session_id
        LIMIT LEAST(GREATEST(n, 0), 256)
    $$;

-- Replaces one credential's envelope if it is still the one that was read
-- (same key id); false when it changed or vanished meanwhile.
CREATE FUNCTION strongroom_reseal_store(sid uuid, old_key_id text, new_key_id text,
                                        new_enc bytea, new_ciphertext bytea, new_tag bytea)
    RETURNS boolean
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public
    AS $$
        WITH u AS (
            UPDATE credentials SET key_id = new_key_id, enc = new_enc,
                   ciphertext = new_ciphertext, tag = new_tag
            WHERE session_id = sid AND key_id = old_key_id
            RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM u)
    $$;

-- How many stored credentials are sealed to none of `keep`.
CREATE FUNCTION strongroom_count_not_under(keep text[])
    RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$ SELECT count(*) FROM credentials WHERE key_id <> ALL (keep) $$;

REVOKE ALL ON FUNCTION strongroom_reseal_batch(text[], integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION strongroom_reseal_store(uuid, text, text, bytea, bytea, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION strongroom_count_not_under(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION strongroom_reseal_batch(text[], integer) TO app_service;
GRANT EXECUTE ON FUNCTION strongroom_reseal_store(uuid, text, text, bytea, bytea, bytea) TO app_service;
GRANT EXECUTE ON FUNCTION strongroom_count_not_under(text[]) TO app_service;
