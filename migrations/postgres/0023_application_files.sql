-- Public services, part 3: files attached to applications. The bytes are in blob
-- storage, sealed by the vault; here is what the lists and checks need.
CREATE TABLE application_files (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL,
    -- The attachment rule of the service (`photo`, `charter`, …).
    rule           TEXT NOT NULL,
    file_name      TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    size           BIGINT NOT NULL,
    sha256         TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE INDEX application_files_application ON application_files (application_id, created_at);
