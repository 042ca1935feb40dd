-- Transparency log state and signed results, version 3.
--
-- The log is global (one log for every tenant), so its tables have no
-- row-level security: they hold only hashes and enclave-signed heads. Leaf
-- hashes stay when a tenant is erased (aggregate_id becomes NULL), so every
-- published proof stays valid.

-- The attestation document returned with a signed aggregate (its nonce is
-- SHA-256 of `cose`), kept so the full answer can be produced again.
ALTER TABLE aggregates ADD COLUMN attestation bytea
    CHECK (octet_length(attestation) BETWEEN 1 AND 1048576);

-- One row: the state the next append starts from. Appends lock it with
-- SELECT ... FOR UPDATE for the whole append (enclave call included), so any
-- number of host instances extend one linear log and never fork it.
CREATE TABLE transparency_state (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    tree_size   bigint NOT NULL CHECK (tree_size >= 0),
    -- right-edge subtree roots, largest first, 32 bytes each, concatenated
    frontier    bytea NOT NULL CHECK (octet_length(frontier) % 32 = 0 AND octet_length(frontier) <= 64 * 32),
    -- the newest signed tree head (COSE_Sign1); NULL only for the empty log
    head        bytea CHECK (octet_length(head) BETWEEN 1 AND 65536),
    CHECK ((tree_size = 0) = (head IS NULL))
);
INSERT INTO transparency_state (id, tree_size, frontier, head) VALUES (true, 0, '\x', NULL);

-- `tree_heads` (V1) keeps every head the enclave signed; its primary key is
-- the size, so two heads of one size (a fork) cannot even be stored.

GRANT SELECT, UPDATE ON transparency_state TO app_service;
GRANT SELECT ON transparency_state TO operator_readonly;
