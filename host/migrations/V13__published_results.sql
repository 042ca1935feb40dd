-- Public results (issue 20), version 13.
--
-- A result is readable without authentication at `GET /r/{id}` (id = hex
-- SHA-256 of its COSE_Sign1 bytes) only once it is *published*. Publishing
-- is the trader's decision, carried by credential v2 (`"publish": true` in
-- the sealed policy, or an owner-signed `publish` action, DESIGN.md "Public
-- results"); until that lands nothing in the host sets the flag: app_service
-- has no UPDATE on `aggregates`, so no route can publish a row.

ALTER TABLE aggregates ADD COLUMN published boolean NOT NULL DEFAULT false;
-- The public id, computed by PostgreSQL from the stored bytes (never host input).
ALTER TABLE aggregates ADD COLUMN result_id bytea GENERATED ALWAYS AS (sha256(cose)) STORED;
-- The payload's `account` pseudonym, for `GET /r?account=` (NULL for rows
-- stored before V13).
ALTER TABLE aggregates ADD COLUMN account text CHECK (account ~ '^[0-9a-f]{64}$');

CREATE INDEX aggregates_published_id ON aggregates (result_id) WHERE published;
CREATE INDEX aggregates_published_account ON aggregates (account, created_at) WHERE published;

-- Published rows are readable by the serving role without a tenant; every
-- other row stays behind tenant_aggregates.
CREATE POLICY public_aggregates ON aggregates FOR SELECT TO app_service USING (published);
