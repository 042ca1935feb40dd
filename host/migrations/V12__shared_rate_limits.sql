-- Rate limits shared by every host instance (issue 15.4). Before, each
-- host counted in its own memory, so N instances behind a load balancer let
-- a client make N x RATE_LIMIT_MAX requests per window.
--
-- One row per key (a keyed pseudonym of the client address, or a tenant
-- id) and fixed window (unix ms of its start, aligned to the window length).
-- `granted` counts the requests the hosts together were allowed to admit;
-- a host reserves them in small batches (`last_grant` = what the last
-- reservation got), so admitting a request costs a statement only once per
-- batch, and `granted` never exceeds RATE_LIMIT_MAX. The janitor drops past
-- windows.
CREATE TABLE rate_limits (
    key          text    NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    window_start bigint  NOT NULL,
    granted      integer NOT NULL CHECK (granted >= 0),
    last_grant   integer NOT NULL CHECK (last_grant >= 0),
    PRIMARY KEY (key, window_start)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limits TO app_service;
GRANT SELECT ON rate_limits TO operator_readonly;
