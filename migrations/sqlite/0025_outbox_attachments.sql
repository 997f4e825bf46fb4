-- Public services, part 5: e-mails may carry one file (the result document sent from
-- the cabinet). The file travels with its message so that the message is exactly what
-- was asked for when it was queued; it is encrypted like the body (name, type and bytes
-- in one vault ciphertext) and removed once a real transport delivered it.
ALTER TABLE outbox ADD COLUMN attachment TEXT;
