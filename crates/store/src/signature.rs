//! Rows of `signature_challenges`: the texts a person signs to confirm their account with
//! a qualified electronic signature.
//!
//! The guarding updates are single statements with the condition in the `WHERE`
//! ([`reserve_attempt`], [`use_up`]), so parallel requests cannot get more attempts than
//! allowed or use one challenge twice.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, StoreError};

/// One challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRow {
    /// A UUIDv7, given to the person (the form and the API name the challenge by it).
    pub id: String,
    pub account_id: String,
    /// The exact text to be signed (its UTF-8 bytes are the signed content).
    pub text: String,
    /// Verification attempts made with this challenge.
    pub attempts: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

const COLUMNS: &str = "id, account_id, text, attempts, created_at, expires_at, used_at";

fn row(r: &AnyRow) -> Result<ChallengeRow, sqlx::Error> {
    Ok(ChallengeRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        text: r.try_get("text")?,
        attempts: r.try_get("attempts")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
    })
}

/// Stores a new challenge.
pub async fn insert(conn: &mut Conn, c: &ChallengeRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO signature_challenges \
           (id, account_id, text, attempts, created_at, expires_at, used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&c.id)
    .bind(&c.account_id)
    .bind(&c.text)
    .bind(c.attempts)
    .bind(c.created_at)
    .bind(c.expires_at)
    .bind(c.used_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The account's newest challenge that can still be used at `now`: not used, not
/// expired, fewer than `max_attempts` attempts.
pub async fn live(
    conn: &mut Conn,
    account_id: &str,
    now: i64,
    max_attempts: i64,
) -> Result<Option<ChallengeRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM signature_challenges \
         WHERE account_id = $1 AND used_at IS NULL AND expires_at > $2 AND attempts < $3 \
         ORDER BY created_at DESC, id DESC LIMIT 1"
    );
    let r = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(account_id)
        .bind(now)
        .bind(max_attempts)
        .fetch_optional(conn)
        .await?;
    Ok(r.as_ref().map(row).transpose()?)
}

/// A challenge of this account by id.
pub async fn get(
    conn: &mut Conn,
    id: &str,
    account_id: &str,
) -> Result<Option<ChallengeRow>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM signature_challenges WHERE id = $1 AND account_id = $2");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(account_id)
        .fetch_optional(conn)
        .await?;
    Ok(r.as_ref().map(row).transpose()?)
}

/// Counts one verification attempt, if the challenge can still be used at `now` and has
/// had fewer than `max_attempts`. False when it cannot (used, expired or exhausted).
pub async fn reserve_attempt(
    conn: &mut Conn,
    id: &str,
    account_id: &str,
    now: i64,
    max_attempts: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE signature_challenges SET attempts = attempts + 1 \
         WHERE id = $1 AND account_id = $2 AND used_at IS NULL AND expires_at > $3 \
           AND attempts < $4",
    )
    .bind(id)
    .bind(account_id)
    .bind(now)
    .bind(max_attempts)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks the challenge used, if nobody did and it has not expired. False otherwise.
pub async fn use_up(conn: &mut Conn, id: &str, now: i64) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE signature_challenges SET used_at = $2 \
         WHERE id = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
