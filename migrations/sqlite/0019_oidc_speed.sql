-- The OpenID Connect provider, part 5: what the hot paths need.
-- A grant carries the level (acr) it was given at, so a refresh reads one joined row
-- instead of searching the codes for it.
ALTER TABLE oidc_grants ADD COLUMN acr TEXT;
UPDATE oidc_grants SET acr = (SELECT c.acr FROM oidc_codes c WHERE c.grant_id = oidc_grants.id);

-- Expired codes and refresh tokens are deleted by housekeeping; these find them.
CREATE INDEX oidc_codes_expiry ON oidc_codes (expires_at);
CREATE INDEX oidc_refresh_expiry ON oidc_refresh_tokens (expires_at);
