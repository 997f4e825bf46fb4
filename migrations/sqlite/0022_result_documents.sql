-- Public services, part 2: result documents. The PDF is kept sealed by the vault (it
-- holds personal data); its SHA-256 and the platform's ES256 signature over it are in
-- the clear, so /verify can tell an issued, unchanged document from anything else.
CREATE TABLE result_documents (
    id             TEXT PRIMARY KEY,
    number         TEXT NOT NULL UNIQUE,
    application_id TEXT NOT NULL UNIQUE,
    account_id     TEXT NOT NULL,
    service_id     TEXT NOT NULL,
    agency_id      TEXT NOT NULL,
    title          TEXT NOT NULL,
    issued_at      BIGINT NOT NULL,
    sha256         TEXT NOT NULL,
    -- base64url of the raw ES256 signature (r‖s) over the PDF bytes, and the key.
    signature      TEXT NOT NULL,
    public_key     TEXT NOT NULL,
    pdf            TEXT NOT NULL
);

CREATE INDEX result_documents_sha256 ON result_documents (sha256);
CREATE INDEX result_documents_account ON result_documents (account_id, issued_at);
