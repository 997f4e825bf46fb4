-- The OpenID Connect provider, part 3: refresh tokens. Each use rotates the token; the
-- tokens of one grant form a family, and a token used twice (stolen and replayed)
-- revokes the whole grant.
CREATE TABLE oidc_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

CREATE INDEX oidc_refresh_grant ON oidc_refresh_tokens (grant_id);
