-- The OpenID Connect provider, part 4: pushed authorization requests (RFC 9126). The
-- parameters a client pushed, found by the keyed hash of the request_uri; 60 seconds.
CREATE TABLE oidc_par (
    request_hash TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL,
    params       TEXT NOT NULL,
    expires_at   BIGINT NOT NULL
);
