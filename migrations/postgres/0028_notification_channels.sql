-- Public services, part 8: where a person wants copies of application notices (in the
-- cabinet they always are): by e-mail, by SMS, both or neither. No row: e-mail when a
-- confirmed address exists, else SMS. Erased with the account.
CREATE TABLE notification_channels (
    account_id TEXT PRIMARY KEY,
    by_email   SMALLINT NOT NULL,
    by_sms     SMALLINT NOT NULL,
    updated_at BIGINT NOT NULL
);
