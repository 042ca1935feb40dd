-- Daily snapshots (issue 19), version 16.
--
-- Once a UTC day the host asks the enclave for one result of every active
-- account: the account's newest result (any tenant's) is older than the
-- day's start and it still has a live session. The scheduler runs without
-- a tenant, so it finds them through this SECURITY DEFINER function, which
-- hands out per account only (tenant, session, the newest result's COSE
-- bytes: the host reads the signed policy from it, and computes only where
-- the trader's interval allows a daily computation).
CREATE FUNCTION strongroom_daily_candidates(day_start timestamptz, max_rows integer)
    RETURNS TABLE (tenant_id uuid, session_id uuid, cose bytea)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
        SELECT DISTINCT ON (a.account) a.tenant_id, a.session_id, a.cose
        FROM public.aggregates a
        JOIN public.sessions s ON s.id = a.session_id
        WHERE a.account IS NOT NULL
          AND s.state = 'active' AND s.expires_at > now()
          AND NOT EXISTS (
              SELECT 1 FROM public.aggregates b
              WHERE b.account = a.account AND b.created_at >= day_start)
        ORDER BY a.account, a.created_at DESC
        LIMIT max_rows
    $$;

REVOKE ALL ON FUNCTION strongroom_daily_candidates(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION strongroom_daily_candidates(timestamptz, integer) TO app_service;
