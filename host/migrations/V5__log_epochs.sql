-- Transparency-log epochs, version 5.
--
-- Only the enclave's signing key extends the log, and it is part of the key
-- ring. When a ring is lost for good (no KMS, no live peer: `strongroom-host
-- keys reset --confirm`), no enclave can ever sign a head extending the old
-- log again. The reset then closes the log: its leaves and heads move to the
-- archive tables under their epoch number (every proof already published
-- stays verifiable offline: it carries its own signed head), and the live
-- tables start a new, empty log, epoch + 1, signed by the new ring. A client
-- that checks consistency from an old head to a new one sees the break (a
-- different signing key and no consistency proof), which is the honest answer.

ALTER TABLE transparency_state ADD COLUMN log_epoch integer NOT NULL DEFAULT 1
    CHECK (log_epoch >= 1);

CREATE TABLE transparency_log_archive (
    log_epoch     integer NOT NULL CHECK (log_epoch >= 1),
    leaf_index    bigint NOT NULL CHECK (leaf_index >= 0),
    leaf_hash     bytea NOT NULL CHECK (octet_length(leaf_hash) = 32),
    aggregate_id  uuid REFERENCES aggregates (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (log_epoch, leaf_index)
);

CREATE TABLE tree_heads_archive (
    log_epoch   integer NOT NULL CHECK (log_epoch >= 1),
    tree_size   bigint NOT NULL CHECK (tree_size >= 0),
    root_hash   bytea NOT NULL CHECK (octet_length(root_hash) = 32),
    cose        bytea NOT NULL CHECK (octet_length(cose) BETWEEN 1 AND 65536),
    created_at  timestamptz NOT NULL,
    -- the final state of the closed log: size and frontier of its last head
    PRIMARY KEY (log_epoch, tree_size)
);

GRANT SELECT ON transparency_log_archive, tree_heads_archive TO app_service, operator_readonly;
