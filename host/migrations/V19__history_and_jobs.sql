-- Incremental history and computation jobs (issue 18), version 19.
--
-- trade_history: the enclave's sealed history segments of an exchange
-- account (protocol 5, SPEC §3.7/§3.8): AEAD ciphertext the host cannot
-- read, filed per tenant under the account pseudonym the enclave named.
-- The host hands every segment of the account back to the account's next
-- computation; the enclave then fetches only trades after their cursors.
-- A lost or withheld segment costs exchange weight, never completeness.
CREATE TABLE trade_history (
    id          bigserial PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account     text NOT NULL CHECK (account ~ '^[0-9a-f]{64}$'),
    sealed      bytea NOT NULL CHECK (octet_length(sealed) BETWEEN 1 AND 1048576),
    digest      bytea GENERATED ALWAYS AS (sha256(sealed)) STORED,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, account, digest)
);

-- compute_jobs: a computation that needs more exchange weight than one
-- minute allows (the enclave answered `pending`). The request is kept as
-- validated (no secret: the sealed credential stays in `credentials`); the
-- job runner asks again when `next_attempt_at` is due; `response` is the
-- 200 body of request_aggregates once the result is signed and logged.
CREATE TABLE compute_jobs (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    session_id       uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    request          jsonb NOT NULL,
    state            text NOT NULL DEFAULT 'running'
                     CHECK (state IN ('running', 'done', 'failed')),
    account          text CHECK (account ~ '^[0-9a-f]{64}$'),
    symbols_done     integer NOT NULL DEFAULT 0 CHECK (symbols_done >= 0),
    symbols_total    integer NOT NULL DEFAULT 0 CHECK (symbols_total >= 0),
    weight_used      bigint NOT NULL DEFAULT 0 CHECK (weight_used >= 0),
    attempts         integer NOT NULL DEFAULT 1,
    next_attempt_at  timestamptz NOT NULL,
    response         jsonb,
    error_code       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX compute_jobs_due ON compute_jobs (next_attempt_at) WHERE state = 'running';
CREATE INDEX compute_jobs_tenant ON compute_jobs (tenant_id, created_at);

GRANT SELECT, INSERT, DELETE ON trade_history TO app_service;
GRANT USAGE ON SEQUENCE trade_history_id_seq TO app_service;
GRANT SELECT, INSERT, UPDATE ON compute_jobs TO app_service;
GRANT SELECT ON compute_jobs TO operator_readonly;

ALTER TABLE trade_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE trade_history FORCE ROW LEVEL SECURITY;
ALTER TABLE compute_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE compute_jobs FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_trade_history ON trade_history TO app_service
    USING (tenant_id = strongroom_current_tenant())
    WITH CHECK (tenant_id = strongroom_current_tenant());
CREATE POLICY tenant_compute_jobs ON compute_jobs TO app_service
    USING (tenant_id = strongroom_current_tenant())
    WITH CHECK (tenant_id = strongroom_current_tenant());
CREATE POLICY operator_compute_jobs ON compute_jobs FOR SELECT TO operator_readonly USING (true);

DO $$
BEGIN
    EXECUTE format('CREATE POLICY owner_trade_history ON trade_history TO %I USING (true) WITH CHECK (true)', current_user);
    EXECUTE format('CREATE POLICY owner_compute_jobs ON compute_jobs TO %I USING (true) WITH CHECK (true)', current_user);
END
$$;

-- The job runner has no tenant: it claims due jobs through this function,
-- which leases each for `lease_seconds` (another instance does not take it
-- meanwhile; a crashed runner's lease simply runs out).
CREATE FUNCTION strongroom_claim_jobs(lease_seconds integer, max_rows integer)
    RETURNS TABLE (job_id uuid, tenant_id uuid)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
        UPDATE public.compute_jobs j
        SET next_attempt_at = now() + make_interval(secs => lease_seconds)
        WHERE j.id IN (
            SELECT d.id FROM public.compute_jobs d
            WHERE d.state = 'running' AND d.next_attempt_at <= now()
            ORDER BY d.next_attempt_at
            LIMIT max_rows
            FOR UPDATE SKIP LOCKED)
        RETURNING j.id, j.tenant_id
    $$;

-- The history is purged with the account's last live credential (revoked
-- or expired): a tenant's segments of an account go once none of the
-- tenant's active sessions is known to belong to that account (checked at
-- submit, V18, or through a result or a job of the session).
CREATE FUNCTION strongroom_purge_history() RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
        WITH gone AS (
            DELETE FROM public.trade_history h
            WHERE NOT EXISTS (
                SELECT 1 FROM public.sessions s
                WHERE s.tenant_id = h.tenant_id
                  AND s.state = 'active' AND s.expires_at > now()
                  AND (s.account = h.account
                       OR EXISTS (SELECT 1 FROM public.aggregates a
                               WHERE a.session_id = s.id AND a.account = h.account)
                       OR EXISTS (SELECT 1 FROM public.compute_jobs j
                                  WHERE j.session_id = s.id AND j.account = h.account)))
            RETURNING 1)
        SELECT count(*) FROM gone
    $$;

REVOKE ALL ON FUNCTION strongroom_claim_jobs(integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION strongroom_purge_history() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION strongroom_claim_jobs(integer, integer) TO app_service;
GRANT EXECUTE ON FUNCTION strongroom_purge_history() TO app_service;
