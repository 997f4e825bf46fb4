//! The authorization code flow (OpenID Connect Core 1.0 §3.1, OAuth 2.0 Security BCP):
//! the authorization request, consent, the code, the token endpoint and the access tokens
//! that userinfo accepts.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use store::oidc::{self as rows, CodeRow};
use store::{from_micros, to_micros};

use crate::clients::{Client, ClientCredentials, SCOPES};
use crate::{OidcError, Provider};

/// Account levels as `acr` values, lowest first.
pub const LEVELS: [&str; 3] = ["simplified", "standard", "confirmed"];

pub fn acr_of(level: &str) -> String {
    format!("urn:uslugi:loa:{level}")
}

fn level_rank(level: &str) -> usize {
    LEVELS.iter().position(|l| *l == level).unwrap_or(0)
}

/// The query of `/oidc/authorize`.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub acr_values: Option<String>,
    /// A pushed request (RFC 9126): `urn:ietf:params:oauth:request_uri:…`.
    pub request_uri: Option<String>,
}

impl AuthorizeParams {
    /// The parameters as a query string (for expanding a pushed request).
    pub fn to_query(&self) -> String {
        let max_age = self.max_age.map(|m| m.to_string());
        let pairs = [
            ("response_type", self.response_type.as_deref()),
            ("client_id", self.client_id.as_deref()),
            ("redirect_uri", self.redirect_uri.as_deref()),
            ("scope", self.scope.as_deref()),
            ("state", self.state.as_deref()),
            ("nonce", self.nonce.as_deref()),
            ("code_challenge", self.code_challenge.as_deref()),
            ("code_challenge_method", self.code_challenge_method.as_deref()),
            ("prompt", self.prompt.as_deref()),
            ("max_age", max_age.as_deref()),
            ("login_hint", self.login_hint.as_deref()),
            ("acr_values", self.acr_values.as_deref()),
        ];
        pairs
            .iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k}={}", encode(v))))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// A checked authorization request.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client: Client,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The level the account must have: the higher of the client's and `acr_values`'.
    pub min_level: String,
}

impl AuthRequest {
    /// Whether an account of `level` may sign in to this client.
    pub fn level_enough(&self, level: &str) -> bool {
        level_rank(level) >= level_rank(&self.min_level)
    }

    /// Where an answer goes: the redirect URI with `params`, `state` and `iss` (RFC 9207).
    pub fn answer(&self, issuer: &str, params: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(&str, &str)> = params.to_vec();
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        pairs.push(("iss", issuer));
        let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        let sep = if self.redirect_uri.contains('?') { '&' } else { '?' };
        format!("{}{sep}{}", self.redirect_uri, query.join("&"))
    }

    /// What the consent screen lists: (scope, plain Russian words), `openid` left out.
    pub fn attributes(&self) -> Vec<(&'static str, &'static str)> {
        SCOPES
            .iter()
            .filter(|(k, _)| *k != "openid" && self.scopes.iter().any(|s| s == k))
            .copied()
            .collect()
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A refused authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or redirect URI cannot be trusted: say so on our page, never redirect.
    Page(String),
    /// Send `error` back to the (trusted) redirect URI.
    Redirect { redirect: String, error: &'static str, description: String },
}

/// What the token endpoint answers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub id_token: String,
    pub refresh_token: String,
    pub scope: String,
}

/// What a set of tokens is issued for.
struct Issue<'a> {
    grant_id: &'a str,
    client_id: &'a str,
    account_id: &'a str,
    scopes: &'a [String],
    acr: &'a str,
    auth_time: DateTime<Utc>,
    nonce: Option<&'a str>,
}

/// A service the person signed in to, for the cabinet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedService {
    pub client_id: String,
    pub name: String,
    pub attributes: Vec<&'static str>,
    pub granted_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
}

/// A refusal of the token endpoint (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    pub error: &'static str,
    pub description: String,
    /// 401 for a failed client authentication, else 400.
    pub status: u16,
}

fn token_error(error: &'static str, description: &str) -> TokenError {
    TokenError { error, description: description.into(), status: 400 }
}

/// What a valid access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub account_id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub grant_id: String,
    /// SHA-256 of the token: its key among the verified tokens.
    key: [u8; 32],
}

/// Access tokens whose signature and issuer were checked, by the SHA-256 of the token,
/// until they expire, with the userinfo answer last built for each (for
/// [`USERINFO_FRESH`] seconds). A resource server calls userinfo with the same token many
/// times; an ES256 verification and the profile reads cost more than the rest of the
/// call. Whether the grant still stands is read every time, so a revocation (sign-out,
/// unlinking, a removed client) takes effect at once; a profile change shows within
/// seconds.
#[derive(Debug, Default)]
pub(crate) struct VerifiedTokens(std::sync::Mutex<std::collections::HashMap<[u8; 32], Verified>>);

#[derive(Debug)]
struct Verified {
    token: AccessToken,
    /// The token's `exp` (Unix seconds).
    exp: i64,
    /// The userinfo answer and until when it may be given again (Unix seconds).
    claims: Option<(Arc<Value>, i64)>,
}

/// At most this many remembered tokens (about 1 KB each with their answer).
const VERIFIED_MAX: usize = 20_000;

/// How long a userinfo answer is reused for the same token, in seconds.
pub const USERINFO_FRESH: i64 = 5;

impl VerifiedTokens {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<[u8; 32], Verified>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, key: &[u8; 32], now: i64) -> Option<AccessToken> {
        self.lock().get(key).filter(|v| v.exp > now).map(|v| v.token.clone())
    }

    fn put(&self, key: [u8; 32], token: AccessToken, exp: i64, now: i64) {
        let mut map = self.lock();
        if map.len() >= VERIFIED_MAX {
            map.retain(|_, v| v.exp > now);
            if map.len() >= VERIFIED_MAX {
                map.clear();
            }
        }
        map.insert(key, Verified { token, exp, claims: None });
    }

    fn claims(&self, key: &[u8; 32], now: i64) -> Option<Arc<Value>> {
        let map = self.lock();
        let (claims, until) = map.get(key)?.claims.as_ref()?;
        (*until > now).then(|| claims.clone())
    }

    fn set_claims(&self, key: &[u8; 32], claims: Arc<Value>, now: i64) {
        if let Some(v) = self.lock().get_mut(key) {
            v.claims = Some((claims, now + USERINFO_FRESH));
        }
    }
}

fn pkce_s256(verifier: &str) -> String {
    B64URL.encode(Sha256::digest(verifier.as_bytes()))
}

impl Provider {
    /// RP-initiated logout: where to send the browser afterwards — the client's
    /// registered `post_logout_redirect_uri` (with `state`) when the `id_token_hint` is
    /// ours and names that client. `None`: stay on our page.
    pub async fn logout_target(
        &self,
        id_token_hint: Option<&str>,
        client_id: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, OidcError> {
        let Some(uri) = post_logout_redirect_uri else { return Ok(None) };
        let hinted = match id_token_hint {
            Some(hint) => self
                .verify_jwt_with(hint, "JWT", now, false)
                .await?
                .filter(|c| c["iss"] == self.settings.issuer.as_str())
                .and_then(|c| c["aud"].as_str().map(str::to_owned)),
            None => None,
        };
        let Some(client_id) = hinted.or_else(|| client_id.map(str::to_owned)) else {
            return Ok(None);
        };
        let Some(client) = self.client(&client_id).await? else { return Ok(None) };
        if !client.post_logout_redirect_uris.iter().any(|u| u == uri) {
            return Ok(None);
        }
        Ok(Some(match state {
            Some(s) => {
                let sep = if uri.contains('?') { '&' } else { '?' };
                format!("{uri}{sep}state={}", encode(s))
            }
            None => uri.to_owned(),
        }))
    }

    /// RFC 9126: keeps the parameters a client pushed and answers with a `request_uri`
    /// valid 60 seconds. The parameters are checked when the browser arrives.
    pub async fn push_request(
        &self,
        credentials: &ClientCredentials,
        params: &AuthorizeParams,
        now: DateTime<Utc>,
    ) -> Result<Result<Value, TokenError>, OidcError> {
        let client = match self.authenticated(credentials, now).await? {
            Ok(client) => client,
            Err(refused) => return Ok(Err(refused)),
        };
        if params.client_id.as_deref().is_some_and(|c| c != client.id) {
            return Ok(Err(token_error("invalid_request", "client_id does not match")));
        }
        if params.request_uri.is_some() {
            return Ok(Err(token_error("invalid_request", "request_uri cannot be pushed")));
        }
        let mut params = params.clone();
        params.client_id = Some(client.id.clone());
        let bytes: [u8; 32] = rand::random();
        let request_uri = format!("urn:ietf:params:oauth:request_uri:{}", B64URL.encode(bytes));
        let json =
            serde_json::to_string(&params).map_err(|e| OidcError::Internal(e.to_string()))?;
        let mut conn = self.db.conn().await?;
        rows::purge_par(&mut conn, to_micros(now)).await?;
        rows::insert_par(
            &mut conn,
            &self.vault.secret_hash("oidc-par", &request_uri),
            &client.id,
            &json,
            to_micros(now + Duration::seconds(60)),
        )
        .await?;
        Ok(Ok(json!({"request_uri": request_uri, "expires_in": 60})))
    }

    /// The parameters behind a pushed `request_uri` of `client_id`, if live.
    pub async fn pushed_params(
        &self,
        client_id: &str,
        request_uri: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AuthorizeParams>, OidcError> {
        let hash = self.vault.secret_hash("oidc-par", request_uri);
        let found = rows::par(&mut *self.db.conn().await?, &hash, to_micros(now)).await?;
        Ok(found.filter(|(c, _)| c == client_id).and_then(|(_, p)| serde_json::from_str(&p).ok()))
    }

    /// Checks an authorization request; errors that concern a trusted redirect URI go
    /// back to it, the others are shown on our page.
    pub async fn authorize_request(
        &self,
        p: &AuthorizeParams,
    ) -> Result<Result<AuthRequest, AuthorizeError>, OidcError> {
        let Some(client_id) = p.client_id.as_deref().filter(|c| !c.is_empty()) else {
            return Ok(Err(AuthorizeError::Page("в запросе нет client_id".into())));
        };
        let Some(client) = self.client(client_id).await? else {
            return Ok(Err(AuthorizeError::Page(format!(
                "сервис «{client_id}» не подключён к порталу"
            ))));
        };
        let Some(redirect_uri) = p.redirect_uri.as_deref() else {
            return Ok(Err(AuthorizeError::Page("в запросе нет redirect_uri".into())));
        };
        if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
            return Ok(Err(AuthorizeError::Page(
                "адрес возврата не зарегистрирован для этого сервиса".into(),
            )));
        }
        let mut request = AuthRequest {
            min_level: client.min_level.clone(),
            client,
            redirect_uri: redirect_uri.to_owned(),
            scopes: Vec::new(),
            state: p.state.clone(),
            nonce: p.nonce.clone(),
            code_challenge: None,
            prompt: p
                .prompt
                .as_deref()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            max_age: p.max_age,
            login_hint: p.login_hint.clone(),
        };
        let refuse = |request: &AuthRequest, error: &'static str, description: &str| {
            Ok(Err(AuthorizeError::Redirect {
                redirect: request.answer(
                    &self.settings.issuer,
                    &[("error", error), ("error_description", description)],
                ),
                error,
                description: description.into(),
            }))
        };
        if p.response_type.as_deref() != Some("code") {
            return refuse(&request, "unsupported_response_type", "only response_type=code");
        }
        let scopes: Vec<String> =
            p.scope.as_deref().unwrap_or("").split_whitespace().map(str::to_owned).collect();
        if !scopes.iter().any(|s| s == "openid") {
            return refuse(&request, "invalid_scope", "the openid scope is required");
        }
        if let Some(s) = scopes.iter().find(|s| !request.client.scopes.contains(s)) {
            return refuse(
                &request,
                "invalid_scope",
                &format!("scope {s} is not allowed for this client"),
            );
        }
        request.scopes = scopes;
        match (p.code_challenge.as_deref(), p.code_challenge_method.as_deref()) {
            (Some(c), Some("S256")) if c.len() == 43 => request.code_challenge = Some(c.to_owned()),
            (Some(_), _) => {
                return refuse(
                    &request,
                    "invalid_request",
                    "code_challenge must be S256 of 43 characters",
                );
            }
            (None, _) if request.client.kind == "public" => {
                return refuse(
                    &request,
                    "invalid_request",
                    "PKCE (S256) is required for public clients",
                );
            }
            (None, _) => {}
        }
        if request.prompt.iter().any(|p| p == "none") && request.prompt.len() > 1 {
            return refuse(&request, "invalid_request", "prompt=none cannot be combined");
        }
        if let Some(values) = &p.acr_values {
            // The lowest level the client asked for that we know; above the client's own.
            if let Some(level) = values
                .split_whitespace()
                .filter_map(|v| v.strip_prefix("urn:uslugi:loa:"))
                .filter(|l| LEVELS.contains(l))
                .min_by_key(|l| level_rank(l))
                && level_rank(level) > level_rank(&request.min_level)
            {
                request.min_level = level.to_owned();
            }
        }
        Ok(Ok(request))
    }

    /// Whether the person already consented to every scope of the request.
    pub async fn has_consent(
        &self,
        account_id: &str,
        request: &AuthRequest,
    ) -> Result<bool, OidcError> {
        let given =
            rows::consent(&mut *self.db.conn().await?, account_id, &request.client.id).await?;
        let given: Vec<String> =
            given.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default();
        Ok(request.scopes.iter().all(|s| given.contains(s)))
    }

    pub async fn save_consent(
        &self,
        account_id: &str,
        request: &AuthRequest,
        now: DateTime<Utc>,
    ) -> Result<(), OidcError> {
        let scopes = serde_json::to_string(&request.scopes).unwrap_or_else(|_| "[]".into());
        rows::save_consent(
            &mut *self.db.conn().await?,
            account_id,
            &request.client.id,
            &scopes,
            to_micros(now),
        )
        .await?;
        Ok(())
    }

    fn code_hash(&self, code: &str) -> String {
        self.vault.secret_hash("oidc-code", code)
    }

    /// Issues an authorization code (single use, 60 s) and answers with the redirect.
    pub async fn issue_code(
        &self,
        account_id: &str,
        level: &str,
        auth_time: DateTime<Utc>,
        request: &AuthRequest,
        now: DateTime<Utc>,
    ) -> Result<String, OidcError> {
        let bytes: [u8; 32] = rand::random();
        let code = B64URL.encode(bytes);
        let row = CodeRow {
            code_hash: self.code_hash(&code),
            client_id: request.client.id.clone(),
            account_id: account_id.to_owned(),
            redirect_uri: request.redirect_uri.clone(),
            scopes: serde_json::to_string(&request.scopes).unwrap_or_else(|_| "[]".into()),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            auth_time: to_micros(auth_time),
            acr: acr_of(level),
            created_at: to_micros(now),
            expires_at: to_micros(now + Duration::seconds(60)),
            used_at: None,
            grant_id: None,
        };
        let mut conn = self.db.conn().await?;
        rows::insert_code(&mut conn, &row).await?;
        // Housekeeping: a used code is kept a day past its expiry so that its replay still
        // revokes what it gave.
        rows::purge_expired_codes(&mut conn, to_micros(now - Duration::days(1))).await?;
        drop(conn);
        Ok(request.answer(&self.settings.issuer, &[("code", &code)]))
    }

    /// The authorization-code grant: authenticates the client, checks the code (single
    /// use — a replay revokes what the code gave), the redirect URI and PKCE, and issues
    /// the access and ID tokens.
    pub async fn exchange_code(
        &self,
        credentials: &ClientCredentials,
        code: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Result<TokenResponse, TokenError>, OidcError> {
        let client = match self.authenticated(credentials, now).await? {
            Ok(client) => client,
            Err(refused) => return Ok(Err(refused)),
        };
        let hash = self.code_hash(code);
        let now_us = to_micros(now);
        let Some(row) = rows::code(&mut *self.db.conn().await?, &hash).await? else {
            return Ok(Err(token_error("invalid_grant", "unknown code")));
        };
        if row.client_id != client.id {
            return Ok(Err(token_error("invalid_grant", "the code was issued to another client")));
        }
        if row.used_at.is_some() {
            // A replayed code: revoke what it gave (RFC 6749 §4.1.2).
            if let Some(grant) = &row.grant_id {
                rows::revoke_grant(&mut *self.db.conn().await?, grant, now_us).await?;
            }
            return Ok(Err(token_error("invalid_grant", "the code was already used")));
        }
        if row.expires_at <= now_us {
            return Ok(Err(token_error("invalid_grant", "the code has expired")));
        }
        if redirect_uri != Some(row.redirect_uri.as_str()) {
            return Ok(Err(token_error("invalid_grant", "redirect_uri does not match")));
        }
        match (&row.code_challenge, code_verifier) {
            (Some(challenge), Some(verifier)) if pkce_s256(verifier) == *challenge => {}
            (Some(_), _) => {
                return Ok(Err(token_error("invalid_grant", "PKCE verification failed")));
            }
            (None, Some(_)) => {
                return Ok(Err(token_error("invalid_grant", "no code_challenge was sent")));
            }
            (None, None) => {}
        }
        let grant_id = uuid::Uuid::now_v7().to_string();
        let scopes: Vec<String> = serde_json::from_str(&row.scopes).unwrap_or_default();
        // The key first: the transaction below holds the only SQLite connection.
        let key = self.client_key(&client, now).await?;
        let mut tx = self.db.begin().await?;
        if !rows::use_code(&mut tx, &hash, &grant_id, now_us).await? {
            return Ok(Err(token_error("invalid_grant", "the code was already used")));
        }
        let grant = rows::NewGrant {
            id: &grant_id,
            client_id: &client.id,
            account_id: &row.account_id,
            scopes: &row.scopes,
            acr: &row.acr,
            created_at: now_us,
            refresh_expires_at: to_micros(now + self.settings.refresh_token_ttl),
        };
        rows::insert_grant(&mut tx, &grant).await?;
        let refresh = self.refresh_token(&grant_id, 0);
        rows::touch_consent(&mut tx, &row.account_id, &client.id, now_us).await?;
        let issued = Issue {
            grant_id: &grant_id,
            client_id: &client.id,
            account_id: &row.account_id,
            scopes: &scopes,
            acr: &row.acr,
            auth_time: from_micros(row.auth_time),
            nonce: row.nonce.as_deref(),
        };
        let tokens = self.sign_tokens(&key, &issued, refresh, now);
        tx.commit().await.map_err(store::StoreError::from)?;
        Ok(Ok(tokens))
    }

    /// Signs the access and ID tokens of a grant; `refresh` is the new refresh token,
    /// stored by the caller in the same commit that uses up the code or the old token.
    fn sign_tokens(
        &self,
        key: &crate::keys::ActiveKey,
        i: &Issue<'_>,
        refresh: String,
        now: DateTime<Utc>,
    ) -> TokenResponse {
        let issuer = &self.settings.issuer;
        let access_exp = now + self.settings.access_token_ttl;
        let access_token = key.sign(
            "at+jwt",
            &json!({
                "iss": issuer,
                "sub": i.account_id,
                "aud": issuer,
                "client_id": i.client_id,
                "scope": i.scopes.join(" "),
                "sid": i.grant_id,
                "acr": i.acr,
                "iat": now.timestamp(),
                "exp": access_exp.timestamp(),
                "jti": uuid::Uuid::now_v7().to_string(),
            }),
        );
        // at_hash: the left half of SHA-256 of the access token (Core §3.1.3.6).
        let digest = Sha256::digest(access_token.as_bytes());
        let at_hash = B64URL.encode(&digest[..16]);
        let mut id = json!({
            "iss": issuer,
            "sub": i.account_id,
            "aud": i.client_id,
            "iat": now.timestamp(),
            "exp": (now + self.settings.id_token_ttl).timestamp(),
            "auth_time": i.auth_time.timestamp(),
            "acr": i.acr,
            "at_hash": at_hash,
            "sid": i.grant_id,
        });
        if let (Some(nonce), Some(map)) = (i.nonce, id.as_object_mut()) {
            map.insert("nonce".into(), Value::String(nonce.to_owned()));
        }
        TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.settings.access_token_ttl.num_seconds(),
            id_token: key.sign("JWT", &id),
            refresh_token: refresh,
            scope: i.scopes.join(" "),
        }
    }

    /// The refresh token of a grant's `generation`: `<grant id>.<generation>.<MAC>`, the
    /// MAC keyed by the vault, so only this provider can make one. The grant row holds
    /// the current generation; an older one presented again is a replay.
    fn refresh_token(&self, grant_id: &str, generation: i64) -> String {
        let mac = self.vault.secret_hash("oidc-refresh", &format!("{grant_id}.{generation}"));
        format!("{grant_id}.{generation}.{mac}")
    }

    /// The grant and generation of a refresh token this provider made; `None` for
    /// anything else.
    fn parse_refresh(&self, token: &str) -> Option<(String, i64)> {
        let (body, mac) = token.rsplit_once('.')?;
        let (grant_id, generation) = body.split_once('.')?;
        let generation: i64 = generation.parse().ok().filter(|g| *g >= 0)?;
        let want = self.vault.secret_hash("oidc-refresh", body);
        crate::clients::same_secret(mac, &want).then(|| (grant_id.to_owned(), generation))
    }

    /// The client, authenticated by the method it was registered with (see
    /// [`Provider::authenticate`]: a secret, a `private_key_jwt` assertion, or none).
    async fn authenticated(
        &self,
        credentials: &ClientCredentials,
        now: DateTime<Utc>,
    ) -> Result<Result<Client, TokenError>, OidcError> {
        self.authenticate(credentials, now).await
    }

    /// The refresh-token grant: rotates the refresh token; a token used twice revokes the
    /// whole grant (its family), so a stolen token is worth one use at most.
    pub async fn refresh_tokens(
        &self,
        credentials: &ClientCredentials,
        refresh_token: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<TokenResponse, TokenError>, OidcError> {
        let client = match self.authenticated(credentials, now).await? {
            Ok(client) => client,
            Err(refused) => return Ok(Err(refused)),
        };
        let Some((grant_id, generation)) = self.parse_refresh(refresh_token) else {
            return Ok(Err(token_error("invalid_grant", "unknown refresh token")));
        };
        let key = self.client_key(&client, now).await?;
        // No look-up first: the rotation is one compare-and-set of the grant row, grouped
        // with other rotations into one durable commit. Only a refusal reads the grant,
        // to say why.
        let rotation = rows::Rotation {
            grant_id,
            client_id: client.id.clone(),
            generation,
            now: to_micros(now),
            expires_at: to_micros(now + self.settings.refresh_token_ttl),
        };
        let Some(grant) = self.rotations().submit(rotation.clone()).await? else {
            return self.refresh_refused(&rotation).await.map(Err);
        };
        let scopes: Vec<String> = serde_json::from_str(&grant.scopes).unwrap_or_default();
        let acr = grant.acr.clone().unwrap_or_else(|| acr_of("simplified"));
        let issued = Issue {
            grant_id: &rotation.grant_id,
            client_id: &client.id,
            account_id: &grant.account_id,
            scopes: &scopes,
            acr: &acr,
            auth_time: from_micros(grant.created_at),
            nonce: None,
        };
        let refresh = self.refresh_token(&rotation.grant_id, generation + 1);
        Ok(Ok(self.sign_tokens(&key, &issued, refresh, now)))
    }

    /// Why a rotation was refused. A token of an older generation was used already: a
    /// replay (or two uses racing), which revokes the whole grant, its family.
    async fn refresh_refused(&self, r: &rows::Rotation) -> Result<TokenError, OidcError> {
        let grant = rows::grant(&mut *self.db.read().await?, &r.grant_id).await?;
        let Some(grant) = grant.filter(|g| g.refresh_generation.is_some()) else {
            return Ok(token_error("invalid_grant", "unknown refresh token"));
        };
        if grant.client_id != r.client_id {
            return Ok(token_error("invalid_grant", "the token was issued to another client"));
        }
        if grant.revoked_at.is_some() {
            return Ok(token_error("invalid_grant", "the grant was revoked"));
        }
        if grant.refresh_generation > Some(r.generation) {
            rows::revoke_grant(&mut *self.db.conn().await?, &grant.id, r.now).await?;
            return Ok(token_error(
                "invalid_grant",
                "the refresh token was already used: the grant is revoked",
            ));
        }
        if grant.refresh_expires_at.is_some_and(|at| at <= r.now) {
            return Ok(token_error("invalid_grant", "the refresh token has expired"));
        }
        Ok(token_error("invalid_grant", "unknown refresh token"))
    }

    /// The writer that groups refresh-token rotations into shared commits (started on
    /// first use, inside the server's runtime).
    fn rotations(&self) -> &store::batch::GroupCommit<rows::Rotation, Option<rows::Rotated>> {
        self.rotations
            .get_or_init(|| store::batch::GroupCommit::start(self.db.clone(), rows::rotate_refresh))
    }

    /// RFC 7009: revokes the grant behind an access or refresh token of this client.
    /// Unknown tokens are not an error (the answer is the same).
    pub async fn revoke(
        &self,
        credentials: &ClientCredentials,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<(), TokenError>, OidcError> {
        let client = match self.authenticated(credentials, now).await? {
            Ok(client) => client,
            Err(refused) => return Ok(Err(refused)),
        };
        let Some(grant_id) = self.grant_of_token(token, now).await? else { return Ok(Ok(())) };
        // One pooled connection at a time (SQLite has one): no look-up inside an `if let`
        // chain that still holds the previous one.
        let grant = rows::grant(&mut *self.db.conn().await?, &grant_id).await?;
        if grant.is_some_and(|g| g.client_id == client.id) {
            rows::revoke_grant(&mut *self.db.conn().await?, &grant_id, to_micros(now)).await?;
        }
        Ok(Ok(()))
    }

    async fn grant_of_token(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, OidcError> {
        if let Some(claims) = self.verify_jwt(token, "at+jwt", now).await? {
            return Ok(claims["sid"].as_str().map(str::to_owned));
        }
        Ok(self.parse_refresh(token).map(|(grant_id, _)| grant_id))
    }

    /// RFC 7662: what a token of this client is, for a resource server.
    pub async fn introspect(
        &self,
        credentials: &ClientCredentials,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<Value, TokenError>, OidcError> {
        let client = match self.authenticated(credentials, now).await? {
            Ok(client) => client,
            Err(refused) => return Ok(Err(refused)),
        };
        let inactive = json!({"active": false});
        if let Some(access) = self.check_access_token(token, now).await? {
            if access.client_id != client.id {
                return Ok(Ok(inactive));
            }
            return Ok(Ok(json!({
                "active": true,
                "token_type": "access_token",
                "sub": access.account_id,
                "client_id": access.client_id,
                "scope": access.scopes.join(" "),
                "iss": self.settings.issuer,
            })));
        }
        let Some((grant_id, generation)) = self.parse_refresh(token) else {
            return Ok(Ok(inactive));
        };
        let grant = rows::grant(&mut *self.db.read().await?, &grant_id).await?;
        if let Some(grant) = grant
            && grant.refresh_generation == Some(generation)
            && let Some(expires_at) = grant.refresh_expires_at
            && expires_at > to_micros(now)
            && grant.revoked_at.is_none()
            && grant.client_id == client.id
        {
            return Ok(Ok(json!({
                "active": true,
                "token_type": "refresh_token",
                "sub": grant.account_id,
                "client_id": grant.client_id,
                "scope": serde_json::from_str::<Vec<String>>(&grant.scopes).unwrap_or_default().join(" "),
                "exp": expires_at / 1_000_000,
                "iss": self.settings.issuer,
            })));
        }
        Ok(Ok(inactive))
    }

    /// The services the person signed in to: (client id, name, attribute words, granted,
    /// last used).
    pub async fn linked_services(&self, account_id: &str) -> Result<Vec<LinkedService>, OidcError> {
        let found = rows::linked_services(&mut *self.db.conn().await?, account_id).await?;
        Ok(found
            .into_iter()
            .map(|(client_id, name, scopes, granted, used)| {
                let scopes: Vec<String> = serde_json::from_str(&scopes).unwrap_or_default();
                LinkedService {
                    client_id,
                    name,
                    attributes: SCOPES
                        .iter()
                        .filter(|(k, _)| *k != "openid" && scopes.iter().any(|s| s == k))
                        .map(|(_, w)| *w)
                        .collect(),
                    granted_at: from_micros(granted),
                    last_used_at: from_micros(used),
                }
            })
            .collect())
    }

    /// Unlinks a service: its consent and every grant end (the next sign-in asks again).
    pub async fn unlink(
        &self,
        account_id: &str,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, OidcError> {
        let now_us = to_micros(now);
        let mut tx = self.db.begin().await?;
        let had = rows::revoke_consent(&mut tx, account_id, client_id, now_us).await?;
        rows::revoke_account_grants(&mut tx, account_id, Some(client_id), now_us).await?;
        tx.commit().await.map_err(store::StoreError::from)?;
        Ok(had)
    }

    /// The userinfo answer built for this token within the last [`USERINFO_FRESH`]
    /// seconds, if any (the token was checked just before, grant included).
    pub fn fresh_userinfo(&self, access: &AccessToken, now: DateTime<Utc>) -> Option<Arc<Value>> {
        self.verified.claims(&access.key, now.timestamp())
    }

    /// Remembers the userinfo answer built for this token.
    pub fn remember_userinfo(&self, access: &AccessToken, claims: Arc<Value>, now: DateTime<Utc>) {
        self.verified.set_claims(&access.key, claims, now.timestamp());
    }

    /// Checks an access token: our signature with a published key, not expired, issued
    /// by us, and its grant not revoked.
    pub async fn check_access_token(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AccessToken>, OidcError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let access = match self.verified.get(&key, now.timestamp()) {
            Some(access) => access,
            None => {
                let Some(claims) = self.verify_jwt(token, "at+jwt", now).await? else {
                    return Ok(None);
                };
                let field = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
                let (Some(sub), Some(client_id), Some(grant_id), Some(exp)) =
                    (field("sub"), field("client_id"), field("sid"), claims["exp"].as_i64())
                else {
                    return Ok(None);
                };
                if field("iss").as_deref() != Some(self.settings.issuer.as_str()) {
                    return Ok(None);
                }
                let scopes = field("scope")
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect();
                let access = AccessToken { account_id: sub, client_id, scopes, grant_id, key };
                self.verified.put(key, access.clone(), exp, now.timestamp());
                access
            }
        };
        if !rows::grant_live(&mut *self.db.read().await?, &access.grant_id).await? {
            return Ok(None);
        }
        Ok(Some(access))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn token(n: u8) -> AccessToken {
        AccessToken {
            account_id: format!("a{n}"),
            client_id: "eis".into(),
            scopes: vec!["openid".into()],
            grant_id: format!("g{n}"),
            key: [n; 32],
        }
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires_and_its_answer_a_few_seconds() {
        let v = VerifiedTokens::default();
        let t = token(1);
        v.put(t.key, t.clone(), 1_000, 100);
        assert_eq!(v.get(&t.key, 999), Some(t.clone()));
        assert_eq!(v.get(&t.key, 1_000), None, "not at or after exp");
        assert!(v.claims(&t.key, 100).is_none(), "no answer built yet");
        v.set_claims(&t.key, Arc::new(json!({"sub": "a1"})), 100);
        assert_eq!(v.claims(&t.key, 100 + USERINFO_FRESH - 1).unwrap()["sub"], json!("a1"));
        assert!(v.claims(&t.key, 100 + USERINFO_FRESH).is_none(), "rebuilt after a few seconds");
        assert!(v.claims(&[9; 32], 100).is_none());
    }

    #[test]
    fn the_memory_is_bounded_dropping_expired_tokens_first() {
        let v = VerifiedTokens::default();
        for i in 0..VERIFIED_MAX {
            let mut t = token(0);
            t.key[..8].copy_from_slice(&(i as u64).to_le_bytes());
            // Half of them expired by the time the map is full.
            let exp = if i % 2 == 0 { 50 } else { 1_000 };
            v.put(t.key, t, exp, 10);
        }
        let t = token(7);
        v.put(t.key, t.clone(), 1_000, 100);
        let len = v.lock().len();
        assert_eq!(len, VERIFIED_MAX / 2 + 1, "the expired half went, the live half stayed");
        assert!(v.get(&t.key, 100).is_some());
    }
}
