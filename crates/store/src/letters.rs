//! Rows of `letter_requests`: registered letters with a confirmation code. The rules
//! (code, expiry, attempts, who may ask) live in `identity::letter`; the guarding updates
//! here are single statements with the condition in the `WHERE`, so the database decides
//! which request got the last attempt or the last state change.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, Db, StoreError};

/// One letter request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterRow {
    /// UUIDv7; printed on the letter as its reference.
    pub id: String,
    pub account_id: String,
    /// `requested`, `sent`, `used`, `expired`, `cancelled`.
    pub status: String,
    /// Vault ciphertext of the recipient block (JSON).
    pub recipient: String,
    /// Vault ciphertext of the code, until the letter is printed.
    pub code_sealed: Option<String>,
    /// Keyed hash of the code.
    pub code_hash: String,
    pub attempts: i64,
    pub requested_at: i64,
    pub printed_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub close_reason: Option<String>,
}

const COLUMNS: &str = "id, account_id, status, recipient, code_sealed, code_hash, attempts, \
     requested_at, printed_at, expires_at, closed_at, close_reason";

fn row(r: &AnyRow) -> Result<LetterRow, sqlx::Error> {
    Ok(LetterRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        status: r.try_get("status")?,
        recipient: r.try_get("recipient")?,
        code_sealed: r.try_get("code_sealed")?,
        code_hash: r.try_get("code_hash")?,
        attempts: r.try_get("attempts")?,
        requested_at: r.try_get("requested_at")?,
        printed_at: r.try_get("printed_at")?,
        expires_at: r.try_get("expires_at")?,
        closed_at: r.try_get("closed_at")?,
        close_reason: r.try_get("close_reason")?,
    })
}

/// Inserts a new request (status `requested`). `Ok(false)` when the account already has
/// an active request (the partial unique index refused it).
pub async fn insert(conn: &mut Conn, l: &LetterRow) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO letter_requests (id, account_id, status, recipient, code_sealed, code_hash, \
           attempts, requested_at, updated_at) \
         VALUES ($1, $2, 'requested', $3, $4, $5, 0, $6, $6) ON CONFLICT DO NOTHING",
    )
    .bind(&l.id)
    .bind(&l.account_id)
    .bind(&l.recipient)
    .bind(&l.code_sealed)
    .bind(&l.code_hash)
    .bind(l.requested_at)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The newest request of an account, on `conn`.
pub async fn latest_in(conn: &mut Conn, account_id: &str) -> Result<Option<LetterRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM letter_requests WHERE account_id = $1 \
         ORDER BY requested_at DESC, id DESC LIMIT 1"
    );
    let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_optional(conn).await?;
    Ok(r.as_ref().map(row).transpose()?)
}

/// The newest request of an account.
pub async fn latest(db: &Db, account_id: &str) -> Result<Option<LetterRow>, StoreError> {
    latest_in(&mut *db.conn().await?, account_id).await
}

/// Requests of an account made at or after `since`.
pub async fn count_since(conn: &mut Conn, account_id: &str, since: i64) -> Result<i64, StoreError> {
    let r = sqlx::query(
        "SELECT COUNT(*) AS n FROM letter_requests WHERE account_id = $1 AND requested_at >= $2",
    )
    .bind(account_id)
    .bind(since)
    .fetch_one(conn)
    .await?;
    Ok(r.try_get("n")?)
}

/// Marks the account's sent letter whose code ran out at `now` as expired; returns its id.
pub async fn expire_due(
    conn: &mut Conn,
    account_id: &str,
    now: i64,
) -> Result<Option<String>, StoreError> {
    let r = sqlx::query(
        "UPDATE letter_requests SET status = 'expired', closed_at = $2, close_reason = 'expired', \
           updated_at = $2 \
         WHERE account_id = $1 AND status = 'sent' AND expires_at <= $2 RETURNING id",
    )
    .bind(account_id)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(r.map(|r| r.try_get("id")).transpose()?)
}

/// Closes an active request (`requested` or `sent`) with `status` and `reason`; the code's
/// ciphertext, if still there, is erased. `Ok(false)` if it was no longer active.
pub async fn close(
    conn: &mut Conn,
    id: &str,
    status: &str,
    reason: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE letter_requests SET status = $2, close_reason = $3, closed_at = $4, \
           code_sealed = NULL, updated_at = $4 \
         WHERE id = $1 AND status IN ('requested', 'sent')",
    )
    .bind(id)
    .bind(status)
    .bind(reason)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Every request waiting to be printed, oldest first.
pub async fn to_print(db: &Db) -> Result<Vec<LetterRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM letter_requests \
         WHERE status = 'requested' AND code_sealed IS NOT NULL ORDER BY requested_at, id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(db.pool()).await?;
    Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
}

/// The letter was printed: status `sent`, the code's expiry set, its ciphertext erased.
/// `Ok(false)` if the request was cancelled meanwhile.
pub async fn mark_printed(
    conn: &mut Conn,
    id: &str,
    printed_at: i64,
    expires_at: i64,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE letter_requests SET status = 'sent', printed_at = $2, expires_at = $3, \
           code_sealed = NULL, updated_at = $2 \
         WHERE id = $1 AND status = 'requested'",
    )
    .bind(id)
    .bind(printed_at)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Reserves one code check of a sent, unexpired letter, atomically *before* the code is
/// compared: parallel guesses cannot get more checks than `max`. Returns the new count,
/// or `None` when no check is allowed (used up, expired, closed).
pub async fn reserve_attempt(
    conn: &mut Conn,
    id: &str,
    now: i64,
    max: i64,
) -> Result<Option<i64>, StoreError> {
    let r = sqlx::query(
        "UPDATE letter_requests SET attempts = attempts + 1, updated_at = $2 \
         WHERE id = $1 AND status = 'sent' AND expires_at > $2 AND attempts < $3 \
         RETURNING attempts",
    )
    .bind(id)
    .bind(now)
    .bind(max)
    .fetch_optional(conn)
    .await?;
    Ok(r.map(|r| r.try_get("attempts")).transpose()?)
}

/// How many requests are in each state at `now` (a sent letter past its expiry counts as
/// `expired` even before anyone looked at it).
pub async fn counts(db: &Db, now: i64) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT state, COUNT(*) AS n FROM (SELECT CASE WHEN status = 'sent' AND expires_at <= $1 \
           THEN 'expired' ELSE status END AS state FROM letter_requests) AS s \
         GROUP BY state ORDER BY state",
    )
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}
