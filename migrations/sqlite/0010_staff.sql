-- Service centres (МФЦ, client offices of СФР, …) and the staff of the platform:
-- operators of service centres, officers of agencies, heads of department, administrators.
-- Staff sign in separately from citizens (own table, own sessions, own cookie).

-- The directory of service centres, loaded at start from the shipped data file. `search`
-- is the lower-cased name, city and address («ё» as «е») for the text filter; a centre
-- the file no longer lists stays (operators may refer to it) but is no longer shown.
CREATE TABLE service_centers (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    region     TEXT NOT NULL,
    city       TEXT NOT NULL,
    address    TEXT NOT NULL,
    phone      TEXT NOT NULL,
    hours      TEXT NOT NULL,
    search     TEXT NOT NULL,
    active     SMALLINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX service_centers_city ON service_centers (city);

-- Staff accounts. The full name is vault ciphertext; the login is a plain identifier.
CREATE TABLE staff (
    id                   TEXT PRIMARY KEY,
    login                TEXT NOT NULL,
    full_name            TEXT NOT NULL,
    role                 TEXT NOT NULL CHECK (role IN ('operator', 'officer', 'head', 'admin')),
    center_id            TEXT REFERENCES service_centers (id),
    agency               TEXT,
    password_hash        TEXT NOT NULL,
    must_change_password SMALLINT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('active', 'blocked')),
    failed_logins        BIGINT NOT NULL DEFAULT 0,
    locked_until         BIGINT,
    password_changed_at  BIGINT NOT NULL,
    last_sign_in_at      BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);

CREATE UNIQUE INDEX staff_login ON staff (login);

-- Staff sessions; the id is the keyed hash of the cookie token.
CREATE TABLE staff_sessions (
    id           TEXT PRIMARY KEY,
    staff_id     TEXT NOT NULL REFERENCES staff (id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ip           TEXT,
    user_agent   TEXT,
    ended_at     BIGINT,
    end_reason   TEXT
);

CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id, created_at);

-- An account an operator registered on the spot waits for its owner: the activation code
-- (keyed hash) handed over on paper, entered at /activate with the account's contact
-- (vault ciphertext and blind index). A right code opens the activation's flow: `flow_id`
-- is the keyed hash of the token the browser then holds while the contact is confirmed by
-- a one-time code (`confirmed_at`) and the password set (`completed_at`).
CREATE TABLE activations (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    contact_kind    TEXT NOT NULL CHECK (contact_kind IN ('phone', 'email')),
    contact_value   TEXT NOT NULL,
    contact_index   TEXT NOT NULL,
    code_hash       TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    staff_id        TEXT NOT NULL REFERENCES staff (id),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    flow_id         TEXT,
    flow_expires_at BIGINT,
    confirmed_at    BIGINT,
    completed_at    BIGINT
);

CREATE INDEX activations_contact ON activations (contact_index, created_at);
CREATE UNIQUE INDEX activations_flow ON activations (flow_id);

-- An operator saw the person's passport in person while the registries had not yet
-- verified the documents: the account becomes confirmed when the check verifies the same
-- passport (blind index) before `expires_at`.
CREATE TABLE operator_intents (
    account_id     TEXT PRIMARY KEY REFERENCES accounts (id),
    passport_index TEXT NOT NULL,
    staff_id       TEXT NOT NULL REFERENCES staff (id),
    center_id      TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
