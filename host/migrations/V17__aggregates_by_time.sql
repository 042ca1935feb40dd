-- The candidates for `previous` (V15) of a credential's first computation
-- come from the tenant's newest results: read them in time order through an
-- index instead of sorting the tenant's whole history on every request.
CREATE INDEX aggregates_tenant_created ON aggregates (tenant_id, created_at DESC);
