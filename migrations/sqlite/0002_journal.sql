-- The action journal: an append-only record of security and account events.
-- Entries are written unsealed (seq, prev_hash, hash NULL) inside the transaction of the
-- event they record, so an event and its record commit together. The sealer then links
-- them into a SHA-256 hash chain in seq order, holding the one journal_head row locked
-- (an ordinary row lock: no advisory locks, so distributed engines work too).
CREATE TABLE journal (
    id          TEXT PRIMARY KEY,
    seq         BIGINT UNIQUE,
    at          BIGINT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT,
    subject_id  TEXT,
    action      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    ip          TEXT,
    user_agent  TEXT,
    details     TEXT NOT NULL,
    prev_hash   TEXT,
    hash        TEXT
);

CREATE INDEX journal_unsealed ON journal (seq, id);
CREATE INDEX journal_subject ON journal (subject_id, at);

CREATE TABLE journal_head (
    id   BIGINT PRIMARY KEY,
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);

INSERT INTO journal_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
