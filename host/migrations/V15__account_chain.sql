-- Account chains (issue 18, payload v2 `previous`), version 15.
--
-- Every v2 result names the leaf hash of the preceding logged result of the
-- same exchange account (`previous`). The host hands the enclave the newest
-- leaf of each candidate account; to find it across tenants (one exchange
-- account may be used through several) without reading any tenant's
-- results, the log itself records which account a leaf is about. Leaf
-- hashes are public (tiles serve them), so this discloses nothing new
-- beyond linking a leaf to its account pseudonym, which the result itself
-- states to whoever can read it.
ALTER TABLE transparency_log ADD COLUMN account text CHECK (account ~ '^[0-9a-f]{64}$');
CREATE INDEX transparency_log_account ON transparency_log (account, leaf_index DESC)
    WHERE account IS NOT NULL;
-- Set in the transaction that appends the leaf (the append itself is the
-- same for results and revocation entries); only this column.
GRANT UPDATE (account) ON transparency_log TO app_service;
