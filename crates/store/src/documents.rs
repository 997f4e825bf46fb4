//! Rows of `person_documents`: a standard account's documents and their registry check.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, Db, StoreError};

/// One account's documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentsRow {
    pub account_id: String,
    /// `checking`, `waiting` (registry unreachable, retrying), `verified`, `refused`.
    pub status: String,
    /// Vault ciphertext of the verified data, in force.
    pub verified: Option<String>,
    pub verified_at: Option<i64>,
    /// Vault ciphertext of the data awaiting (or refused by) the check.
    pub pending: Option<String>,
    /// JSON object field → Russian reason, of the last refusal.
    pub reasons: Option<String>,
    pub submitted_at: i64,
    pub checked_at: Option<i64>,
    pub snils_index: Option<String>,
    pub passport_index: Option<String>,
    pub inn_index: Option<String>,
}

const COLUMNS: &str = "account_id, status, verified, verified_at, pending, reasons, \
     submitted_at, checked_at, snils_index, passport_index, inn_index";

fn row(r: &AnyRow) -> Result<DocumentsRow, sqlx::Error> {
    Ok(DocumentsRow {
        account_id: r.try_get("account_id")?,
        status: r.try_get("status")?,
        verified: r.try_get("verified")?,
        verified_at: r.try_get("verified_at")?,
        pending: r.try_get("pending")?,
        reasons: r.try_get("reasons")?,
        submitted_at: r.try_get("submitted_at")?,
        checked_at: r.try_get("checked_at")?,
        snils_index: r.try_get("snils_index")?,
        passport_index: r.try_get("passport_index")?,
        inn_index: r.try_get("inn_index")?,
    })
}

/// The documents of an account, if it ever submitted any.
pub async fn get(conn: &mut Conn, account_id: &str) -> Result<Option<DocumentsRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM person_documents WHERE account_id = $1");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_optional(conn).await?;
    Ok(r.as_ref().map(row).transpose()?)
}

/// The account whose verified SNILS has this blind index.
pub async fn account_by_snils(db: &Db, snils_index: &str) -> Result<Option<String>, StoreError> {
    let r = sqlx::query("SELECT account_id FROM person_documents WHERE snils_index = $1")
        .bind(snils_index)
        .fetch_optional(&mut *db.read().await?)
        .await?;
    Ok(r.map(|r| r.try_get("account_id")).transpose()?)
}

/// Accounts whose verified passport has this blind index.
pub async fn accounts_by_passport(
    db: &Db,
    passport_index: &str,
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT account_id FROM person_documents WHERE passport_index = $1")
        .bind(passport_index)
        .fetch_all(&mut *db.read().await?)
        .await?;
    Ok(rows.iter().map(|r| r.try_get("account_id")).collect::<Result<_, _>>()?)
}

/// Records newly submitted data for a check: status `checking`, the verified data (if
/// any) untouched.
pub async fn submit(
    conn: &mut Conn,
    account_id: &str,
    pending: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO person_documents (account_id, status, pending, submitted_at, updated_at) \
         VALUES ($1, 'checking', $2, $3, $3) \
         ON CONFLICT (account_id) DO UPDATE SET status = 'checking', pending = excluded.pending, \
           reasons = NULL, submitted_at = excluded.submitted_at, checked_at = NULL, \
           updated_at = excluded.updated_at",
    )
    .bind(account_id)
    .bind(pending)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The registry could not be reached: the check waits and will be retried.
pub async fn set_waiting(conn: &mut Conn, account_id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE person_documents SET status = 'waiting', updated_at = $2 \
         WHERE account_id = $1 AND status IN ('checking', 'waiting')",
    )
    .bind(account_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The check confirmed the pending data: it becomes the verified data.
pub async fn set_verified(
    conn: &mut Conn,
    account_id: &str,
    verified: &str,
    indexes: (&str, &str, Option<&str>),
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE person_documents SET status = 'verified', verified = $2, verified_at = $6, \
           pending = NULL, reasons = NULL, checked_at = $6, snils_index = $3, \
           passport_index = $4, inn_index = $5, updated_at = $6 \
         WHERE account_id = $1",
    )
    .bind(account_id)
    .bind(verified)
    .bind(indexes.0)
    .bind(indexes.1)
    .bind(indexes.2)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The check refused the pending data, for `reasons` (JSON); verified data stays.
pub async fn set_refused(
    conn: &mut Conn,
    account_id: &str,
    reasons: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE person_documents SET status = 'refused', reasons = $2, checked_at = $3, \
           updated_at = $3 WHERE account_id = $1",
    )
    .bind(account_id)
    .bind(reasons)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces an account's (encrypted) names with the verified ones.
pub async fn set_names(
    conn: &mut Conn,
    account_id: &str,
    surname: &str,
    given_name: &str,
    patronymic: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE accounts SET surname = $2, given_name = $3, patronymic = $4, updated_at = $5 \
         WHERE id = $1",
    )
    .bind(account_id)
    .bind(surname)
    .bind(given_name)
    .bind(patronymic)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets an account's level (`simplified`, `standard`, `confirmed`).
pub async fn set_level(
    conn: &mut Conn,
    account_id: &str,
    level: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE accounts SET level = $2, updated_at = $3 WHERE id = $1")
        .bind(account_id)
        .bind(level)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}
