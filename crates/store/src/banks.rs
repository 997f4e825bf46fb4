//! Rows of `bank_flows`: authorization requests sent to a trusted bank, each used once.

use sqlx::Row;

use crate::{Conn, StoreError};

/// One authorization request to a bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankFlowRow {
    /// The keyed hash of the `state` value.
    pub id: String,
    pub account_id: String,
    /// The keyed hash of the session that started the flow.
    pub session_id: String,
    /// `web` (the callback must come in the same browser session) or `api`.
    pub kind: String,
    pub bank_id: String,
    /// Vault ciphertext.
    pub nonce: String,
    /// Vault ciphertext.
    pub pkce_verifier: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Records a new flow, and forgets flows that expired more than a day ago.
pub async fn insert(conn: &mut Conn, row: &BankFlowRow) -> Result<(), StoreError> {
    const DAY: i64 = 24 * 3600 * 1_000_000;
    sqlx::query("DELETE FROM bank_flows WHERE expires_at < $1")
        .bind(row.created_at - DAY)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO bank_flows (id, account_id, session_id, kind, bank_id, nonce, \
           pkce_verifier, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&row.id)
    .bind(&row.account_id)
    .bind(&row.session_id)
    .bind(&row.kind)
    .bind(&row.bank_id)
    .bind(&row.nonce)
    .bind(&row.pkce_verifier)
    .bind(row.created_at)
    .bind(row.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Uses up the flow `id` if it is unused and not expired at `now`, and returns it. One
/// guarded statement decides, so a state replayed in parallel is accepted at most once.
pub async fn take(conn: &mut Conn, id: &str, now: i64) -> Result<Option<BankFlowRow>, StoreError> {
    let done = sqlx::query(
        "UPDATE bank_flows SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(None);
    }
    let r = sqlx::query(
        "SELECT id, account_id, session_id, kind, bank_id, nonce, pkce_verifier, created_at, \
           expires_at, used_at FROM bank_flows WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    let Some(r) = r else { return Ok(None) };
    Ok(Some(BankFlowRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        session_id: r.try_get("session_id")?,
        kind: r.try_get("kind")?,
        bank_id: r.try_get("bank_id")?,
        nonce: r.try_get("nonce")?,
        pkce_verifier: r.try_get("pkce_verifier")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
    }))
}
