-- The documents of a standard account (passport, SNILS, INN, birth data, address) and
-- their check against the state registries. `verified` is what the registries confirmed
-- (in force); `pending` is what the person entered and awaits a check — a change never
-- replaces verified data until it is itself verified. Both are vault ciphertext; the
-- blind indexes of the verified SNILS, passport and INN serve uniqueness (one SNILS, one
-- account), recovery by passport and the operator's search.
CREATE TABLE person_documents (
    account_id     TEXT PRIMARY KEY REFERENCES accounts (id),
    status         TEXT NOT NULL CHECK (status IN ('checking', 'waiting', 'verified', 'refused')),
    verified       TEXT,
    verified_at    BIGINT,
    pending        TEXT,
    reasons        TEXT,
    submitted_at   BIGINT NOT NULL,
    checked_at     BIGINT,
    snils_index    TEXT,
    passport_index TEXT,
    inn_index      TEXT,
    updated_at     BIGINT NOT NULL
);

CREATE UNIQUE INDEX person_documents_snils ON person_documents (snils_index);
CREATE INDEX person_documents_passport ON person_documents (passport_index);
CREATE INDEX person_documents_inn ON person_documents (inn_index);
