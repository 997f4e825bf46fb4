//! Rows of account security: second factors, backup codes, sign-ins waiting for their
//! second factor, remembered devices, captcha challenges, and the account flags for
//! temporary passwords, blocks and closing. The rules live in `identity::security`.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, StoreError};

// --- second factors ----------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactorsRow {
    pub totp_secret: Option<String>,
    pub totp_enabled_at: Option<i64>,
    pub totp_last_step: Option<i64>,
    pub totp_pending: Option<String>,
    pub sms_enabled_at: Option<i64>,
}

fn factors_row(r: &AnyRow) -> Result<FactorsRow, sqlx::Error> {
    Ok(FactorsRow {
        totp_secret: r.try_get("totp_secret")?,
        totp_enabled_at: r.try_get("totp_enabled_at")?,
        totp_last_step: r.try_get("totp_last_step")?,
        totp_pending: r.try_get("totp_pending")?,
        sms_enabled_at: r.try_get("sms_enabled_at")?,
    })
}

/// The factors of an account (all empty when it never set any).
pub async fn factors(conn: &mut Conn, account_id: &str) -> Result<FactorsRow, StoreError> {
    let row = sqlx::query(
        "SELECT totp_secret, totp_enabled_at, totp_last_step, totp_pending, sms_enabled_at \
         FROM second_factors WHERE account_id = $1",
    )
    .bind(account_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(factors_row).transpose()?.unwrap_or_default())
}

async fn ensure_factors(conn: &mut Conn, account_id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO second_factors (account_id, updated_at) VALUES ($1, $2) \
         ON CONFLICT (account_id) DO NOTHING",
    )
    .bind(account_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Keeps a TOTP secret being set up (ciphertext) until it is proven.
pub async fn set_totp_pending(
    conn: &mut Conn,
    account_id: &str,
    secret: &str,
    now: i64,
) -> Result<(), StoreError> {
    ensure_factors(conn, account_id, now).await?;
    sqlx::query(
        "UPDATE second_factors SET totp_pending = $1, updated_at = $2 WHERE account_id = $3",
    )
    .bind(secret)
    .bind(now)
    .bind(account_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Puts the pending secret in force, with the step its proving code used.
pub async fn enable_totp(
    conn: &mut Conn,
    account_id: &str,
    step: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE second_factors SET totp_secret = totp_pending, totp_pending = NULL, \
         totp_enabled_at = $1, totp_last_step = $2, updated_at = $1 \
         WHERE account_id = $3 AND totp_pending IS NOT NULL",
    )
    .bind(now)
    .bind(step)
    .bind(account_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn disable_totp(conn: &mut Conn, account_id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE second_factors SET totp_secret = NULL, totp_enabled_at = NULL, \
         totp_last_step = NULL, totp_pending = NULL, updated_at = $1 WHERE account_id = $2",
    )
    .bind(now)
    .bind(account_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records that a TOTP step was used, atomically: false when that step (or a later one)
/// was already used — a replay, even by a parallel request.
pub async fn use_totp_step(
    conn: &mut Conn,
    account_id: &str,
    step: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE second_factors SET totp_last_step = $1 WHERE account_id = $2 \
         AND totp_secret IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $1)",
    )
    .bind(step)
    .bind(account_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_sms(
    conn: &mut Conn,
    account_id: &str,
    enabled_at: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    ensure_factors(conn, account_id, now).await?;
    sqlx::query(
        "UPDATE second_factors SET sms_enabled_at = $1, updated_at = $2 WHERE account_id = $3",
    )
    .bind(enabled_at)
    .bind(now)
    .bind(account_id)
    .execute(conn)
    .await?;
    Ok(())
}

// --- backup codes ------------------------------------------------------------------------

/// Replaces all backup codes of an account with new ones (keyed hashes).
pub async fn replace_backup_codes(
    conn: &mut Conn,
    account_id: &str,
    hashes: &[String],
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM backup_codes WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    for hash in hashes {
        sqlx::query(
            "INSERT INTO backup_codes (account_id, code_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(account_id)
        .bind(hash)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Uses up a backup code; false when it is not one of the account's unused codes.
pub async fn use_backup_code(
    conn: &mut Conn,
    account_id: &str,
    hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE backup_codes SET used_at = $1 \
         WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(account_id)
    .bind(hash)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// (unused, total) backup codes of an account.
pub async fn backup_codes_count(
    conn: &mut Conn,
    account_id: &str,
) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN used_at IS NULL THEN 1 ELSE 0 END), 0) AS unused \
         FROM backup_codes WHERE account_id = $1",
    )
    .bind(account_id)
    .fetch_one(conn)
    .await?;
    Ok((row.try_get("unused")?, row.try_get("total")?))
}

pub async fn delete_backup_codes(conn: &mut Conn, account_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM backup_codes WHERE account_id = $1")
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(())
}

// --- sign-ins waiting for the second factor ----------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRow {
    pub id: String,
    pub account_id: String,
    pub sms_code_hash: Option<String>,
    pub sms_sent_at: Option<i64>,
    pub attempts: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub async fn insert_challenge(conn: &mut Conn, c: &ChallengeRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO signin_challenges (id, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&c.id)
    .bind(&c.account_id)
    .bind(c.created_at)
    .bind(c.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn challenge(conn: &mut Conn, id: &str) -> Result<Option<ChallengeRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, account_id, sms_code_hash, sms_sent_at, attempts, created_at, expires_at, \
         used_at FROM signin_challenges WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(ChallengeRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        sms_code_hash: r.try_get("sms_code_hash")?,
        sms_sent_at: r.try_get("sms_sent_at")?,
        attempts: r.try_get("attempts")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
    }))
}

pub async fn set_challenge_sms(
    conn: &mut Conn,
    id: &str,
    code_hash: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE signin_challenges SET sms_code_hash = $1, sms_sent_at = $2 WHERE id = $3")
        .bind(code_hash)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Counts one wrong code; returns the attempts so far.
pub async fn challenge_failed(conn: &mut Conn, id: &str) -> Result<i64, StoreError> {
    sqlx::query("UPDATE signin_challenges SET attempts = attempts + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query("SELECT attempts FROM signin_challenges WHERE id = $1")
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("attempts")?)
}

/// Uses up a challenge; false when it was used already (a parallel request won).
pub async fn use_challenge(conn: &mut Conn, id: &str, now: i64) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE signin_challenges SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

// --- remembered devices ------------------------------------------------------------------

pub async fn insert_trusted_device(
    conn: &mut Conn,
    id: &str,
    account_id: &str,
    device: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO trusted_devices (id, account_id, device, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(account_id)
    .bind(device)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether the device token (its hash `id`) is remembered for the account now.
pub async fn device_trusted(
    conn: &mut Conn,
    id: &str,
    account_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "SELECT 1 AS one FROM trusted_devices WHERE id = $1 AND account_id = $2 \
         AND revoked_at IS NULL AND expires_at > $3",
    )
    .bind(id)
    .bind(account_id)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Forgets every remembered device of an account; returns how many.
pub async fn revoke_devices(
    conn: &mut Conn,
    account_id: &str,
    now: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE trusted_devices SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(account_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The devices remembered now: (device, created_at, expires_at), newest first.
pub async fn trusted_devices(
    conn: &mut Conn,
    account_id: &str,
    now: i64,
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    let found = sqlx::query(
        "SELECT device, created_at, expires_at FROM trusted_devices WHERE account_id = $1 \
         AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC",
    )
    .bind(account_id)
    .bind(now)
    .fetch_all(conn)
    .await?;
    Ok(found
        .iter()
        .map(|r| Ok((r.try_get("device")?, r.try_get("created_at")?, r.try_get("expires_at")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}

// --- captcha -----------------------------------------------------------------------------

pub async fn insert_captcha(
    conn: &mut Conn,
    id: &str,
    answer_hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO captchas (id, answer_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(answer_hash)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Uses up a live captcha and returns its answer hash: every challenge gets one guess.
pub async fn take_captcha(
    conn: &mut Conn,
    id: &str,
    now: i64,
) -> Result<Option<String>, StoreError> {
    let done = sqlx::query(
        "UPDATE captchas SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(None);
    }
    let row = sqlx::query("SELECT answer_hash FROM captchas WHERE id = $1")
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(Some(row.try_get("answer_hash")?))
}

/// Deletes captchas that expired before `before` (housekeeping).
pub async fn purge_captchas(conn: &mut Conn, before: i64) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM captchas WHERE expires_at < $1")
        .bind(before)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// The failures counted under a throttle key within its window (0 when none).
pub async fn throttle_count(
    conn: &mut Conn,
    key: &str,
    now: i64,
    window: i64,
) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT failures, window_start FROM throttle WHERE key = $1")
        .bind(key)
        .fetch_optional(conn)
        .await?;
    let Some(r) = row else { return Ok(0) };
    let start: i64 = r.try_get("window_start")?;
    Ok(if start > now - window { r.try_get("failures")? } else { 0 })
}

// --- account flags -----------------------------------------------------------------------

/// Sets a new password hash; `temporary` marks it to be replaced at the next sign-in.
pub async fn set_password_flagged(
    conn: &mut Conn,
    account_id: &str,
    hash: &str,
    temporary: bool,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE accounts SET password_hash = $1, password_changed_at = $2, \
         must_change_password = $3, failed_logins = 0, locked_until = NULL, updated_at = $2 \
         WHERE id = $4",
    )
    .bind(hash)
    .bind(now)
    .bind(i64::from(temporary))
    .bind(account_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Blocks an account (`reason`: `self` or `closing`), or — `reason` None — unblocks it.
pub async fn set_block(
    conn: &mut Conn,
    account_id: &str,
    reason: Option<&str>,
    close_after: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    let status = if reason.is_some() { "blocked" } else { "active" };
    sqlx::query(
        "UPDATE accounts SET status = $1, block_reason = $2, blocked_at = $3, close_after = $4, \
         updated_at = $5 WHERE id = $6 AND status <> 'closed'",
    )
    .bind(status)
    .bind(reason)
    .bind(reason.map(|_| now))
    .bind(close_after)
    .bind(now)
    .bind(account_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Accounts whose closing grace period ended before `now`.
pub async fn closing_due(conn: &mut Conn, now: i64, limit: i64) -> Result<Vec<String>, StoreError> {
    let found = sqlx::query(
        "SELECT id FROM accounts WHERE status = 'blocked' AND block_reason = 'closing' \
         AND close_after IS NOT NULL AND close_after <= $1 ORDER BY close_after LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(found.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?)
}

/// Erases the personal data of a closed account and keeps the pseudonymous shell the law
/// requires (the id, the level, the dates; the journal refers to the id only).
pub async fn erase_account(conn: &mut Conn, account_id: &str, now: i64) -> Result<(), StoreError> {
    for sql in [
        "DELETE FROM contacts WHERE account_id = $1",
        "DELETE FROM person_documents WHERE account_id = $1",
        "DELETE FROM second_factors WHERE account_id = $1",
        "DELETE FROM backup_codes WHERE account_id = $1",
        "DELETE FROM trusted_devices WHERE account_id = $1",
        "DELETE FROM signin_challenges WHERE account_id = $1",
        "DELETE FROM notification_channels WHERE account_id = $1",
        "UPDATE sessions SET ip = NULL, user_agent = NULL WHERE account_id = $1",
    ] {
        sqlx::query(sql).bind(account_id).execute(&mut *conn).await?;
    }
    sqlx::query(
        "UPDATE accounts SET surname = '', given_name = '', patronymic = NULL, \
         password_hash = '', status = 'closed', block_reason = NULL, close_after = NULL, \
         updated_at = $1 WHERE id = $2",
    )
    .bind(now)
    .bind(account_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends one live session of an account by its id; false if it was not live or not theirs.
pub async fn end_session_of(
    conn: &mut Conn,
    account_id: &str,
    id: &str,
    now: i64,
    reason: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE sessions SET ended_at = $1, end_reason = $2 \
         WHERE id = $3 AND account_id = $4 AND ended_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(id)
    .bind(account_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The session a «это не я» token belongs to: (session id, account id).
pub async fn session_by_disown(
    conn: &mut Conn,
    disown_hash: &str,
) -> Result<Option<(String, String, Option<i64>)>, StoreError> {
    let row = sqlx::query("SELECT id, account_id, ended_at FROM sessions WHERE disown_hash = $1")
        .bind(disown_hash)
        .fetch_optional(conn)
        .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some((r.try_get("id")?, r.try_get("account_id")?, r.try_get("ended_at")?)))
}

/// Live sessions of an account, oldest first: (id, created_at).
pub async fn live_sessions(
    conn: &mut Conn,
    account_id: &str,
    now: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let found = sqlx::query(
        "SELECT id, created_at FROM sessions WHERE account_id = $1 AND ended_at IS NULL \
         AND expires_at > $2 ORDER BY created_at, id",
    )
    .bind(account_id)
    .bind(now)
    .fetch_all(conn)
    .await?;
    Ok(found
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("created_at")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}

/// Clears the temporary-password mark of the account's sessions (after the change).
pub async fn clear_must_change(conn: &mut Conn, account_id: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET must_change = 0 WHERE account_id = $1 AND must_change <> 0")
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE accounts SET must_change_password = 0 WHERE id = $1")
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(())
}
