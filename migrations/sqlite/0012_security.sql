-- Account security (seed 002 «Управление настройками безопасности»): second factors,
-- sign-ins waiting for their second factor, remembered devices, the self-hosted captcha,
-- and the account flags for temporary passwords, blocks and closing.

-- The second factors of an account. TOTP secrets are vault ciphertext; `totp_pending` is
-- a secret being set up (shown as a QR code) until the person proves it with a code.
-- `totp_last_step` refuses a code replayed within its window.
CREATE TABLE second_factors (
    account_id      TEXT PRIMARY KEY REFERENCES accounts (id),
    totp_secret     TEXT,
    totp_enabled_at BIGINT,
    totp_last_step  BIGINT,
    totp_pending    TEXT,
    sms_enabled_at  BIGINT,
    updated_at      BIGINT NOT NULL
);

-- One-time backup codes, stored as keyed hashes only.
CREATE TABLE backup_codes (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    code_hash  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (account_id, code_hash)
);

-- A sign-in whose password was right and which now waits for the second factor. The id
-- is the keyed hash of the token the browser holds between the two steps.
CREATE TABLE signin_challenges (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    sms_code_hash TEXT,
    sms_sent_at   BIGINT,
    attempts      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);

-- Devices where the person chose «запомнить это устройство»: the second factor is not
-- asked there until `expires_at`. The id is the keyed hash of the cookie token.
CREATE TABLE trusted_devices (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    device     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE INDEX trusted_devices_account ON trusted_devices (account_id);

-- Captcha challenges: the answer as a keyed hash; single use.
CREATE TABLE captchas (
    id          TEXT PRIMARY KEY,
    answer_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

-- A temporary password (recovery by passport or by an operator) must be replaced at the
-- next sign-in. A blocked account records why (`self`, `closing`) and since when; a
-- closing account is erased after `close_after`.
ALTER TABLE accounts ADD COLUMN must_change_password SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN block_reason TEXT;
ALTER TABLE accounts ADD COLUMN blocked_at BIGINT;
ALTER TABLE accounts ADD COLUMN close_after BIGINT;

CREATE INDEX accounts_close_after ON accounts (close_after);

-- A session opened with a temporary password may only change it. `disown_hash` is the
-- keyed hash of the one-click «это не я» token sent with the new-device notice.
ALTER TABLE sessions ADD COLUMN must_change SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN disown_hash TEXT;

CREATE INDEX sessions_disown ON sessions (disown_hash);
