-- The OpenID Connect provider, part 2: consents, authorization codes and grants.

-- What a person agreed to give a client. New scopes ask again; unlinking revokes.
CREATE TABLE oidc_consents (
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    client_id    TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    granted_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    revoked_at   BIGINT,
    PRIMARY KEY (account_id, client_id)
);

-- Authorization codes: keyed hash only, single use, 60 seconds.
CREATE TABLE oidc_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    account_id     TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    auth_time      BIGINT NOT NULL,
    acr            TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    grant_id       TEXT
);

-- A grant: what one code exchange gave a client. Access tokens carry its id, so
-- revoking the grant (sign-out, password change, unlinking, a replayed code) makes them
-- inactive at once.
CREATE TABLE oidc_grants (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    account_id TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE INDEX oidc_grants_account ON oidc_grants (account_id, client_id);
