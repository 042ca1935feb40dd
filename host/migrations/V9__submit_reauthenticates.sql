-- Version 9: one PostgreSQL round trip per submit_key in steady state.
--
-- The host may skip the separate authentication query of a submit_key when
-- the same API key authenticated within SUBMIT_AUTH_CACHE_SECONDS (default
-- 5). That is safe because the store call itself authenticates again: it
-- stores nothing unless the key, looked up by its hash at that moment, still
-- belongs to the tenant. A key revoked (or a tenant deleted) in between gets a
-- 401 and leaves no row; the enclave is told to forget the session.

DROP FUNCTION strongroom_submit(uuid, uuid, text, text, text, double precision, text,
                                bytea, text, text, text, text);

CREATE FUNCTION strongroom_submit(
    p_key_hash bytea,
    p_tenant uuid, p_session uuid, p_exchange text, p_label text, p_key_id text,
    p_expires_at double precision, p_stored_key_id text, p_sealed bytea,
    p_action text, p_outcome text, p_request_id text, p_client text)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    AS $$
    BEGIN
        IF strongroom_authenticate(p_key_hash) IS DISTINCT FROM p_tenant THEN
            RAISE EXCEPTION 'api key no longer valid' USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM set_config('strongroom.tenant_id', p_tenant::text, true);
        INSERT INTO sessions (id, tenant_id, exchange, label, key_id, expires_at)
            VALUES (p_session, p_tenant, p_exchange, p_label, p_key_id, to_timestamp(p_expires_at));
        INSERT INTO credentials (session_id, key_id, sealed)
            VALUES (p_session, p_stored_key_id, p_sealed);
        INSERT INTO audit_log (tenant_id, action, session_id, outcome, request_id, client)
            VALUES (p_tenant, p_action, p_session, p_outcome, p_request_id, p_client);
    END
    $$;

REVOKE ALL ON FUNCTION strongroom_submit(bytea, uuid, uuid, text, text, text, double precision,
                                         text, bytea, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION strongroom_submit(bytea, uuid, uuid, text, text, text, double precision,
                                            text, bytea, text, text, text, text) TO app_service;
