-- Public services, part 1: applications and their timeline.
-- `status` is `draft` before submission, then a state of the service's workflow. The
-- answers are vault ciphertext (they hold document numbers); `version` makes every
-- change a compare-and-set, so two officers acting at once cannot both win.
CREATE TABLE applications (
    id           TEXT PRIMARY KEY,
    number       TEXT UNIQUE,
    account_id   TEXT NOT NULL,
    service_id   TEXT NOT NULL,
    agency_id    TEXT NOT NULL,
    status       TEXT NOT NULL,
    answers      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    submitted_at BIGINT,
    -- The decision is due by this date (YYYY-MM-DD, Moscow), moved on by pauses.
    due_on       TEXT,
    -- When the current pause (a clarification) began, and until when the applicant may
    -- act in the current state (an answer, an appeal), YYYY-MM-DD.
    paused_on    TEXT,
    act_by       TEXT,
    claimed_by   TEXT,
    version      BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX applications_account ON applications (account_id, updated_at);
CREATE INDEX applications_queue ON applications (agency_id, status, due_on);

CREATE TABLE application_events (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL,
    at             BIGINT NOT NULL,
    -- applicant | officer | head | system
    actor_kind     TEXT NOT NULL,
    actor_id       TEXT,
    transition     TEXT NOT NULL,
    from_status    TEXT NOT NULL,
    to_status      TEXT NOT NULL,
    -- Vault ciphertext of the comment (a reason may name documents), or NULL.
    comment        TEXT
);

CREATE INDEX application_events_application ON application_events (application_id, at);

-- Numbers given on submission: one counter per year.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
