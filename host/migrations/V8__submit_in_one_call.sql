-- Version 8: the submit path's statements as server-side calls whose plans
-- PostgreSQL caches (issue 14, "submit_key at 0.8 of its ceiling").
--
-- A LANGUAGE sql function that cannot be inlined (SECURITY DEFINER, or a SET
-- clause) is parsed and planned again on every call; PL/pgSQL prepares each
-- statement once per connection and keeps its plan. Behaviour is unchanged:
-- same arguments, same answers, same privileges.

-- The key lookup (V2), now with a cached plan. `key_hash` is UNIQUE, so the
-- scalar subquery returns at most one row, as the SQL version did.
CREATE OR REPLACE FUNCTION strongroom_authenticate(p_key_hash bytea) RETURNS uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
    BEGIN
        RETURN (SELECT k.tenant_id FROM public.api_keys k
                WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL);
    END
    $$;

-- What an accepted submission stores, in one call (one round trip, one
-- implicit transaction): the tenant scope for row-level security (SET LOCAL:
-- it ends with the statement's transaction), the session, its sealed
-- credential and the audit row: together or not at all. SECURITY INVOKER: it
-- runs as app_service, under the same policies as the separate statements did.
CREATE FUNCTION strongroom_submit(
    p_tenant uuid, p_session uuid, p_exchange text, p_label text, p_key_id text,
    p_expires_at double precision, p_stored_key_id text, p_sealed bytea,
    p_action text, p_outcome text, p_request_id text, p_client text)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    AS $$
    BEGIN
        PERFORM set_config('strongroom.tenant_id', p_tenant::text, true);
        INSERT INTO sessions (id, tenant_id, exchange, label, key_id, expires_at)
            VALUES (p_session, p_tenant, p_exchange, p_label, p_key_id, to_timestamp(p_expires_at));
        INSERT INTO credentials (session_id, key_id, sealed)
            VALUES (p_session, p_stored_key_id, p_sealed);
        INSERT INTO audit_log (tenant_id, action, session_id, outcome, request_id, client)
            VALUES (p_tenant, p_action, p_session, p_outcome, p_request_id, p_client);
    END
    $$;

REVOKE ALL ON FUNCTION strongroom_submit(uuid, uuid, text, text, text, double precision, text,
                                         bytea, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION strongroom_submit(uuid, uuid, text, text, text, double precision, text,
                                            bytea, text, text, text, text) TO app_service;
