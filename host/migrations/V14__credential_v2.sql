-- Version 14: credential v2 (issue 17; DESIGN.md "Credential v2", "Public
-- results").
--
-- 1. A session remembers its credential's id (SHA-256 of the sealed bytes
--    as the client submitted them: the enclave keeps that id across its own
--    re-seals, so it is taken at submission, never recomputed from the
--    stored, possibly re-sealed, bytes).
-- 2. A result remembers the `credential` and `owner` its signed payload
--    names, so an owner-signed `publish` finds every result of a credential.
-- 3. Published credentials: the owner's `publish` authorization, checked by
--    the host (signature, credential, time) before it is stored. A result is
--    published when it is stored if its payload's policy says `publish`, or
--    if its credential is here with the same owner; an authorization stored
--    later publishes the earlier results through `strongroom_publish` (the
--    serving role still has no UPDATE on `aggregates`).
-- 4. Log leaves that are not results (revocation entries) keep their bytes
--    in the log row itself: they belong to no tenant and are never erased.
-- 5. Revoked credentials, written in the transaction that logs the
--    revocation entry (under the log's lock): a result naming one is never
--    appended after it, even by an instance whose enclave has not reloaded
--    the ring yet (an honest host's guard; the enclave refuses on its own).

ALTER TABLE sessions ADD COLUMN credential bytea
    CHECK (credential IS NULL OR octet_length(credential) = 32);

ALTER TABLE aggregates ADD COLUMN credential text CHECK (credential ~ '^[0-9a-f]{64}$');
ALTER TABLE aggregates ADD COLUMN owner text CHECK (owner ~ '^[0-9a-f]{64}$');
CREATE INDEX aggregates_credential ON aggregates (credential) WHERE credential IS NOT NULL;

CREATE TABLE published_credentials (
    credential          text NOT NULL CHECK (credential ~ '^[0-9a-f]{64}$'),
    -- Keyed by owner too: an authorization signed by some other key (sent
    -- before the credential has a result to compare with) publishes nothing
    -- and cannot block the real owner's.
    owner               text NOT NULL CHECK (owner ~ '^[0-9a-f]{64}$'),
    -- The owner's COSE_Sign1 `publish` action: public (it carries the
    -- owner's public key and signature, nothing secret).
    owner_authorization bytea NOT NULL CHECK (octet_length(owner_authorization) <= 16384),
    published_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (credential, owner)
);
GRANT SELECT ON published_credentials TO app_service, operator_readonly;

ALTER TABLE transparency_log ADD COLUMN entry bytea;
ALTER TABLE transparency_log_archive ADD COLUMN entry bytea;
ALTER TABLE transparency_log ADD CONSTRAINT transparency_log_one_source
    CHECK (entry IS NULL OR aggregate_id IS NULL);

CREATE TABLE revoked_credentials (
    credential  text PRIMARY KEY CHECK (credential ~ '^[0-9a-f]{64}$'),
    -- Leaf index of its (first) revocation entry in the live log.
    leaf_index  bigint NOT NULL CHECK (leaf_index >= 0),
    revoked_at  timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT ON revoked_credentials TO app_service;
GRANT SELECT ON revoked_credentials TO operator_readonly;

-- Stores the authorization (the first one per credential and owner) and
-- publishes the credential's stored results whose owner matches. Returns how
-- many results it published now.
CREATE FUNCTION strongroom_publish(p_credential text, p_owner text, p_authorization bytea)
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
    DECLARE
        n bigint;
    BEGIN
        INSERT INTO published_credentials (credential, owner, owner_authorization)
            VALUES (p_credential, p_owner, p_authorization)
            ON CONFLICT (credential, owner) DO NOTHING;
        UPDATE aggregates SET published = true
            WHERE credential = p_credential AND owner = p_owner AND NOT published;
        GET DIAGNOSTICS n = ROW_COUNT;
        RETURN n;
    END
    $$;
REVOKE ALL ON FUNCTION strongroom_publish(text, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION strongroom_publish(text, text, bytea) TO app_service;

-- Entry bundles serve a revocation entry's bytes like a result's.
CREATE OR REPLACE FUNCTION strongroom_log_entries(p_first bigint, p_count integer)
    RETURNS TABLE (leaf_index bigint, leaf_hash bytea, cose bytea)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
    BEGIN
        RETURN QUERY
            SELECT l.leaf_index, l.leaf_hash, COALESCE(a.cose, l.entry)
            FROM public.transparency_log l
            LEFT JOIN public.aggregates a ON a.id = l.aggregate_id
            WHERE l.leaf_index >= p_first
              AND l.leaf_index < p_first + LEAST(GREATEST(p_count, 0), 256)
            ORDER BY l.leaf_index;
    END
    $$;

-- Submission stores the credential id too.
DROP FUNCTION strongroom_submit(bytea, uuid, uuid, text, text, text, double precision,
                                text, bytea, text, text, text, text);

CREATE FUNCTION strongroom_submit(
    p_key_hash bytea,
    p_tenant uuid, p_session uuid, p_exchange text, p_label text, p_key_id text,
    p_expires_at double precision, p_stored_key_id text, p_sealed bytea,
    p_action text, p_outcome text, p_request_id text, p_client text,
    p_credential bytea)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    AS $$
    BEGIN
        IF strongroom_authenticate(p_key_hash) IS DISTINCT FROM p_tenant THEN
            RAISE EXCEPTION 'api key no longer valid' USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM set_config('strongroom.tenant_id', p_tenant::text, true);
        INSERT INTO sessions (id, tenant_id, exchange, label, key_id, expires_at, credential)
            VALUES (p_session, p_tenant, p_exchange, p_label, p_key_id, to_timestamp(p_expires_at),
                    p_credential);
        INSERT INTO credentials (session_id, key_id, sealed)
            VALUES (p_session, p_stored_key_id, p_sealed);
        INSERT INTO audit_log (tenant_id, action, session_id, outcome, request_id, client)
            VALUES (p_tenant, p_action, p_session, p_outcome, p_request_id, p_client);
    END
    $$;

REVOKE ALL ON FUNCTION strongroom_submit(bytea, uuid, uuid, text, text, text, double precision,
                                         text, bytea, text, text, text, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION strongroom_submit(bytea, uuid, uuid, text, text, text, double precision,
                                            text, bytea, text, text, text, text, bytea) TO app_service;
