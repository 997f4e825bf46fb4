-- The notification outbox. A message is written in the same transaction as the event
-- that causes it (with a `notify` job that delivers it), so a committed event always
-- gets its message and a rolled-back one never does. Recipient and body are personal
-- data (the body may hold a one-time code): both are encrypted; recipient_index is a
-- blind index for look-ups by recipient.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    channel         TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    template        TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    recipient_index TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);

CREATE INDEX outbox_recipient ON outbox (recipient_index, created_at);
CREATE INDEX outbox_created ON outbox (created_at);
