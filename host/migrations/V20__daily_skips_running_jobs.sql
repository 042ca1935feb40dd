-- Daily snapshots and jobs (issue 18), version 20.
--
-- A daily snapshot that needs more exchange weight than a minute allows
-- continues as a job (V19). Until that job ends the account still has no
-- result today, so the scheduler's next pass would start another job for
-- it, and another. The candidates now leave out an account with a running
-- job (whoever started it: the scheduler or the tenant).

CREATE OR REPLACE FUNCTION strongroom_daily_candidates(day_start timestamptz, max_rows integer)
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
          AND NOT EXISTS (
              SELECT 1 FROM public.compute_jobs j
              WHERE j.account = a.account AND j.state = 'running')
        ORDER BY a.account, a.created_at DESC
        LIMIT max_rows
    $$;

REVOKE ALL ON FUNCTION strongroom_daily_candidates(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION strongroom_daily_candidates(timestamptz, integer) TO app_service;
