//! Rows of citizen accounts: accounts, contacts, registrations in progress, one-time
//! codes, throttles and sessions. The rules live in the `identity` crate; encrypted
//! columns hold vault ciphertext, `*_index` columns blind indexes, `*_hash` keyed hashes.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, Db, StoreError};

fn rows<T>(
    rows: &[AnyRow],
    f: fn(&AnyRow) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, StoreError> {
    Ok(rows.iter().map(f).collect::<Result<_, _>>()?)
}

// --- accounts ----------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub id: String,
    pub surname: String,
    pub given_name: String,
    pub patronymic: Option<String>,
    pub level: String,
    pub status: String,
    pub password_hash: String,
    pub password_changed_at: i64,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub terms_version: String,
    pub terms_accepted_at: i64,
    pub pd_version: String,
    pub pd_accepted_at: i64,
    pub created_at: i64,
    /// The password is temporary and must be replaced at the next sign-in.
    pub must_change_password: bool,
    /// Why a blocked account is blocked: `self` (by its owner), `closing` (closure
    /// requested; erased after `close_after`).
    pub block_reason: Option<String>,
    pub blocked_at: Option<i64>,
    pub close_after: Option<i64>,
}

const ACCOUNT: &str = "id, surname, given_name, patronymic, level, status, password_hash, \
     password_changed_at, failed_logins, locked_until, terms_version, terms_accepted_at, \
     pd_version, pd_accepted_at, created_at, must_change_password, block_reason, blocked_at, \
     close_after";

fn account(r: &AnyRow) -> Result<AccountRow, sqlx::Error> {
    Ok(AccountRow {
        id: r.try_get("id")?,
        surname: r.try_get("surname")?,
        given_name: r.try_get("given_name")?,
        patronymic: r.try_get("patronymic")?,
        level: r.try_get("level")?,
        status: r.try_get("status")?,
        password_hash: r.try_get("password_hash")?,
        password_changed_at: r.try_get("password_changed_at")?,
        failed_logins: r.try_get("failed_logins")?,
        locked_until: r.try_get("locked_until")?,
        terms_version: r.try_get("terms_version")?,
        terms_accepted_at: r.try_get("terms_accepted_at")?,
        pd_version: r.try_get("pd_version")?,
        pd_accepted_at: r.try_get("pd_accepted_at")?,
        created_at: r.try_get("created_at")?,
        must_change_password: r.try_get::<i64, _>("must_change_password")? != 0,
        block_reason: r.try_get("block_reason")?,
        blocked_at: r.try_get("blocked_at")?,
        close_after: r.try_get("close_after")?,
    })
}

pub async fn insert_account(conn: &mut Conn, a: &AccountRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO accounts (id, surname, given_name, patronymic, level, status, password_hash, \
         password_changed_at, failed_logins, terms_version, terms_accepted_at, pd_version, \
         pd_accepted_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11, $12, $13, $13)",
    )
    .bind(&a.id)
    .bind(&a.surname)
    .bind(&a.given_name)
    .bind(&a.patronymic)
    .bind(&a.level)
    .bind(&a.status)
    .bind(&a.password_hash)
    .bind(a.password_changed_at)
    .bind(&a.terms_version)
    .bind(a.terms_accepted_at)
    .bind(&a.pd_version)
    .bind(a.pd_accepted_at)
    .bind(a.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn count_accounts(db: &Db) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM accounts").fetch_one(db.pool()).await?;
    Ok(row.try_get("n")?)
}

/// From a reader (the last committed state; see [`Db::read`]).
pub async fn get_account(db: &Db, id: &str) -> Result<Option<AccountRow>, StoreError> {
    account_in(&mut *db.read().await?, id).await
}

/// [`get_account`] on a given connection (inside a transaction).
pub async fn account_in(conn: &mut Conn, id: &str) -> Result<Option<AccountRow>, StoreError> {
    let sql = format!("SELECT {ACCOUNT} FROM accounts WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    Ok(row.as_ref().map(account).transpose()?)
}

/// Reserves one password check for an account that is not locked, atomically: the
/// counter goes up *before* the password is checked, so parallel guesses cannot get
/// more checks than `max`. The check that reaches `max` locks the account until
/// `lock_until` (it is still made). An expired lock starts a fresh count. Returns the
/// new count, or `None` when the account is locked (no check allowed).
pub async fn reserve_password_check(
    db: &Db,
    id: &str,
    now: i64,
    max: i64,
    lock_until: i64,
) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query(
        "UPDATE accounts SET \
           failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until <= $1 THEN 1 \
                                ELSE failed_logins + 1 END, \
           locked_until = CASE WHEN locked_until IS NOT NULL AND locked_until <= $1 THEN \
                                  CASE WHEN 1 >= $2 THEN $3 ELSE NULL END \
                               WHEN failed_logins + 1 >= $2 THEN $3 \
                               ELSE locked_until END, \
           updated_at = $1 \
         WHERE id = $4 AND (locked_until IS NULL OR locked_until <= $1) \
         RETURNING failed_logins",
    )
    .bind(now)
    .bind(max)
    .bind(lock_until)
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|r| r.try_get("failed_logins")).transpose()?)
}

/// After a correct password: the failure count and any lock are cleared (on `conn`, so
/// a sign-in commits it with its session in one write).
pub async fn clear_password_failures(
    conn: &mut Conn,
    id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE accounts SET failed_logins = 0, locked_until = NULL, updated_at = $1 WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_password(
    conn: &mut Conn,
    id: &str,
    hash: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE accounts SET password_hash = $1, password_changed_at = $2, failed_logins = 0, \
         locked_until = NULL, updated_at = $2 WHERE id = $3",
    )
    .bind(hash)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

// --- contacts ----------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRow {
    pub id: String,
    pub account_id: String,
    pub kind: String,
    pub value: String,
    pub value_index: String,
    pub confirmed_at: Option<i64>,
    pub created_at: i64,
}

fn contact(r: &AnyRow) -> Result<ContactRow, sqlx::Error> {
    Ok(ContactRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        kind: r.try_get("kind")?,
        value: r.try_get("value")?,
        value_index: r.try_get("value_index")?,
        confirmed_at: r.try_get("confirmed_at")?,
        created_at: r.try_get("created_at")?,
    })
}

const CONTACT: &str = "id, account_id, kind, value, value_index, confirmed_at, created_at";

/// Inserts a contact; `Ok(false)` if the contact already belongs to an account.
pub async fn insert_contact(conn: &mut Conn, c: &ContactRow) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO contacts (id, account_id, kind, value, value_index, confirmed_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (kind, value_index) DO NOTHING",
    )
    .bind(&c.id)
    .bind(&c.account_id)
    .bind(&c.kind)
    .bind(&c.value)
    .bind(&c.value_index)
    .bind(c.confirmed_at)
    .bind(c.created_at)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn contact_by_index(
    db: &Db,
    kind: &str,
    index: &str,
) -> Result<Option<ContactRow>, StoreError> {
    let sql = format!("SELECT {CONTACT} FROM contacts WHERE kind = $1 AND value_index = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(kind)
        .bind(index)
        .fetch_optional(&mut *db.read().await?)
        .await?;
    Ok(row.as_ref().map(contact).transpose()?)
}

/// From a reader (the last committed state; see [`Db::read`]).
pub async fn contacts_of(db: &Db, account_id: &str) -> Result<Vec<ContactRow>, StoreError> {
    contacts_in(&mut *db.read().await?, account_id).await
}

/// [`contacts_of`] on a given connection (inside a transaction).
pub async fn contacts_in(conn: &mut Conn, account_id: &str) -> Result<Vec<ContactRow>, StoreError> {
    let sql = format!(
        "SELECT {CONTACT} FROM contacts WHERE account_id = $1 ORDER BY kind DESC, created_at, id"
    );
    let found = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_all(conn).await?;
    rows(&found, contact)
}

// --- registrations -----------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRow {
    pub id: String,
    pub surname: String,
    pub given_name: String,
    pub patronymic: Option<String>,
    pub contact_kind: String,
    pub contact_value: String,
    pub contact_index: String,
    pub terms_version: String,
    pub terms_accepted_at: i64,
    pub pd_version: String,
    pub pd_accepted_at: i64,
    pub confirmed_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub account_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

const REGISTRATION: &str = "id, surname, given_name, patronymic, contact_kind, contact_value, \
     contact_index, terms_version, terms_accepted_at, pd_version, pd_accepted_at, confirmed_at, \
     completed_at, account_id, created_at, expires_at";

fn registration(r: &AnyRow) -> Result<RegistrationRow, sqlx::Error> {
    Ok(RegistrationRow {
        id: r.try_get("id")?,
        surname: r.try_get("surname")?,
        given_name: r.try_get("given_name")?,
        patronymic: r.try_get("patronymic")?,
        contact_kind: r.try_get("contact_kind")?,
        contact_value: r.try_get("contact_value")?,
        contact_index: r.try_get("contact_index")?,
        terms_version: r.try_get("terms_version")?,
        terms_accepted_at: r.try_get("terms_accepted_at")?,
        pd_version: r.try_get("pd_version")?,
        pd_accepted_at: r.try_get("pd_accepted_at")?,
        confirmed_at: r.try_get("confirmed_at")?,
        completed_at: r.try_get("completed_at")?,
        account_id: r.try_get("account_id")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

pub async fn insert_registration(conn: &mut Conn, r: &RegistrationRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO registrations (id, surname, given_name, patronymic, contact_kind, \
         contact_value, contact_index, terms_version, terms_accepted_at, pd_version, \
         pd_accepted_at, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&r.id)
    .bind(&r.surname)
    .bind(&r.given_name)
    .bind(&r.patronymic)
    .bind(&r.contact_kind)
    .bind(&r.contact_value)
    .bind(&r.contact_index)
    .bind(&r.terms_version)
    .bind(r.terms_accepted_at)
    .bind(&r.pd_version)
    .bind(r.pd_accepted_at)
    .bind(r.created_at)
    .bind(r.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_registration(db: &Db, id: &str) -> Result<Option<RegistrationRow>, StoreError> {
    let sql = format!("SELECT {REGISTRATION} FROM registrations WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(db.pool()).await?;
    Ok(row.as_ref().map(registration).transpose()?)
}

pub async fn confirm_registration(conn: &mut Conn, id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE registrations SET confirmed_at = $1 WHERE id = $2 AND confirmed_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a confirmed registration completed; `Ok(false)` if it already was (a double
/// submit), so only one account is ever created from it.
pub async fn complete_registration(
    conn: &mut Conn,
    id: &str,
    account_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE registrations SET completed_at = $1, account_id = $2 \
         WHERE id = $3 AND confirmed_at IS NOT NULL AND completed_at IS NULL",
    )
    .bind(now)
    .bind(account_id)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

// --- one-time codes ----------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    pub id: String,
    pub purpose: String,
    pub flow_id: String,
    pub contact_index: String,
    pub code_hash: String,
    pub link_hash: Option<String>,
    pub attempts: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

const CODE: &str = "id, purpose, flow_id, contact_index, code_hash, link_hash, attempts, \
                    created_at, expires_at, used_at";

fn code(r: &AnyRow) -> Result<CodeRow, sqlx::Error> {
    Ok(CodeRow {
        id: r.try_get("id")?,
        purpose: r.try_get("purpose")?,
        flow_id: r.try_get("flow_id")?,
        contact_index: r.try_get("contact_index")?,
        code_hash: r.try_get("code_hash")?,
        link_hash: r.try_get("link_hash")?,
        attempts: r.try_get("attempts")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
    })
}

pub async fn insert_code(conn: &mut Conn, c: &CodeRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO codes (id, purpose, flow_id, contact_index, code_hash, link_hash, attempts, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)",
    )
    .bind(&c.id)
    .bind(&c.purpose)
    .bind(&c.flow_id)
    .bind(&c.contact_index)
    .bind(&c.code_hash)
    .bind(&c.link_hash)
    .bind(c.created_at)
    .bind(c.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The newest code of a flow.
pub async fn latest_code(
    db: &Db,
    purpose: &str,
    flow_id: &str,
) -> Result<Option<CodeRow>, StoreError> {
    let sql = format!(
        "SELECT {CODE} FROM codes WHERE purpose = $1 AND flow_id = $2 \
         ORDER BY created_at DESC, id DESC LIMIT 1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(purpose)
        .bind(flow_id)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.as_ref().map(code).transpose()?)
}

/// Counts a wrong entry against a live code, atomically and only while it has attempts
/// left. Returns the new attempt count, or `None` if the code was no longer usable.
pub async fn count_wrong_code(
    db: &Db,
    id: &str,
    now: i64,
    max_attempts: i64,
) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query(
        "UPDATE codes SET attempts = attempts + 1 WHERE id = $1 AND used_at IS NULL \
         AND expires_at > $2 AND attempts < $3 RETURNING attempts",
    )
    .bind(id)
    .bind(now)
    .bind(max_attempts)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|r| r.try_get("attempts")).transpose()?)
}

/// Uses a live code up, atomically: `Ok(true)` only for the one caller that did.
pub async fn use_code(
    conn: &mut Conn,
    id: &str,
    now: i64,
    max_attempts: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND expires_at > $1 \
         AND attempts < $3",
    )
    .bind(now)
    .bind(id)
    .bind(max_attempts)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

// --- throttles ---------------------------------------------------------------------------

/// Records one failure (or one reserved attempt) for `key` in a window of `window` µs;
/// once `limit` fall in one window the key is blocked until `now + block`. A window that
/// ran out, or a block that ended, starts a fresh count. Atomic (one upsert), so it can
/// reserve an attempt before the attempt is made. Returns (count in the window, blocked
/// until).
pub async fn throttle_failure(
    db: &Db,
    key: &str,
    now: i64,
    window: i64,
    limit: i64,
    block: i64,
) -> Result<(i64, Option<i64>), StoreError> {
    let row = sqlx::query(
        "INSERT INTO throttle (key, failures, window_start, blocked_until) \
         VALUES ($1, 1, $2, CASE WHEN 1 >= $4 THEN $2 + $5 ELSE NULL END) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN throttle.window_start <= $2 - $3 \
                             OR (throttle.blocked_until IS NOT NULL AND throttle.blocked_until <= $2) \
                           THEN 1 ELSE throttle.failures + 1 END, \
           window_start = CASE WHEN throttle.window_start <= $2 - $3 \
                                 OR (throttle.blocked_until IS NOT NULL AND throttle.blocked_until <= $2) \
                               THEN $2 ELSE throttle.window_start END, \
           blocked_until = CASE \
             WHEN throttle.window_start <= $2 - $3 \
                  OR (throttle.blocked_until IS NOT NULL AND throttle.blocked_until <= $2) \
             THEN CASE WHEN 1 >= $4 THEN $2 + $5 ELSE NULL END \
             WHEN throttle.failures + 1 >= $4 AND throttle.blocked_until IS NULL THEN $2 + $5 \
             ELSE throttle.blocked_until END \
         RETURNING failures, blocked_until",
    )
    .bind(key)
    .bind(now)
    .bind(window)
    .bind(limit)
    .bind(block)
    .fetch_one(db.pool())
    .await?;
    Ok((row.try_get("failures")?, row.try_get("blocked_until")?))
}

/// Gives back one reserved attempt that turned out right (a correct code): the count goes
/// down and a block that only this attempt caused is lifted.
pub async fn throttle_refund(db: &Db, key: &str, limit: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE throttle SET failures = failures - 1, \
           blocked_until = CASE WHEN failures - 1 < $2 THEN NULL ELSE blocked_until END \
         WHERE key = $1 AND failures > 0",
    )
    .bind(key)
    .bind(limit)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Until when `key` is blocked, if it is blocked at `now`.
pub async fn throttle_blocked(db: &Db, key: &str, now: i64) -> Result<Option<i64>, StoreError> {
    let row =
        sqlx::query("SELECT blocked_until FROM throttle WHERE key = $1 AND blocked_until > $2")
            .bind(key)
            .bind(now)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|r| r.try_get("blocked_until")).transpose()?)
}

// --- sessions ----------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub account_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
    /// Opened with a temporary password: only the password change is allowed.
    pub must_change: bool,
    /// Keyed hash of the «это не я» token sent with a new-device notice.
    pub disown_hash: Option<String>,
}

const SESSION: &str = "id, account_id, created_at, last_seen_at, expires_at, ip, user_agent, \
                       ended_at, end_reason, must_change, disown_hash";

fn session(r: &AnyRow) -> Result<SessionRow, sqlx::Error> {
    Ok(SessionRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        expires_at: r.try_get("expires_at")?,
        ip: r.try_get("ip")?,
        user_agent: r.try_get("user_agent")?,
        ended_at: r.try_get("ended_at")?,
        end_reason: r.try_get("end_reason")?,
        must_change: r.try_get::<i64, _>("must_change")? != 0,
        disown_hash: r.try_get("disown_hash")?,
    })
}

pub async fn insert_session(conn: &mut Conn, s: &SessionRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sessions (id, account_id, created_at, last_seen_at, expires_at, ip, \
         user_agent, must_change, disown_hash) VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&s.id)
    .bind(&s.account_id)
    .bind(s.created_at)
    .bind(s.expires_at)
    .bind(&s.ip)
    .bind(&s.user_agent)
    .bind(i64::from(s.must_change))
    .bind(&s.disown_hash)
    .execute(conn)
    .await?;
    Ok(())
}

/// A live session: not ended, not past its absolute expiry, seen within `idle` µs. Its
/// `last_seen_at` is moved forward at most once per `precision` µs, so a look-up is
/// almost always a read (a write per request would mean an fsync per request).
pub async fn touch_session(
    db: &Db,
    id: &str,
    now: i64,
    idle: i64,
    precision: i64,
) -> Result<Option<SessionRow>, StoreError> {
    let sql = format!(
        "SELECT {SESSION} FROM sessions WHERE id = $1 AND ended_at IS NULL \
         AND expires_at > $2 AND last_seen_at > $2 - $3"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(now)
        .bind(idle)
        .fetch_optional(&mut *db.read().await?)
        .await?;
    let Some(mut session) = row.as_ref().map(session).transpose()? else {
        return Ok(None);
    };
    if session.last_seen_at <= now - precision {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1")
            .bind(now)
            .bind(id)
            .execute(db.pool())
            .await?;
        session.last_seen_at = now;
    }
    Ok(Some(session))
}

/// Ends one session.
pub async fn end_session(db: &Db, id: &str, now: i64, reason: &str) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every live session of an account except `keep`; returns how many.
pub async fn end_sessions_of(
    conn: &mut Conn,
    account_id: &str,
    keep: Option<&str>,
    now: i64,
    reason: &str,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE sessions SET ended_at = $1, end_reason = $2 \
         WHERE account_id = $3 AND ended_at IS NULL AND id <> $4",
    )
    .bind(now)
    .bind(reason)
    .bind(account_id)
    .bind(keep.unwrap_or(""))
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The newest sessions of an account, live or ended.
pub async fn sessions_of(
    db: &Db,
    account_id: &str,
    limit: i64,
) -> Result<Vec<SessionRow>, StoreError> {
    let sql = format!(
        "SELECT {SESSION} FROM sessions WHERE account_id = $1 ORDER BY created_at DESC LIMIT $2"
    );
    let found = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(account_id)
        .bind(limit)
        .fetch_all(&mut *db.read().await?)
        .await?;
    rows(&found, session)
}

// --- contact flows (recovery, contact change) --------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactFlowRow {
    pub id: String,
    pub purpose: String,
    pub account_id: Option<String>,
    pub contact_kind: String,
    pub contact_value: String,
    pub contact_index: String,
    pub confirmed_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

const FLOW: &str = "id, purpose, account_id, contact_kind, contact_value, contact_index, \
                    confirmed_at, completed_at, created_at, expires_at";

fn flow(r: &AnyRow) -> Result<ContactFlowRow, sqlx::Error> {
    Ok(ContactFlowRow {
        id: r.try_get("id")?,
        purpose: r.try_get("purpose")?,
        account_id: r.try_get("account_id")?,
        contact_kind: r.try_get("contact_kind")?,
        contact_value: r.try_get("contact_value")?,
        contact_index: r.try_get("contact_index")?,
        confirmed_at: r.try_get("confirmed_at")?,
        completed_at: r.try_get("completed_at")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

pub async fn insert_flow(conn: &mut Conn, f: &ContactFlowRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO contact_flows (id, purpose, account_id, contact_kind, contact_value, \
         contact_index, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&f.id)
    .bind(&f.purpose)
    .bind(&f.account_id)
    .bind(&f.contact_kind)
    .bind(&f.contact_value)
    .bind(&f.contact_index)
    .bind(f.created_at)
    .bind(f.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_flow(db: &Db, id: &str) -> Result<Option<ContactFlowRow>, StoreError> {
    let sql = format!("SELECT {FLOW} FROM contact_flows WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(db.pool()).await?;
    Ok(row.as_ref().map(flow).transpose()?)
}

pub async fn confirm_flow(conn: &mut Conn, id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE contact_flows SET confirmed_at = $1 WHERE id = $2 AND confirmed_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Completes a confirmed flow once: `Ok(false)` for a second submit.
pub async fn complete_flow(conn: &mut Conn, id: &str, now: i64) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE contact_flows SET completed_at = $1 WHERE id = $2 \
         AND confirmed_at IS NOT NULL AND completed_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the value of an account's contact of one kind (already confirmed).
pub async fn replace_contact(
    conn: &mut Conn,
    contact_id: &str,
    value: &str,
    index: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE contacts SET value = $1, value_index = $2, confirmed_at = $3 WHERE id = $4",
    )
    .bind(value)
    .bind(index)
    .bind(now)
    .bind(contact_id)
    .execute(conn)
    .await;
    match done {
        Ok(d) => Ok(d.rows_affected() == 1),
        // The unique index refuses a contact that another account took meanwhile.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The channels a person chose for copies of application notices: (by e-mail, by SMS);
/// `None` when they never chose.
pub async fn notification_channels(
    db: &Db,
    account_id: &str,
) -> Result<Option<(bool, bool)>, StoreError> {
    let row = sqlx::query(
        "SELECT CAST(by_email AS BIGINT) AS by_email, CAST(by_sms AS BIGINT) AS by_sms \
         FROM notification_channels WHERE account_id = $1",
    )
    .bind(account_id)
    .fetch_optional(&mut *db.read().await?)
    .await?;
    Ok(match row {
        Some(r) => {
            let email: i64 = r.try_get("by_email")?;
            let sms: i64 = r.try_get("by_sms")?;
            Some((email != 0, sms != 0))
        }
        None => None,
    })
}

/// Records the person's choice of channels on `conn` (with its journal entry).
pub async fn set_notification_channels(
    conn: &mut Conn,
    account_id: &str,
    by_email: bool,
    by_sms: bool,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO notification_channels (account_id, by_email, by_sms, updated_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (account_id) DO UPDATE \
         SET by_email = excluded.by_email, by_sms = excluded.by_sms, updated_at = excluded.updated_at",
    )
    .bind(account_id)
    .bind(i16::from(by_email))
    .bind(i16::from(by_sms))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
