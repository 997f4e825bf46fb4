-- Flows that prove a contact for a signed-in or returning person: password recovery
-- («Забыли пароль?») and adding or replacing a contact. The id is the keyed hash of the
-- token the browser holds. A recovery for an unknown contact has no account_id and still
-- gets a (never sent) code, so the answers do not tell which contacts exist.
CREATE TABLE contact_flows (
    id            TEXT PRIMARY KEY,
    purpose       TEXT NOT NULL CHECK (purpose IN ('recovery', 'contact')),
    account_id    TEXT,
    contact_kind  TEXT NOT NULL CHECK (contact_kind IN ('phone', 'email')),
    contact_value TEXT NOT NULL,
    contact_index TEXT NOT NULL,
    confirmed_at  BIGINT,
    completed_at  BIGINT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
