-- Public services, part 4: the automatic checks a service declares (registry look-ups),
-- run after submission; their results are what the officer sees. One row per check,
-- replaced when the checks run again.
CREATE TABLE application_checks (
    application_id TEXT NOT NULL,
    -- The check as the definition names it (`passport_valid`, `organization_active`, …).
    check_id       TEXT NOT NULL,
    passed         SMALLINT NOT NULL,
    -- What the registry answered, in Russian, for the officer.
    detail         TEXT NOT NULL,
    checked_at     BIGINT NOT NULL,
    PRIMARY KEY (application_id, check_id)
);
