//! Rows of the staff side: service centres, staff accounts and their sessions, activation
//! codes of accounts registered by an operator, and operators' pending confirmations.
//! The rules live in `identity::staff` and `identity::centers`.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, Db, StoreError};

// --- service centres ---------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CenterRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub region: String,
    pub city: String,
    pub address: String,
    pub phone: String,
    /// JSON array of seven strings, Monday first; `""` is a day off.
    pub hours: String,
    pub search: String,
}

const CENTER: &str = "id, name, kind, region, city, address, phone, hours, search";

fn center(r: &AnyRow) -> Result<CenterRow, sqlx::Error> {
    Ok(CenterRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        region: r.try_get("region")?,
        city: r.try_get("city")?,
        address: r.try_get("address")?,
        phone: r.try_get("phone")?,
        hours: r.try_get("hours")?,
        search: r.try_get("search")?,
    })
}

/// Inserts or updates a centre and marks it active.
pub async fn upsert_center(conn: &mut Conn, c: &CenterRow, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO service_centers (id, name, kind, region, city, address, phone, hours, \
           search, active, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
           region = excluded.region, city = excluded.city, address = excluded.address, \
           phone = excluded.phone, hours = excluded.hours, search = excluded.search, \
           active = 1, updated_at = excluded.updated_at",
    )
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.kind)
    .bind(&c.region)
    .bind(&c.city)
    .bind(&c.address)
    .bind(&c.phone)
    .bind(&c.hours)
    .bind(&c.search)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks inactive every centre not updated at `now` (the file no longer lists it).
pub async fn deactivate_centers_before(conn: &mut Conn, now: i64) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE service_centers SET active = 0, updated_at = $1 WHERE updated_at < $1 AND active = 1",
    )
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Active centres, optionally in `city` and containing `text` (already lower-cased) in
/// their search column, ordered by city and name.
pub async fn find_centers(
    db: &Db,
    city: Option<&str>,
    text: Option<&str>,
) -> Result<Vec<CenterRow>, StoreError> {
    let sql = format!(
        "SELECT {CENTER} FROM service_centers WHERE active = 1 \
         AND ($1 = '' OR city = $1) AND ($2 = '' OR search LIKE $3 ESCAPE '\\') \
         ORDER BY city, name"
    );
    let text = text.unwrap_or_default();
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(city.unwrap_or_default())
        .bind(text)
        .bind(format!("%{}%", like_escape(text)))
        .fetch_all(&mut *db.read().await?)
        .await?;
    Ok(rows.iter().map(center).collect::<Result<_, _>>()?)
}

/// The cities that have an active centre, sorted.
pub async fn center_cities(db: &Db) -> Result<Vec<String>, StoreError> {
    let rows =
        sqlx::query("SELECT DISTINCT city FROM service_centers WHERE active = 1 ORDER BY city")
            .fetch_all(&mut *db.read().await?)
            .await?;
    Ok(rows.iter().map(|r| r.try_get("city")).collect::<Result<_, _>>()?)
}

/// One centre by id, active or not.
pub async fn center_by_id(conn: &mut Conn, id: &str) -> Result<Option<CenterRow>, StoreError> {
    let sql = format!("SELECT {CENTER} FROM service_centers WHERE id = $1");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    Ok(r.as_ref().map(center).transpose()?)
}

// --- staff -------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRow {
    pub id: String,
    pub login: String,
    /// Vault ciphertext.
    pub full_name: String,
    pub role: String,
    pub center_id: Option<String>,
    pub agency: Option<String>,
    pub password_hash: String,
    pub must_change_password: bool,
    pub status: String,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub password_changed_at: i64,
    pub last_sign_in_at: Option<i64>,
    pub created_at: i64,
}

const STAFF: &str = "id, login, full_name, role, center_id, agency, password_hash, \
     CAST(must_change_password AS BIGINT) AS must_change, status, failed_logins, locked_until, \
     password_changed_at, last_sign_in_at, created_at";

fn staff(r: &AnyRow) -> Result<StaffRow, sqlx::Error> {
    let must: i64 = r.try_get("must_change")?;
    Ok(StaffRow {
        id: r.try_get("id")?,
        login: r.try_get("login")?,
        full_name: r.try_get("full_name")?,
        role: r.try_get("role")?,
        center_id: r.try_get("center_id")?,
        agency: r.try_get("agency")?,
        password_hash: r.try_get("password_hash")?,
        must_change_password: must != 0,
        status: r.try_get("status")?,
        failed_logins: r.try_get("failed_logins")?,
        locked_until: r.try_get("locked_until")?,
        password_changed_at: r.try_get("password_changed_at")?,
        last_sign_in_at: r.try_get("last_sign_in_at")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Inserts a staff member; `false` when the login is taken.
pub async fn insert_staff(conn: &mut Conn, s: &StaffRow) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO staff (id, login, full_name, role, center_id, agency, password_hash, \
           must_change_password, status, failed_logins, password_changed_at, created_at, \
           updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11, $11) \
         ON CONFLICT (login) DO NOTHING",
    )
    .bind(&s.id)
    .bind(&s.login)
    .bind(&s.full_name)
    .bind(&s.role)
    .bind(&s.center_id)
    .bind(&s.agency)
    .bind(&s.password_hash)
    .bind(i16::from(s.must_change_password))
    .bind(&s.status)
    .bind(s.password_changed_at)
    .bind(s.created_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn count_staff(db: &Db) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM staff").fetch_one(db.pool()).await?;
    Ok(row.try_get("n")?)
}

pub async fn staff_by_login(db: &Db, login: &str) -> Result<Option<StaffRow>, StoreError> {
    let sql = format!("SELECT {STAFF} FROM staff WHERE login = $1");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(login)
        .fetch_optional(&mut *db.read().await?)
        .await?;
    Ok(r.as_ref().map(staff).transpose()?)
}

pub async fn staff_by_id(conn: &mut Conn, id: &str) -> Result<Option<StaffRow>, StoreError> {
    let sql = format!("SELECT {STAFF} FROM staff WHERE id = $1");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    Ok(r.as_ref().map(staff).transpose()?)
}

/// Every staff member, by login.
pub async fn list_staff(db: &Db) -> Result<Vec<StaffRow>, StoreError> {
    let sql = format!("SELECT {STAFF} FROM staff ORDER BY login");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *db.read().await?).await?;
    Ok(rows.iter().map(staff).collect::<Result<_, _>>()?)
}

/// Reserves one password check for a staff member who is not locked (the same atomic
/// scheme as citizens' `identity::reserve_password_check`): the count goes up before the
/// check; the check that reaches `max` locks until `lock_until`. `None` when locked.
pub async fn reserve_staff_password_check(
    db: &Db,
    id: &str,
    now: i64,
    max: i64,
    lock_until: i64,
) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query(
        "UPDATE staff SET \
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

/// A correct password: failures and lock cleared; with `signed_in` the sign-in time too.
pub async fn clear_staff_failures(
    conn: &mut Conn,
    id: &str,
    now: i64,
    signed_in: bool,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE staff SET failed_logins = 0, locked_until = NULL, updated_at = $1, \
         last_sign_in_at = CASE WHEN $3 = 1 THEN $1 ELSE last_sign_in_at END WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .bind(i16::from(signed_in))
    .execute(conn)
    .await?;
    Ok(())
}

/// A new password (`must_change` for a one-time one); failures and lock cleared.
pub async fn set_staff_password(
    conn: &mut Conn,
    id: &str,
    hash: &str,
    must_change: bool,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE staff SET password_hash = $1, must_change_password = $2, \
         password_changed_at = $3, failed_logins = 0, locked_until = NULL, updated_at = $3 \
         WHERE id = $4",
    )
    .bind(hash)
    .bind(i16::from(must_change))
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// `active` or `blocked`.
pub async fn set_staff_status(
    conn: &mut Conn,
    id: &str,
    status: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE staff SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

// --- staff sessions ----------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSessionRow {
    pub id: String,
    pub staff_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub async fn insert_staff_session(conn: &mut Conn, s: &StaffSessionRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO staff_sessions (id, staff_id, created_at, last_seen_at, expires_at, ip, \
         user_agent) VALUES ($1, $2, $3, $3, $4, $5, $6)",
    )
    .bind(&s.id)
    .bind(&s.staff_id)
    .bind(s.created_at)
    .bind(s.expires_at)
    .bind(&s.ip)
    .bind(&s.user_agent)
    .execute(conn)
    .await?;
    Ok(())
}

/// A live staff session (see `identity::touch_session` for the rules: not ended, not
/// expired, seen within `idle`; `last_seen_at` moves at most once per `precision`).
pub async fn touch_staff_session(
    db: &Db,
    id: &str,
    now: i64,
    idle: i64,
    precision: i64,
) -> Result<Option<StaffSessionRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, staff_id, created_at, last_seen_at, expires_at, ip, user_agent \
         FROM staff_sessions WHERE id = $1 AND ended_at IS NULL AND expires_at > $2 \
         AND last_seen_at > $2 - $3",
    )
    .bind(id)
    .bind(now)
    .bind(idle)
    .fetch_optional(&mut *db.read().await?)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let mut s = StaffSessionRow {
        id: r.try_get("id")?,
        staff_id: r.try_get("staff_id")?,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        expires_at: r.try_get("expires_at")?,
        ip: r.try_get("ip")?,
        user_agent: r.try_get("user_agent")?,
    };
    if s.last_seen_at <= now - precision {
        sqlx::query(
            "UPDATE staff_sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1",
        )
        .bind(now)
        .bind(id)
        .execute(db.pool())
        .await?;
        s.last_seen_at = now;
    }
    Ok(Some(s))
}

/// Ends the live sessions of a staff member except `keep`; returns how many.
pub async fn end_staff_sessions(
    conn: &mut Conn,
    staff_id: &str,
    keep: Option<&str>,
    now: i64,
    reason: &str,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE staff_sessions SET ended_at = $1, end_reason = $2 \
         WHERE staff_id = $3 AND ended_at IS NULL AND id <> $4",
    )
    .bind(now)
    .bind(reason)
    .bind(staff_id)
    .bind(keep.unwrap_or(""))
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Ends one staff session.
pub async fn end_staff_session(
    conn: &mut Conn,
    id: &str,
    now: i64,
    reason: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE staff_sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

// --- activations -------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationRow {
    pub id: String,
    pub account_id: String,
    pub contact_kind: String,
    /// Vault ciphertext.
    pub contact_value: String,
    pub contact_index: String,
    pub code_hash: String,
    pub attempts: i64,
    pub staff_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub flow_id: Option<String>,
    pub flow_expires_at: Option<i64>,
    pub confirmed_at: Option<i64>,
    pub completed_at: Option<i64>,
}

const ACTIVATION: &str = "id, account_id, contact_kind, contact_value, contact_index, code_hash, \
     attempts, staff_id, created_at, expires_at, flow_id, flow_expires_at, confirmed_at, \
     completed_at";

fn activation(r: &AnyRow) -> Result<ActivationRow, sqlx::Error> {
    Ok(ActivationRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        contact_kind: r.try_get("contact_kind")?,
        contact_value: r.try_get("contact_value")?,
        contact_index: r.try_get("contact_index")?,
        code_hash: r.try_get("code_hash")?,
        attempts: r.try_get("attempts")?,
        staff_id: r.try_get("staff_id")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        flow_id: r.try_get("flow_id")?,
        flow_expires_at: r.try_get("flow_expires_at")?,
        confirmed_at: r.try_get("confirmed_at")?,
        completed_at: r.try_get("completed_at")?,
    })
}

pub async fn insert_activation(conn: &mut Conn, a: &ActivationRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO activations (id, account_id, contact_kind, contact_value, contact_index, \
         code_hash, attempts, staff_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9)",
    )
    .bind(&a.id)
    .bind(&a.account_id)
    .bind(&a.contact_kind)
    .bind(&a.contact_value)
    .bind(&a.contact_index)
    .bind(&a.code_hash)
    .bind(&a.staff_id)
    .bind(a.created_at)
    .bind(a.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The newest activation for a contact (by blind index), used or not.
pub async fn latest_activation(
    db: &Db,
    contact_index: &str,
) -> Result<Option<ActivationRow>, StoreError> {
    let sql = format!(
        "SELECT {ACTIVATION} FROM activations WHERE contact_index = $1 \
         ORDER BY created_at DESC, id DESC LIMIT 1"
    );
    let r =
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(contact_index).fetch_optional(db.pool()).await?;
    Ok(r.as_ref().map(activation).transpose()?)
}

/// The activation whose flow has this id (the keyed hash of the browser's token).
pub async fn activation_by_flow(
    db: &Db,
    flow_id: &str,
) -> Result<Option<ActivationRow>, StoreError> {
    let sql = format!("SELECT {ACTIVATION} FROM activations WHERE flow_id = $1");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(flow_id).fetch_optional(db.pool()).await?;
    Ok(r.as_ref().map(activation).transpose()?)
}

/// Reserves one attempt at an activation code, atomically, while fewer than `max` were
/// made and it is unused and unexpired. Returns the new count, or `None` when no attempt
/// is left.
pub async fn reserve_activation_attempt(
    db: &Db,
    id: &str,
    now: i64,
    max: i64,
) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query(
        "UPDATE activations SET attempts = attempts + 1 \
         WHERE id = $1 AND attempts < $2 AND completed_at IS NULL AND expires_at > $3 \
         RETURNING attempts",
    )
    .bind(id)
    .bind(max)
    .bind(now)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|r| r.try_get("attempts")).transpose()?)
}

/// A right code gives its attempt back.
pub async fn refund_activation_attempt(db: &Db, id: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE activations SET attempts = attempts - 1 WHERE id = $1 AND attempts > 0")
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Opens (or reopens) the flow of an unused activation: a new token, the contact to be
/// confirmed again. `false` if the activation was used meanwhile.
pub async fn open_activation_flow(
    conn: &mut Conn,
    id: &str,
    flow_id: &str,
    flow_expires_at: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE activations SET flow_id = $1, flow_expires_at = $2, confirmed_at = NULL \
         WHERE id = $3 AND completed_at IS NULL",
    )
    .bind(flow_id)
    .bind(flow_expires_at)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The one-time code confirmed the activation's contact.
pub async fn confirm_activation_flow(
    conn: &mut Conn,
    id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE activations SET confirmed_at = $1 WHERE id = $2 AND confirmed_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Uses up an activation; `false` if it was used already.
pub async fn complete_activation(conn: &mut Conn, id: &str, now: i64) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE activations SET completed_at = $1 WHERE id = $2 AND completed_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks an account's contact (by blind index) confirmed.
pub async fn confirm_contact(
    conn: &mut Conn,
    account_id: &str,
    contact_index: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE contacts SET confirmed_at = $1 \
         WHERE account_id = $2 AND value_index = $3 AND confirmed_at IS NULL",
    )
    .bind(now)
    .bind(account_id)
    .bind(contact_index)
    .execute(conn)
    .await?;
    Ok(())
}

// --- operators' pending confirmations ----------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentRow {
    pub account_id: String,
    pub passport_index: String,
    pub staff_id: String,
    pub center_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Records (or replaces) an operator's intent to confirm an account.
pub async fn upsert_intent(conn: &mut Conn, i: &IntentRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO operator_intents (account_id, passport_index, staff_id, center_id, \
           created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (account_id) DO UPDATE SET passport_index = excluded.passport_index, \
           staff_id = excluded.staff_id, center_id = excluded.center_id, \
           created_at = excluded.created_at, expires_at = excluded.expires_at",
    )
    .bind(&i.account_id)
    .bind(&i.passport_index)
    .bind(&i.staff_id)
    .bind(&i.center_id)
    .bind(i.created_at)
    .bind(i.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes and returns an account's intent, if any (expired or not).
pub async fn take_intent(
    conn: &mut Conn,
    account_id: &str,
) -> Result<Option<IntentRow>, StoreError> {
    let r = sqlx::query(
        "DELETE FROM operator_intents WHERE account_id = $1 \
         RETURNING account_id, passport_index, staff_id, center_id, created_at, expires_at",
    )
    .bind(account_id)
    .fetch_optional(conn)
    .await?;
    let Some(r) = r else { return Ok(None) };
    Ok(Some(IntentRow {
        account_id: r.try_get("account_id")?,
        passport_index: r.try_get("passport_index")?,
        staff_id: r.try_get("staff_id")?,
        center_id: r.try_get("center_id")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
    }))
}

/// Whether an account has an unexpired intent.
pub async fn intent_of(db: &Db, account_id: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "SELECT account_id FROM operator_intents WHERE account_id = $1 AND expires_at > $2",
    )
    .bind(account_id)
    .bind(now)
    .fetch_optional(db.pool())
    .await?;
    Ok(r.is_some())
}
