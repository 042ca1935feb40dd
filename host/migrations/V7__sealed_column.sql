-- Version 7: one sealed-credential column. `sealed` = enc ‖ ciphertext ‖ tag,
-- the stored form of the sealed-credential contract (SPEC.md "Sealed
-- credential", strongroom_formats::credential), whose SHA-256 is the
-- credential's identity. The limits are the contract's: key id 1..64 bytes,
-- enc 65 bytes starting 0x04, ciphertext 1..4096 bytes, tag 16 bytes. The
-- host validates against the same contract before it inserts; these checks
-- only keep a hand-edited row from becoming something no enclave opens.

ALTER TABLE credentials ADD COLUMN sealed bytea;
UPDATE credentials SET sealed = enc || ciphertext || tag;
ALTER TABLE credentials
    ALTER COLUMN sealed SET NOT NULL,
    ADD CONSTRAINT credentials_sealed_len
        CHECK (octet_length(sealed) BETWEEN 65 + 1 + 16 AND 65 + 4096 + 16),
    ADD CONSTRAINT credentials_sealed_enc CHECK (get_byte(sealed, 0) = 4),
    DROP CONSTRAINT credentials_key_id_check,
    ADD CONSTRAINT credentials_key_id_check CHECK (octet_length(key_id) BETWEEN 1 AND 64);

DROP FUNCTION strongroom_reseal_batch(text[], integer);
DROP FUNCTION strongroom_reseal_store(uuid, text, text, bytea, bytea, bytea);
ALTER TABLE credentials DROP COLUMN enc, DROP COLUMN ciphertext, DROP COLUMN tag;

-- As in V4, over the one column.
CREATE FUNCTION strongroom_reseal_batch(keep text[], n integer)
    RETURNS TABLE (session_id uuid, key_id text, sealed bytea, exchange text, label text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$
        SELECT c.session_id, c.key_id, c.sealed, s.exchange, s.label
        FROM credentials c JOIN sessions s ON s.id = c.session_id
        WHERE c.key_id <> ALL (keep)
        ORDER BY c.session_id
        LIMIT LEAST(GREATEST(n, 0), 256)
    $$;

CREATE FUNCTION strongroom_reseal_store(sid uuid, old_key_id text, new_key_id text,
                                        new_sealed bytea)
    RETURNS boolean
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public
    AS $$
        WITH u AS (
            UPDATE credentials SET key_id = new_key_id, sealed = new_sealed
            WHERE session_id = sid AND key_id = old_key_id
            RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM u)
    $$;

REVOKE ALL ON FUNCTION strongroom_reseal_batch(text[], integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION strongroom_reseal_store(uuid, text, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION strongroom_reseal_batch(text[], integer) TO app_service;
GRANT EXECUTE ON FUNCTION strongroom_reseal_store(uuid, text, text, bytea) TO app_service;
