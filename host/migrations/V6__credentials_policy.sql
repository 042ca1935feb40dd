-- The credentials row-level policy, version 6: same rows visible, constant
-- cost per row.
--
-- V2 wrote the policy as `EXISTS (SELECT 1 FROM sessions s WHERE s.id =
-- credentials.session_id)`. PostgreSQL may turn such an EXISTS into a
-- *hashed* subplan, and did for revocation's `DELETE FROM credentials WHERE
-- session_id = $1` (a cached generic plan): every revoke then read every
-- session of the tenant (the sessions policy filters by tenant) into a hash
-- table, a cost that grows with the tenant's history (`scripts/bench
-- --profile` showed it; host/tests/db.rs checks the plans).
--
-- A scalar subquery is never hashed: it looks up the one session by primary
-- key and compares its tenant with the request's. A row is visible exactly
-- when its session exists and belongs to the current tenant, as before (the
-- sessions policy still applies inside the subquery, and a NULL tenant, i.e.
-- no session or none visible, compares as not true).

ALTER POLICY tenant_credentials ON credentials
    USING ((SELECT s.tenant_id FROM sessions s WHERE s.id = credentials.session_id)
           = strongroom_current_tenant())
    WITH CHECK ((SELECT s.tenant_id FROM sessions s WHERE s.id = credentials.session_id)
                = strongroom_current_tenant());
