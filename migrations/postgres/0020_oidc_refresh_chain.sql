-- The OpenID Connect provider, part 6: a grant's refresh tokens as a numbered chain.
-- A refresh token is now "<grant id>.<generation>.<MAC>" (the MAC keyed by the vault);
-- the grant keeps only the generation that is current and when it expires. A rotation
-- is one compare-and-set UPDATE of the grant row (no insert, no look-up first), and a
-- token of an older generation is a replay that revokes the grant. Tokens issued
-- before this change stop working: their clients sign the user in again.
ALTER TABLE oidc_grants ADD COLUMN refresh_generation BIGINT;
ALTER TABLE oidc_grants ADD COLUMN refresh_expires_at BIGINT;
DROP TABLE oidc_refresh_tokens;
