-- Background work: one row per job. Workers on any node take ready rows, hold them for a
-- lease, and either finish them or put them back with a later run_at. A job whose lease
-- ran out (its worker died) is taken again.
-- Portable schema: ids are UUIDv7 text, times are BIGINT microseconds UTC, JSON is TEXT.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    queue        TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts     BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at       BIGINT NOT NULL,
    locked_until BIGINT,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE INDEX jobs_ready ON jobs (queue, state, run_at);
