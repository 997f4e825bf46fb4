-- Challenges of the qualified-signature route to a confirmed account: a short Russian
-- text with a random request code and the date, which the person signs with their
-- qualified certificate. The text holds no personal data, so it is stored as is. A
-- challenge belongs to one account, is used up by the confirmation it proves, expires,
-- and counts the attempts made with it.
CREATE TABLE signature_challenges (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    text       TEXT NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

CREATE INDEX signature_challenges_account ON signature_challenges (account_id, created_at);
