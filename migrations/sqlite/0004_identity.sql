-- Citizen accounts (ЕСИА). Personal data (names, contacts) is stored encrypted by the
-- vault; contacts are found through blind indexes. Codes and session ids are stored only
-- as keyed hashes.
CREATE TABLE accounts (
    id                  TEXT PRIMARY KEY,
    surname             TEXT NOT NULL,
    given_name          TEXT NOT NULL,
    patronymic          TEXT,
    level               TEXT NOT NULL CHECK (level IN ('simplified', 'standard', 'confirmed')),
    status              TEXT NOT NULL CHECK (status IN ('active', 'blocked', 'closed')),
    password_hash       TEXT NOT NULL,
    password_changed_at BIGINT NOT NULL,
    failed_logins       BIGINT NOT NULL DEFAULT 0,
    locked_until        BIGINT,
    terms_version       TEXT NOT NULL,
    terms_accepted_at   BIGINT NOT NULL,
    pd_version          TEXT NOT NULL,
    pd_accepted_at      BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

CREATE TABLE contacts (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    kind         TEXT NOT NULL CHECK (kind IN ('phone', 'email')),
    value        TEXT NOT NULL,
    value_index  TEXT NOT NULL,
    confirmed_at BIGINT,
    created_at   BIGINT NOT NULL
);

-- A phone or e-mail belongs to one account at most.
CREATE UNIQUE INDEX contacts_unique ON contacts (kind, value_index);
CREATE INDEX contacts_account ON contacts (account_id);

-- A registration in progress: the form, then the confirmed contact, then the password.
-- The id is the keyed hash of the token the browser holds.
CREATE TABLE registrations (
    id                TEXT PRIMARY KEY,
    surname           TEXT NOT NULL,
    given_name        TEXT NOT NULL,
    patronymic        TEXT,
    contact_kind      TEXT NOT NULL CHECK (contact_kind IN ('phone', 'email')),
    contact_value     TEXT NOT NULL,
    contact_index     TEXT NOT NULL,
    terms_version     TEXT NOT NULL,
    terms_accepted_at BIGINT NOT NULL,
    pd_version        TEXT NOT NULL,
    pd_accepted_at    BIGINT NOT NULL,
    confirmed_at      BIGINT,
    completed_at      BIGINT,
    account_id        TEXT,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL
);

-- One-time codes for any flow (registration, recovery, contact change).
CREATE TABLE codes (
    id            TEXT PRIMARY KEY,
    purpose       TEXT NOT NULL,
    flow_id       TEXT NOT NULL,
    contact_index TEXT NOT NULL,
    code_hash     TEXT NOT NULL,
    link_hash     TEXT,
    attempts      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);

CREATE INDEX codes_flow ON codes (purpose, flow_id, created_at);

-- Failure counters with a window and a block (per contact, per IP), updated atomically.
CREATE TABLE throttle (
    key           TEXT PRIMARY KEY,
    failures      BIGINT NOT NULL,
    window_start  BIGINT NOT NULL,
    blocked_until BIGINT
);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ip           TEXT,
    user_agent   TEXT,
    ended_at     BIGINT,
    end_reason   TEXT
);

CREATE INDEX sessions_account ON sessions (account_id, created_at);
