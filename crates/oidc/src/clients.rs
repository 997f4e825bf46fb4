//! Relying parties: registration (by command or, later, the admin page), listing,
//! removal, secret rotation and authentication at the token endpoint — by secret
//! (`client_secret_basic`/`client_secret_post`), by a signed assertion (`private_key_jwt`,
//! see [`crate::assertion`]) or, for a public client, by nothing but PKCE.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::{DateTime, Utc};
use store::oidc::{self as rows, ClientRow};
use store::to_micros;

use crate::flow::TokenError;
use crate::jws::{Alg, PublicKey};
use crate::{OidcError, Provider};

/// The scopes, modelled on ЕСИА's attribute groups, with what the consent screen says.
pub const SCOPES: [(&str, &str); 11] = [
    ("openid", "идентификатор учётной записи"),
    ("fullname", "фамилия, имя и отчество"),
    ("birthdate", "дата рождения"),
    ("gender", "пол"),
    ("snils", "СНИЛС"),
    ("inn", "ИНН"),
    ("id_doc", "паспорт"),
    ("email", "адрес электронной почты"),
    ("mobile", "номер мобильного телефона"),
    ("addresses", "адрес регистрации"),
    ("organizations", "организации, в которых вы работаете"),
];

/// A confidential client authenticates with a secret or a key; a public one (a mobile or
/// browser app) cannot keep either and must use PKCE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Confidential,
    Public,
}

impl ClientKind {
    pub fn code(self) -> &'static str {
        match self {
            Self::Confidential => "confidential",
            Self::Public => "public",
        }
    }
}

/// What a registration asks for.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub id: String,
    pub name: String,
    pub kind: ClientKind,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    /// `simplified`, `standard` or `confirmed`.
    pub min_level: String,
    /// Allow `http://` redirect URIs (development).
    pub allow_http: bool,
    /// For a confidential client: its public keys (a JWKS, inline JSON) — it then
    /// authenticates with `private_key_jwt` and gets no secret.
    pub jwks: Option<String>,
    /// How its ID tokens (and access tokens) are signed: ES256 unless it needs RS256.
    pub id_token_alg: Alg,
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub min_level: String,
    /// `client_secret_basic` (which also admits `client_secret_post`), `private_key_jwt`
    /// or `none`.
    pub auth_method: String,
    /// `ES256` or `RS256`.
    pub id_token_alg: String,
    pub created_at: DateTime<Utc>,
}

/// How a client authenticates with a signed assertion.
pub const PRIVATE_KEY_JWT: &str = "private_key_jwt";

fn list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

impl From<ClientRow> for Client {
    fn from(r: ClientRow) -> Self {
        Self {
            redirect_uris: list(&r.redirect_uris),
            post_logout_redirect_uris: list(&r.post_logout_redirect_uris),
            scopes: list(&r.scopes),
            id: r.id,
            name: r.name,
            kind: r.kind,
            min_level: r.min_level,
            auth_method: r.auth_method,
            id_token_alg: r.id_token_alg,
            created_at: store::from_micros(r.created_at),
        }
    }
}

/// Checks a redirect URI: absolute, `https` (or `http` when allowed), no fragment.
fn check_uri(field: &'static str, uri: &str, allow_http: bool) -> Result<(), OidcError> {
    let ok_scheme = uri.starts_with("https://") || (allow_http && uri.starts_with("http://"));
    if !ok_scheme {
        let need = if allow_http { "http:// или https://" } else { "https://" };
        return Err(OidcError::Field(field, format!("«{uri}» должен начинаться с {need}")));
    }
    let rest = uri.split_once("://").map_or("", |(_, r)| r);
    if rest.is_empty() || rest.starts_with('/') {
        return Err(OidcError::Field(field, format!("в «{uri}» нет адреса сервера")));
    }
    if uri.contains('#') {
        return Err(OidcError::Field(field, format!("«{uri}» не должен содержать «#»")));
    }
    if uri.chars().any(char::is_whitespace) {
        return Err(OidcError::Field(field, format!("«{uri}» содержит пробелы")));
    }
    Ok(())
}

fn check(c: &NewClient) -> Result<(), OidcError> {
    let id_ok = (3..=64).contains(&c.id.len())
        && c.id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if !id_ok {
        return Err(OidcError::Field(
            "--id",
            "от 3 до 64 символов: строчные латинские буквы, цифры, «-», «_», «.»".into(),
        ));
    }
    if c.name.trim().is_empty() {
        return Err(OidcError::Field("--name", "укажите название сервиса".into()));
    }
    if c.redirect_uris.is_empty() {
        return Err(OidcError::Field(
            "--redirect-uri",
            "укажите хотя бы один адрес возврата".into(),
        ));
    }
    for uri in &c.redirect_uris {
        check_uri("--redirect-uri", uri, c.allow_http)?;
    }
    for uri in &c.post_logout_redirect_uris {
        check_uri("--post-logout-uri", uri, c.allow_http)?;
    }
    if !c.scopes.iter().any(|s| s == "openid") {
        return Err(OidcError::Field("--scopes", "нужна область openid".into()));
    }
    if let Some(unknown) = c.scopes.iter().find(|s| !SCOPES.iter().any(|(k, _)| k == s)) {
        let known: Vec<&str> = SCOPES.iter().map(|(k, _)| *k).collect();
        return Err(OidcError::Field(
            "--scopes",
            format!("неизвестная область «{unknown}»; допустимые: {}", known.join(", ")),
        ));
    }
    if !["simplified", "standard", "confirmed"].contains(&c.min_level.as_str()) {
        return Err(OidcError::Field(
            "--min-level",
            "одно из: simplified, standard, confirmed".into(),
        ));
    }
    if c.jwks.is_some() && c.kind == ClientKind::Public {
        return Err(OidcError::Field(
            "--jwks",
            "ключи бывают только у конфиденциального клиента (--kind confidential)".into(),
        ));
    }
    Ok(())
}

/// The most keys a client may register (two while it rotates, a few spare).
const MAX_KEYS: usize = 10;

/// Checks a client's JWKS (`{"keys": [...]}`, or one JWK): public keys only, each EC P-256
/// or RSA of at least 2048 bits, distinct `kid`s. Returns it as stored (`{"keys": [...]}`).
pub fn check_jwks(text: &str) -> Result<String, OidcError> {
    let bad = |m: String| OidcError::Field("--jwks", m);
    if text.len() > 64 * 1024 {
        return Err(bad("слишком большой файл ключей (больше 64 КиБ)".into()));
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("не JSON: {e}")))?;
    let keys = match (value.get("keys"), value.get("kty")) {
        (Some(serde_json::Value::Array(keys)), _) => keys.clone(),
        (None, Some(_)) => vec![value.clone()],
        _ => return Err(bad("ожидается JWKS: объект {\"keys\": [...]}".into())),
    };
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(bad(format!("нужно от 1 до {MAX_KEYS} ключей")));
    }
    let mut kids = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let name = key["kid"].as_str().map_or_else(|| format!("№{}", i + 1), |k| format!("«{k}»"));
        if ["d", "p", "q", "dp", "dq", "qi", "k"].iter().any(|f| key.get(f).is_some()) {
            return Err(bad(format!(
                "ключ {name} содержит закрытую часть: передайте только открытые ключи"
            )));
        }
        PublicKey::from_jwk(key).map_err(|m| bad(format!("ключ {name}: {m}")))?;
        if let Some(kid) = key["kid"].as_str() {
            if kids.contains(&kid) {
                return Err(bad(format!("kid «{kid}» повторяется")));
            }
            kids.push(kid);
        }
    }
    Ok(serde_json::json!({ "keys": keys }).to_string())
}

/// What a client sent to authenticate at a back-channel endpoint.
#[derive(Clone, Default)]
pub struct ClientCredentials {
    /// `client_id` (from `Authorization: Basic` or the body); may be empty with an
    /// assertion, whose `iss` names the client then.
    pub client_id: String,
    /// `client_secret` (Basic or the body).
    pub secret: Option<String>,
    /// `client_assertion_type`, as sent.
    pub assertion_type: Option<String>,
    /// `client_assertion`: a JWT signed by the client.
    pub assertion: Option<String>,
    /// The path of the endpoint called (`/oidc/token`): besides the issuer and the token
    /// endpoint, an assertion may name it as its audience.
    pub endpoint: &'static str,
}

impl std::fmt::Debug for ClientCredentials {
    /// Never the secret nor the assertion.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .field("assertion", &self.assertion.as_ref().map(|_| "…"))
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// A failed client authentication (RFC 6749 §5.2: 401 `invalid_client`), saying why in
/// English for the client's developers.
pub(crate) fn client_refused(description: &str) -> TokenError {
    TokenError { error: "invalid_client", description: description.into(), status: 401 }
}

/// Client registrations as read for authentication, for [`CLIENT_FRESH`] seconds: every
/// token request authenticates its client, and registrations change rarely. A change made
/// through this provider is seen at once; one made on another node within that time
/// (a removed client's grants are revoked in the database at once anyway).
#[derive(Debug, Default)]
pub(crate) struct ClientCache(
    std::sync::Mutex<std::collections::HashMap<String, (Option<ClientRow>, i64)>>,
);

/// How long a read registration is trusted, in seconds.
pub const CLIENT_FRESH: i64 = 5;

/// Distinct client ids remembered at most (unknown ids included).
const CLIENT_CACHE_MAX: usize = 1_000;

impl ClientCache {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (Option<ClientRow>, i64)>>
    {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Provider {
    /// A client's registration for authentication (see [`ClientCache`]).
    pub(crate) async fn client_row(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ClientRow>, OidcError> {
        let now = now.timestamp();
        if let Some((row, read_at)) = self.client_cache.lock().get(id)
            && now - *read_at < CLIENT_FRESH
            && *read_at <= now
        {
            return Ok(row.clone());
        }
        let row = rows::client_by_id(&mut *self.db.read().await?, id).await?;
        let mut cache = self.client_cache.lock();
        if cache.len() >= CLIENT_CACHE_MAX {
            cache.clear();
        }
        cache.insert(id.to_owned(), (row.clone(), now));
        Ok(row)
    }

    fn forget_client(&self, id: &str) {
        self.client_cache.lock().remove(id);
    }

    fn secret_hash(&self, client_id: &str, secret: &str) -> String {
        self.vault.secret_hash("oidc-client", &format!("{client_id}:{secret}"))
    }

    /// Registers a client; returns it and, for a confidential one, its secret (shown once).
    pub async fn add_client(
        &self,
        new: &NewClient,
        now: DateTime<Utc>,
    ) -> Result<(Client, Option<String>), OidcError> {
        check(new)?;
        let jwks = new.jwks.as_deref().map(check_jwks).transpose()?;
        let secret = (new.kind == ClientKind::Confidential && jwks.is_none()).then(|| {
            let bytes: [u8; 32] = rand::random();
            B64URL.encode(bytes)
        });
        let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        let row = ClientRow {
            id: new.id.clone(),
            name: new.name.trim().to_owned(),
            kind: new.kind.code().into(),
            auth_method: match (new.kind, &jwks) {
                (ClientKind::Confidential, Some(_)) => PRIVATE_KEY_JWT.into(),
                (ClientKind::Confidential, None) => "client_secret_basic".into(),
                (ClientKind::Public, _) => "none".into(),
            },
            secret_hash: secret.as_deref().map(|s| self.secret_hash(&new.id, s)),
            redirect_uris: json(&new.redirect_uris),
            post_logout_redirect_uris: json(&new.post_logout_redirect_uris),
            scopes: json(&new.scopes),
            min_level: new.min_level.clone(),
            id_token_alg: new.id_token_alg.as_str().into(),
            jwks,
            created_at: to_micros(now),
            removed_at: None,
        };
        if !rows::insert_client(&mut *self.db.conn().await?, &row).await? {
            return Err(OidcError::ClientTaken(new.id.clone()));
        }
        self.forget_client(&new.id);
        Ok((Client::from(row), secret))
    }

    pub async fn clients(&self) -> Result<Vec<Client>, OidcError> {
        let found = rows::clients(&mut *self.db.conn().await?).await?;
        Ok(found.into_iter().map(Client::from).collect())
    }

    pub async fn client(&self, id: &str) -> Result<Option<Client>, OidcError> {
        Ok(rows::client_by_id(&mut *self.db.read().await?, id).await?.map(Client::from))
    }

    /// Removes a client; every grant it holds is revoked in the same commit, so its
    /// access tokens stop working at once, not when they expire.
    pub async fn remove_client(&self, id: &str, now: DateTime<Utc>) -> Result<(), OidcError> {
        let mut tx = self.db.begin().await?;
        if !rows::remove_client(&mut tx, id, to_micros(now)).await? {
            return Err(OidcError::ClientUnknown(id.to_owned()));
        }
        rows::revoke_client_grants(&mut tx, id, to_micros(now)).await?;
        tx.commit().await.map_err(store::StoreError::from)?;
        self.forget_client(id);
        Ok(())
    }

    /// A new secret for a confidential client (the old one stops working); shown once.
    pub async fn rotate_client_secret(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<String, OidcError> {
        if self.client(id).await?.is_some_and(|c| c.auth_method == PRIVATE_KEY_JWT) {
            return Err(OidcError::KeyClient(id.to_owned()));
        }
        let bytes: [u8; 32] = rand::random();
        let secret = B64URL.encode(bytes);
        let hash = self.secret_hash(id, &secret);
        if rows::set_client_secret(&mut *self.db.conn().await?, id, &hash, to_micros(now)).await? {
            self.forget_client(id);
            Ok(secret)
        } else {
            Err(OidcError::ClientUnknown(id.to_owned()))
        }
    }

    /// Replaces the public keys of a `private_key_jwt` client (its key rotation: register
    /// the old and the new key, then only the new one).
    pub async fn set_client_jwks(
        &self,
        id: &str,
        jwks: &str,
        now: DateTime<Utc>,
    ) -> Result<(), OidcError> {
        let jwks = check_jwks(jwks)?;
        if rows::set_client_jwks(&mut *self.db.conn().await?, id, &jwks, to_micros(now)).await? {
            self.forget_client(id);
            Ok(())
        } else {
            Err(OidcError::ClientUnknown(id.to_owned()))
        }
    }

    /// Authenticates a client at the token, revocation, introspection and PAR endpoints
    /// by the method it was registered with: a secret, an assertion (`private_key_jwt`)
    /// or — a public client — nothing. Any other method, or two at once, is refused.
    pub async fn authenticate(
        &self,
        credentials: &ClientCredentials,
        now: DateTime<Utc>,
    ) -> Result<Result<Client, TokenError>, OidcError> {
        let c = credentials;
        if c.assertion.is_some() || c.assertion_type.is_some() {
            if c.secret.is_some() {
                return Ok(Err(client_refused("use one client authentication method")));
            }
            return self.authenticate_assertion(c, now).await;
        }
        // One read of the client: this is on the path of every token request.
        let Some(row) = self.client_row(&c.client_id, now).await? else {
            return Ok(Err(client_refused("client authentication failed")));
        };
        let right = match (row.auth_method.as_str(), &c.secret) {
            (PRIVATE_KEY_JWT, _) => {
                return Ok(Err(client_refused(
                    "this client authenticates with private_key_jwt: send client_assertion",
                )));
            }
            ("none", None) => true,
            ("none", Some(_)) => false,
            (_, Some(secret)) => self.secret_ok(&row, secret),
            (_, None) => false,
        };
        Ok(if right {
            Ok(Client::from(row))
        } else {
            Err(client_refused("client authentication failed"))
        })
    }

    /// Authenticates a confidential client by its secret (constant-time comparison of
    /// keyed hashes); `None` for an unknown client, a wrong secret, or a client that
    /// authenticates with a key.
    pub async fn authenticate_client(
        &self,
        id: &str,
        secret: &str,
    ) -> Result<Option<Client>, OidcError> {
        let Some(row) = rows::client_by_id(&mut *self.db.read().await?, id).await? else {
            return Ok(None);
        };
        Ok(self.secret_ok(&row, secret).then(|| Client::from(row)))
    }

    fn secret_ok(&self, row: &ClientRow, secret: &str) -> bool {
        if row.auth_method == PRIVATE_KEY_JWT {
            return false;
        }
        let want = self.secret_hash(&row.id, secret);
        row.secret_hash.as_deref().is_some_and(|have| same_secret(have, &want))
    }
}

/// Compares two secrets (or their digests) in time that does not depend on where they
/// differ.
pub(crate) fn same_secret(have: &str, want: &str) -> bool {
    have.len() == want.len()
        && have.bytes().zip(want.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new() -> NewClient {
        NewClient {
            id: "eis".into(),
            name: "ЕИС".into(),
            kind: ClientKind::Confidential,
            redirect_uris: vec!["https://eis.example/callback".into()],
            post_logout_redirect_uris: Vec::new(),
            scopes: vec!["openid".into(), "fullname".into()],
            min_level: "standard".into(),
            allow_http: false,
            jwks: None,
            id_token_alg: Alg::Es256,
        }
    }

    #[test]
    fn registrations_are_checked_field_by_field() {
        assert!(check(&new()).is_ok());
        let mut c = new();
        c.redirect_uris = vec!["http://eis.example/cb".into()];
        assert!(matches!(check(&c), Err(OidcError::Field("--redirect-uri", _))));
        c.allow_http = true;
        assert!(check(&c).is_ok());
        c.redirect_uris = vec!["https://eis.example/cb#x".into()];
        assert!(check(&c).is_err());
        let mut c = new();
        c.scopes = vec!["fullname".into()];
        assert!(matches!(check(&c), Err(OidcError::Field("--scopes", _))));
        c.scopes = vec!["openid".into(), "passport".into()];
        let Err(OidcError::Field(_, m)) = check(&c) else { panic!() };
        assert!(m.contains("неизвестная область «passport»"));
        let mut c = new();
        c.id = "EIS app".into();
        assert!(matches!(check(&c), Err(OidcError::Field("--id", _))));
    }
}
