-- Confirmation of an account through a trusted bank (OpenID Connect): one row per
-- authorization request sent to a bank. `id` is the keyed hash of the `state` value, so
-- the row is found only by whoever holds the state; the nonce and the PKCE verifier are
-- vault ciphertext. A row is used once (`used_at`) and only before `expires_at` (10
-- minutes); `session_id` ties a browser flow to the session that started it.
CREATE TABLE bank_flows (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    session_id    TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('web', 'api')),
    bank_id       TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);

CREATE INDEX bank_flows_expires ON bank_flows (expires_at);
