-- Log v2: C2SP checkpoints and witness cosignatures, version 11.
--
-- The enclave signs, with every tree head, a C2SP checkpoint (a signed note
-- under the log's Ed25519 note key). The host relays it to the witnesses
-- (WITNESS_URLS) and stores their cosignatures with it. Before the enclave
-- extends the log from a state it must see that state's checkpoint cosigned
-- by its quorum, so the state row says whether the newest checkpoint has it.

-- The checkpoint of each head, with the cosignatures collected so far.
ALTER TABLE tree_heads ADD COLUMN checkpoint text
    CHECK (octet_length(checkpoint) BETWEEN 1 AND 16384);
ALTER TABLE tree_heads_archive ADD COLUMN checkpoint text
    CHECK (octet_length(checkpoint) BETWEEN 1 AND 16384);
GRANT UPDATE (checkpoint) ON tree_heads TO app_service;

-- The newest checkpoint; `cosigned`: it carries `witness_quorum`
-- cosignatures (the quorum the enclave named when it signed it).
ALTER TABLE transparency_state
    ADD COLUMN checkpoint text CHECK (octet_length(checkpoint) BETWEEN 1 AND 16384),
    ADD COLUMN cosigned boolean NOT NULL DEFAULT true,
    ADD COLUMN witness_quorum integer NOT NULL DEFAULT 0 CHECK (witness_quorum >= 0);

-- The size each witness last cosigned for the live log, as the host last
-- heard it (a hint: a witness that says otherwise with a 409 is believed).
CREATE TABLE witness_sizes (
    witness_url text PRIMARY KEY CHECK (octet_length(witness_url) BETWEEN 1 AND 512),
    tree_size   bigint NOT NULL CHECK (tree_size >= 0)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON witness_sizes TO app_service;
GRANT SELECT ON witness_sizes TO operator_readonly;
