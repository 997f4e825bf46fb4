-- Confirmation of an account by registered letter. A request holds the recipient block
-- as it will be printed (vault ciphertext: name, address, postal index — a snapshot, so
-- a later change of documents does not redirect a letter in flight), the code twice
-- until the letter is printed — sealed by the vault so the print batch can put it on
-- paper, and as a keyed hash for checking — and only the hash afterwards. The code is
-- valid until `expires_at`, set when the letter is printed (30 days from sending).
-- At most one active request (`requested` or `sent`) per account.
CREATE TABLE letter_requests (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    status       TEXT NOT NULL CHECK (status IN ('requested', 'sent', 'used', 'expired', 'cancelled')),
    recipient    TEXT NOT NULL,
    code_sealed  TEXT,
    code_hash    TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    requested_at BIGINT NOT NULL,
    printed_at   BIGINT,
    expires_at   BIGINT,
    closed_at    BIGINT,
    close_reason TEXT,
    updated_at   BIGINT NOT NULL
);

CREATE UNIQUE INDEX letter_requests_active ON letter_requests (account_id)
    WHERE status IN ('requested', 'sent');
CREATE INDEX letter_requests_account ON letter_requests (account_id, requested_at);
CREATE INDEX letter_requests_status ON letter_requests (status, requested_at);
