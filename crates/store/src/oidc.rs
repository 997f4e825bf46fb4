//! Rows of the OpenID Connect provider: signing keys and clients. The rules live in the
//! `oidc` crate.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, StoreError};

// --- signing keys ------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    /// Vault ciphertext.
    pub private_key: String,
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub expires_at: Option<i64>,
}

fn key(r: &AnyRow) -> Result<KeyRow, sqlx::Error> {
    Ok(KeyRow {
        kid: r.try_get("kid")?,
        alg: r.try_get("alg")?,
        private_key: r.try_get("private_key")?,
        public_jwk: r.try_get("public_jwk")?,
        created_at: r.try_get("created_at")?,
        retired_at: r.try_get("retired_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

const KEY: &str = "kid, alg, private_key, public_jwk, created_at, retired_at, expires_at";

pub async fn insert_key(conn: &mut Conn, k: &KeyRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO oidc_keys (kid, alg, private_key, public_jwk, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&k.kid)
    .bind(&k.alg)
    .bind(&k.private_key)
    .bind(&k.public_jwk)
    .bind(k.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Keys still published at `now`: the signing ones and the retired ones not yet expired,
/// newest first.
pub async fn published_keys(conn: &mut Conn, now: i64) -> Result<Vec<KeyRow>, StoreError> {
    let sql = format!(
        "SELECT {KEY} FROM oidc_keys WHERE expires_at IS NULL OR expires_at > $1 \
         ORDER BY created_at DESC, kid"
    );
    let found = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).fetch_all(conn).await?;
    Ok(found.iter().map(key).collect::<Result<_, _>>()?)
}

/// Retires every signing key of `alg`: they stop signing now and leave the JWKS at
/// `expires_at`.
pub async fn retire_keys(
    conn: &mut Conn,
    alg: &str,
    now: i64,
    expires_at: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE oidc_keys SET retired_at = $1, expires_at = $2 \
         WHERE alg = $3 AND retired_at IS NULL",
    )
    .bind(now)
    .bind(expires_at)
    .bind(alg)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

// --- clients -----------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub auth_method: String,
    pub secret_hash: Option<String>,
    /// JSON arrays.
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub scopes: String,
    pub min_level: String,
    pub id_token_alg: String,
    /// The public keys of a `private_key_jwt` client (a JWKS).
    pub jwks: Option<String>,
    pub created_at: i64,
    pub removed_at: Option<i64>,
}

const CLIENT: &str = "id, name, kind, auth_method, secret_hash, redirect_uris, \
                      post_logout_redirect_uris, scopes, min_level, id_token_alg, jwks, \
                      created_at, removed_at";

fn client(r: &AnyRow) -> Result<ClientRow, sqlx::Error> {
    Ok(ClientRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        auth_method: r.try_get("auth_method")?,
        secret_hash: r.try_get("secret_hash")?,
        redirect_uris: r.try_get("redirect_uris")?,
        post_logout_redirect_uris: r.try_get("post_logout_redirect_uris")?,
        scopes: r.try_get("scopes")?,
        min_level: r.try_get("min_level")?,
        id_token_alg: r.try_get("id_token_alg")?,
        jwks: r.try_get("jwks")?,
        created_at: r.try_get("created_at")?,
        removed_at: r.try_get("removed_at")?,
    })
}

/// Inserts a client; false when the id is taken.
pub async fn insert_client(conn: &mut Conn, c: &ClientRow) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO oidc_clients (id, name, kind, auth_method, secret_hash, redirect_uris, \
         post_logout_redirect_uris, scopes, min_level, id_token_alg, jwks, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.kind)
    .bind(&c.auth_method)
    .bind(&c.secret_hash)
    .bind(&c.redirect_uris)
    .bind(&c.post_logout_redirect_uris)
    .bind(&c.scopes)
    .bind(&c.min_level)
    .bind(&c.id_token_alg)
    .bind(&c.jwks)
    .bind(c.created_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A client that was not removed.
pub async fn client_by_id(conn: &mut Conn, id: &str) -> Result<Option<ClientRow>, StoreError> {
    let sql = format!("SELECT {CLIENT} FROM oidc_clients WHERE id = $1 AND removed_at IS NULL");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    Ok(row.as_ref().map(client).transpose()?)
}

pub async fn clients(conn: &mut Conn) -> Result<Vec<ClientRow>, StoreError> {
    let sql = format!(
        "SELECT {CLIENT} FROM oidc_clients WHERE removed_at IS NULL ORDER BY created_at, id"
    );
    let found = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(conn).await?;
    Ok(found.iter().map(client).collect::<Result<_, _>>()?)
}

pub async fn remove_client(conn: &mut Conn, id: &str, now: i64) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE oidc_clients SET removed_at = $1, updated_at = $1 \
         WHERE id = $2 AND removed_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every live grant of a client (it was removed); returns how many.
pub async fn revoke_client_grants(
    conn: &mut Conn,
    client_id: &str,
    now: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE oidc_grants SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(client_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

pub async fn set_client_secret(
    conn: &mut Conn,
    id: &str,
    secret_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE oidc_clients SET secret_hash = $1, updated_at = $2 \
         WHERE id = $3 AND removed_at IS NULL AND kind = 'confidential'",
    )
    .bind(secret_hash)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

// --- consents, codes, grants -------------------------------------------------------------

/// The scopes a person consented to give a client (JSON array), if the consent stands.
pub async fn consent(
    conn: &mut Conn,
    account_id: &str,
    client_id: &str,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query(
        "SELECT scopes FROM oidc_consents WHERE account_id = $1 AND client_id = $2 \
         AND revoked_at IS NULL",
    )
    .bind(account_id)
    .bind(client_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.try_get("scopes")).transpose()?)
}

pub async fn save_consent(
    conn: &mut Conn,
    account_id: &str,
    client_id: &str,
    scopes: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO oidc_consents (account_id, client_id, scopes, granted_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (account_id, client_id) DO UPDATE \
         SET scopes = $3, granted_at = $4, last_used_at = $4, revoked_at = NULL",
    )
    .bind(account_id)
    .bind(client_id)
    .bind(scopes)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    pub code_hash: String,
    pub client_id: String,
    pub account_id: String,
    pub redirect_uri: String,
    pub scopes: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub acr: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub grant_id: Option<String>,
}

pub async fn insert_code(conn: &mut Conn, c: &CodeRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO oidc_codes (code_hash, client_id, account_id, redirect_uri, scopes, nonce, \
         code_challenge, auth_time, acr, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&c.code_hash)
    .bind(&c.client_id)
    .bind(&c.account_id)
    .bind(&c.redirect_uri)
    .bind(&c.scopes)
    .bind(&c.nonce)
    .bind(&c.code_challenge)
    .bind(c.auth_time)
    .bind(&c.acr)
    .bind(c.created_at)
    .bind(c.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn code(conn: &mut Conn, code_hash: &str) -> Result<Option<CodeRow>, StoreError> {
    let row = sqlx::query(
        "SELECT code_hash, client_id, account_id, redirect_uri, scopes, nonce, code_challenge, \
         auth_time, acr, created_at, expires_at, used_at, grant_id FROM oidc_codes \
         WHERE code_hash = $1",
    )
    .bind(code_hash)
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(CodeRow {
        code_hash: r.try_get("code_hash")?,
        client_id: r.try_get("client_id")?,
        account_id: r.try_get("account_id")?,
        redirect_uri: r.try_get("redirect_uri")?,
        scopes: r.try_get("scopes")?,
        nonce: r.try_get("nonce")?,
        code_challenge: r.try_get("code_challenge")?,
        auth_time: r.try_get("auth_time")?,
        acr: r.try_get("acr")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
        grant_id: r.try_get("grant_id")?,
    }))
}

/// Uses up a code, recording the grant it produced; false when it was used already.
pub async fn use_code(
    conn: &mut Conn,
    code_hash: &str,
    grant_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE oidc_codes SET used_at = $1, grant_id = $2 WHERE code_hash = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(grant_id)
    .bind(code_hash)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A grant made by exchanging a code; its refresh token starts at generation 0.
#[derive(Debug, Clone)]
pub struct NewGrant<'a> {
    pub id: &'a str,
    pub client_id: &'a str,
    pub account_id: &'a str,
    pub scopes: &'a str,
    pub acr: &'a str,
    pub created_at: i64,
    pub refresh_expires_at: i64,
}

pub async fn insert_grant(conn: &mut Conn, g: &NewGrant<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO oidc_grants (id, client_id, account_id, scopes, acr, created_at, \
         refresh_generation, refresh_expires_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
    )
    .bind(g.id)
    .bind(g.client_id)
    .bind(g.account_id)
    .bind(g.scopes)
    .bind(g.acr)
    .bind(g.created_at)
    .bind(g.refresh_expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether a grant stands (not revoked).
pub async fn grant_live(conn: &mut Conn, id: &str) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT revoked_at FROM oidc_grants WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<Option<i64>, _>("revoked_at")?.is_none(),
        None => false,
    })
}

pub async fn revoke_grant(conn: &mut Conn, id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE oidc_grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

// --- refresh tokens, grants of an account ------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub account_id: String,
    pub scopes: String,
    /// The level the grant was given at (`None` only for grants older than the column).
    pub acr: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// The generation of the grant's current refresh token (`None`: it has none).
    pub refresh_generation: Option<i64>,
    pub refresh_expires_at: Option<i64>,
}

fn grant_row(r: &AnyRow) -> Result<GrantRow, sqlx::Error> {
    Ok(GrantRow {
        id: r.try_get("id")?,
        client_id: r.try_get("client_id")?,
        account_id: r.try_get("account_id")?,
        scopes: r.try_get("scopes")?,
        acr: r.try_get("acr")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
        refresh_generation: r.try_get("refresh_generation")?,
        refresh_expires_at: r.try_get("refresh_expires_at")?,
    })
}

pub async fn grant(conn: &mut Conn, id: &str) -> Result<Option<GrantRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, client_id, account_id, scopes, acr, created_at, revoked_at, \
         refresh_generation, refresh_expires_at FROM oidc_grants WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(grant_row).transpose()?)
}

/// One rotation of a grant's refresh token: generation `generation` is used up and
/// `generation + 1` becomes current, valid until `expires_at`.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub grant_id: String,
    pub client_id: String,
    pub generation: i64,
    pub now: i64,
    pub expires_at: i64,
}

/// What a rotation answers with: the grant's fixed part, for the new tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub account_id: String,
    pub scopes: String,
    pub acr: Option<String>,
    pub created_at: i64,
}

/// Applies a [`Rotation`] inside a (group) transaction: one compare-and-set of the grant
/// row. `None`, with nothing written, when the token is not the grant's current one, has
/// expired, belongs to another client, or the grant is revoked (the caller reads the
/// grant to tell which).
pub fn rotate_refresh<'c>(
    conn: &'c mut Conn,
    r: &'c Rotation,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Option<Rotated>, StoreError>> + Send + 'c>,
> {
    Box::pin(async move {
        let row = sqlx::query(
            "UPDATE oidc_grants SET refresh_generation = refresh_generation + 1, \
             refresh_expires_at = $1 WHERE id = $2 AND client_id = $3 \
             AND refresh_generation = $4 AND refresh_expires_at > $5 AND revoked_at IS NULL \
             RETURNING account_id, scopes, acr, created_at",
        )
        .bind(r.expires_at)
        .bind(&r.grant_id)
        .bind(&r.client_id)
        .bind(r.generation)
        .bind(r.now)
        .fetch_optional(conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Rotated {
            account_id: row.try_get("account_id")?,
            scopes: row.try_get("scopes")?,
            acr: row.try_get("acr")?,
            created_at: row.try_get("created_at")?,
        }))
    })
}

/// Deletes codes that expired before `before` (housekeeping). Used ones are kept until
/// then, so a replay is still recognized (and revokes what they gave).
pub async fn purge_expired_codes(conn: &mut Conn, before: i64) -> Result<u64, StoreError> {
    Ok(sqlx::query("DELETE FROM oidc_codes WHERE expires_at < $1")
        .bind(before)
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// Revokes every live grant of an account (sign-out, password change), or only those of
/// one client (unlinking); returns how many.
pub async fn revoke_account_grants(
    conn: &mut Conn,
    account_id: &str,
    client_id: Option<&str>,
    now: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE oidc_grants SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL \
         AND ($3 = '' OR client_id = $3)",
    )
    .bind(now)
    .bind(account_id)
    .bind(client_id.unwrap_or(""))
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The services a person consented to: (client id, client name, scopes JSON, granted_at,
/// last_used_at), most recently used first.
pub async fn linked_services(
    conn: &mut Conn,
    account_id: &str,
) -> Result<Vec<(String, String, String, i64, i64)>, StoreError> {
    let found = sqlx::query(
        "SELECT c.client_id, COALESCE(k.name, c.client_id) AS name, c.scopes, c.granted_at, \
         c.last_used_at FROM oidc_consents c LEFT JOIN oidc_clients k ON k.id = c.client_id \
         WHERE c.account_id = $1 AND c.revoked_at IS NULL ORDER BY c.last_used_at DESC",
    )
    .bind(account_id)
    .fetch_all(conn)
    .await?;
    Ok(found
        .iter()
        .map(|r| {
            Ok((
                r.try_get("client_id")?,
                r.try_get("name")?,
                r.try_get("scopes")?,
                r.try_get("granted_at")?,
                r.try_get("last_used_at")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

pub async fn touch_consent(
    conn: &mut Conn,
    account_id: &str,
    client_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE oidc_consents SET last_used_at = $1 WHERE account_id = $2 AND client_id = $3",
    )
    .bind(now)
    .bind(account_id)
    .bind(client_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Revokes a consent (unlinking); false when there was none.
pub async fn revoke_consent(
    conn: &mut Conn,
    account_id: &str,
    client_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE oidc_consents SET revoked_at = $1 WHERE account_id = $2 AND client_id = $3 \
         AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(account_id)
    .bind(client_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

// --- pushed authorization requests -------------------------------------------------------

pub async fn insert_par(
    conn: &mut Conn,
    request_hash: &str,
    client_id: &str,
    params: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO oidc_par (request_hash, client_id, params, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(request_hash)
    .bind(client_id)
    .bind(params)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The pushed parameters of a live request: (client id, params JSON).
pub async fn par(
    conn: &mut Conn,
    request_hash: &str,
    now: i64,
) -> Result<Option<(String, String)>, StoreError> {
    let row = sqlx::query(
        "SELECT client_id, params FROM oidc_par WHERE request_hash = $1 AND expires_at > $2",
    )
    .bind(request_hash)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some((r.try_get("client_id")?, r.try_get("params")?)))
}

/// Deletes expired pushed requests (housekeeping at each push).
pub async fn purge_par(conn: &mut Conn, now: i64) -> Result<u64, StoreError> {
    let done =
        sqlx::query("DELETE FROM oidc_par WHERE expires_at <= $1").bind(now).execute(conn).await?;
    Ok(done.rows_affected())
}

// --- client assertions (private_key_jwt) ---------------------------------------------------

/// Replaces the public keys of a `private_key_jwt` client; false when there is no such
/// client.
pub async fn set_client_jwks(
    conn: &mut Conn,
    id: &str,
    jwks: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE oidc_clients SET jwks = $1, updated_at = $2 \
         WHERE id = $3 AND removed_at IS NULL AND auth_method = 'private_key_jwt'",
    )
    .bind(jwks)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records the `jti` of a client assertion until it expires; false when it was recorded
/// already (a replay). Expired ids are deleted on the way.
pub async fn use_assertion_jti(
    conn: &mut Conn,
    client_id: &str,
    jti: &str,
    expires_at: i64,
    now: i64,
) -> Result<bool, StoreError> {
    sqlx::query("DELETE FROM oidc_assertion_jti WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query(
        "INSERT INTO oidc_assertion_jti (client_id, jti, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (client_id, jti) DO NOTHING",
    )
    .bind(client_id)
    .bind(jti)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
