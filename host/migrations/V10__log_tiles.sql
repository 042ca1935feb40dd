-- Version 10: the log as C2SP tlog-tiles (issue 15.5, issue 16; DESIGN.md
-- "Log v2"). Every tile, full or partial, is one row: level L, index N, and
-- the tree hashes it holds so far (32 bytes each, at most 256). A tile only
-- ever grows at its end, so any shorter prefix of a row is the partial tile
-- of an older tree size, and a proof reads one row per tile it needs:
-- O(log n) rows instead of every leaf hash.
--
-- An append adds its leaf hash to the level-0 tile (and, when that tile
-- fills up, the tile's root to level 1, and so on) in the transaction that
-- stores the leaf and the new state, so tiles and log never drift apart.
-- Tiles for a log that already has leaves are built by `strongroom-host
-- serve` at start (host/src/tlog/tiles.rs, `backfill`), under the state
-- row's lock, before it serves: SHA-256 stays in one place, the Rust code.
CREATE TABLE transparency_tiles (
    level       smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
    tile_index  bigint NOT NULL CHECK (tile_index >= 0),
    hashes      bytea NOT NULL CHECK (octet_length(hashes) BETWEEN 32 AND 8192
                                      AND octet_length(hashes) % 32 = 0),
    PRIMARY KEY (level, tile_index)
);
-- Hashes do not compress: store them out of line without trying.
ALTER TABLE transparency_tiles ALTER COLUMN hashes SET STORAGE EXTERNAL;

-- DELETE: the start-up backfill rebuilds tiles that are out of step.
GRANT SELECT, INSERT, UPDATE, DELETE ON transparency_tiles TO app_service;
GRANT SELECT ON transparency_tiles TO operator_readonly;

-- Entry bundles (`/tile/entries/N`) are public, across tenants: a narrow
-- SECURITY DEFINER read of at most one bundle (256 leaves) from `p_first`,
-- instead of lifting row-level security on `aggregates`. `cose` is NULL for
-- a leaf whose aggregate was erased (its hash stays in the log).
CREATE FUNCTION strongroom_log_entries(p_first bigint, p_count integer)
    RETURNS TABLE (leaf_index bigint, leaf_hash bytea, cose bytea)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
    BEGIN
        RETURN QUERY
            SELECT l.leaf_index, l.leaf_hash, a.cose
            FROM public.transparency_log l
            LEFT JOIN public.aggregates a ON a.id = l.aggregate_id
            WHERE l.leaf_index >= p_first
              AND l.leaf_index < p_first + LEAST(GREATEST(p_count, 0), 256)
            ORDER BY l.leaf_index;
    END
    $$;

REVOKE ALL ON FUNCTION strongroom_log_entries(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION strongroom_log_entries(bigint, integer) TO app_service;
