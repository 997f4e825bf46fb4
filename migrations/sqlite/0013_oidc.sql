-- The OpenID Connect provider (issue 5), part 1: signing keys and clients.

-- Signing keys. The private key is vault ciphertext; the public JWK is published in the
-- JWKS. A retired key no longer signs but stays published until `expires_at` (when the
-- last token it signed has expired), so relying parties can still verify those tokens.
CREATE TABLE oidc_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_key TEXT NOT NULL,
    public_jwk  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT,
    expires_at  BIGINT
);

-- Relying parties. A confidential client's secret is stored as a keyed hash only (it is
-- 256 random bits, so a fast hash is enough and the token endpoint stays fast). Lists are
-- JSON arrays.
CREATE TABLE oidc_clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    kind                      TEXT NOT NULL CHECK (kind IN ('confidential', 'public')),
    auth_method               TEXT NOT NULL,
    secret_hash               TEXT,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    scopes                    TEXT NOT NULL,
    min_level                 TEXT NOT NULL CHECK (min_level IN ('simplified', 'standard', 'confirmed')),
    id_token_alg              TEXT NOT NULL,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL,
    removed_at                BIGINT
);
