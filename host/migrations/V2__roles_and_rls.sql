-- Roles and row-level security.
--
-- app_service: what `strongroom-host serve` runs as. Not the owner of any table, so
--   row-level security applies to it; every request transaction sets
--   `strongroom.tenant_id` (SET LOCAL via set_config(..., true)) and sees only that
--   tenant's rows, even through a WHERE clause that forgot the tenant.
-- operator_readonly: reads everything except credentials and host settings.
--
-- Roles are cluster-wide while this migration runs once per database, so creation
-- tolerates a role that already exists (including one created concurrently).
DO $$
BEGIN
    BEGIN
        CREATE ROLE app_service LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    BEGIN
        CREATE ROLE operator_readonly LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO app_service, operator_readonly', current_database());
END
$$;

GRANT USAGE ON SCHEMA public TO app_service, operator_readonly;

-- The tenant of the current transaction, NULL when unset (then no tenant row is visible).
CREATE FUNCTION strongroom_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('strongroom.tenant_id', true), '')::uuid $$;

-- app_service privileges: the minimum each route needs.
GRANT SELECT, INSERT, UPDATE, DELETE ON sessions TO app_service;
GRANT SELECT, INSERT, DELETE ON credentials TO app_service;
GRANT SELECT, INSERT ON aggregates TO app_service;
GRANT SELECT, INSERT ON transparency_log, tree_heads TO app_service;
GRANT INSERT ON audit_log TO app_service;
GRANT USAGE ON SEQUENCE audit_log_id_seq TO app_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON auth_failures TO app_service;
GRANT SELECT, INSERT ON host_settings TO app_service;

-- operator_readonly: everything except credentials and host_settings.
GRANT SELECT ON tenants, api_keys, sessions, aggregates, transparency_log, tree_heads,
    audit_log, auth_failures TO operator_readonly;

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
ALTER TABLE credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE credentials FORCE ROW LEVEL SECURITY;
ALTER TABLE aggregates ENABLE ROW LEVEL SECURITY;
ALTER TABLE aggregates FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_sessions ON sessions TO app_service
    USING (tenant_id = strongroom_current_tenant())
    WITH CHECK (tenant_id = strongroom_current_tenant());
CREATE POLICY tenant_credentials ON credentials TO app_service
    USING (EXISTS (SELECT 1 FROM sessions s WHERE s.id = credentials.session_id))
    WITH CHECK (EXISTS (SELECT 1 FROM sessions s WHERE s.id = credentials.session_id));
CREATE POLICY tenant_aggregates ON aggregates TO app_service
    USING (tenant_id = strongroom_current_tenant())
    WITH CHECK (tenant_id = strongroom_current_tenant());

CREATE POLICY operator_sessions ON sessions FOR SELECT TO operator_readonly USING (true);
CREATE POLICY operator_aggregates ON aggregates FOR SELECT TO operator_readonly USING (true);

-- FORCE ROW LEVEL SECURITY binds the table owner too (unless it is a superuser):
-- the migrating role, which runs tenant administration and owns the SECURITY
-- DEFINER functions below, sees every row. It may also switch to app_service
-- (`SET ROLE`, the mode used when APP_DATABASE_URL is unset).
DO $$
BEGIN
    EXECUTE format('CREATE POLICY owner_sessions ON sessions TO %I USING (true) WITH CHECK (true)', current_user);
    EXECUTE format('CREATE POLICY owner_credentials ON credentials TO %I USING (true) WITH CHECK (true)', current_user);
    EXECUTE format('CREATE POLICY owner_aggregates ON aggregates TO %I USING (true) WITH CHECK (true)', current_user);
    EXECUTE format('GRANT app_service TO %I', current_user);
END
$$;

-- Authentication happens before a tenant is known: a narrow SECURITY DEFINER lookup
-- instead of read access to api_keys.
CREATE FUNCTION strongroom_authenticate(p_key_hash bytea) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
        SELECT k.tenant_id FROM public.api_keys k
        WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL
    $$;

-- The janitor works across tenants: it may only end expired sessions and drop
-- their ciphertext, returning what it ended for the audit log.
CREATE FUNCTION strongroom_purge_expired() RETURNS TABLE (session_id uuid, tenant_id uuid)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
        WITH ended AS (
            UPDATE public.sessions s SET state = 'expired', ended_at = now()
            WHERE s.state = 'active' AND s.expires_at <= now()
            RETURNING s.id, s.tenant_id
        ), purged AS (
            DELETE FROM public.credentials c USING ended e WHERE c.session_id = e.id
            RETURNING c.session_id
        )
        SELECT e.id, e.tenant_id FROM ended e
    $$;

REVOKE ALL ON FUNCTION strongroom_authenticate(bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION strongroom_purge_expired() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION strongroom_authenticate(bytea) TO app_service;
GRANT EXECUTE ON FUNCTION strongroom_purge_expired() TO app_service;
