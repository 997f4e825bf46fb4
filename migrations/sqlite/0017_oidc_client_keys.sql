-- The OpenID Connect provider, part 5: clients that authenticate with a signed JWT
-- (`private_key_jwt`, OpenID Connect Core §9, RFC 7523) instead of a secret.

-- The client's public keys as a JWKS (inline JSON; no `jwks_uri`), set when
-- `auth_method` is `private_key_jwt`.
ALTER TABLE oidc_clients ADD COLUMN jwks TEXT;

-- Used assertion ids: an assertion is single-use, so its `jti` is kept until the assertion
-- expires (at most 5 minutes) and a second use is refused, on every node.
CREATE TABLE oidc_assertion_jti (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);

CREATE INDEX oidc_assertion_jti_expiry ON oidc_assertion_jti (expires_at);
