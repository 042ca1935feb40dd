-- Version 18 (issue 18): a session remembers the exchange account its key
-- belongs to, as the enclave named it at submission when it checked the key
-- (protocol 5's `check_key`): the v2 account pseudonym (hex SHA-256, the
-- same `account` its results sign). NULL when the host ran without the
-- check (SUBMIT_CHECK_KEY=false) and for sessions stored before.

ALTER TABLE sessions ADD COLUMN account text CHECK (account ~ '^[0-9a-f]{64}$');

DROP FUNCTION strongroom_submit(bytea, uuid, uuid, text, text, text, double precision,
                                text, bytea, text, text, text, text, bytea);

CREATE FUNCTION strongroom_submit(
    p_key_hash bytea,
    p_tenant uuid, p_session uuid, p_exchange text, p_label text, p_key_id text,
    p_expires_at double precision, p_stored_key_id text, p_sealed bytea,
    p_action text, p_outcome text, p_request_id text, p_client text,
    p_credential bytea, p_account text)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    AS $$
    BEGIN
        IF strongroom_authenticate(p_key_hash) IS DISTINCT FROM p_tenant THEN
            RAISE EXCEPTION 'api key no longer valid' USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM set_config('strongroom.tenant_id', p_tenant::text, true);
        INSERT INTO sessions (id, tenant_id, exchange, label, key_id, expires_at, credential,
                              account)
            VALUES (p_session, p_tenant, p_exchange, p_label, p_key_id, to_timestamp(p_expires_at),
                    p_credential, p_account);
        INSERT INTO credentials (session_id, key_id, sealed)
            VALUES (p_session, p_stored_key_id, p_sealed);
        INSERT INTO audit_log (tenant_id, action, session_id, outcome, request_id, client)
            VALUES (p_tenant, p_action, p_session, p_outcome, p_request_id, p_client);
    END
    $$;

REVOKE ALL ON FUNCTION strongroom_submit(bytea, uuid, uuid, text, text, text, double precision,
                                         text, bytea, text, text, text, text, bytea, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION strongroom_submit(bytea, uuid, uuid, text, text, text, double precision,
                                            text, bytea, text, text, text, text, bytea, text)
    TO app_service;
