//! «Демо-банк»: a minimal, honest OpenID Connect provider so the bank route to a
//! confirmed account can be tried locally and tested without a real bank.
//!
//! It speaks the authorization code flow only: discovery
//! (`/.well-known/openid-configuration`), the key set (`/jwks`, one ES256 key generated at
//! start), `/authorize` (a Russian page where the customer picks a demo customer or signs
//! in with login and password, or refuses), `/token` (`client_secret_basic` or
//! `client_secret_post`, codes single use for 60 s, PKCE S256 required) and `/userinfo`.
//! It has one registered client whose `redirect_uri` must match exactly. Claims:
//! `family_name`, `given_name`, `middle_name`, `birthdate` and the bank's own `snils` and
//! `passport` (series and number), in the ID token and at `/userinfo`.
//!
//! Everything is kept in memory; time comes from the injected clock, so tests that move
//! a manual clock see codes and tokens expire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use chrono::{DateTime, Duration, Utc};
use domain::Clock;
use openidconnect::core::{
    CoreGenderClaim, CoreJsonCurveType, CoreJsonWebKey, CoreJsonWebKeySet,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::url::{Url, form_urlencoded};
use openidconnect::{
    AccessToken, AdditionalClaims, Audience, AuthorizationCode, EndUserBirthday, EndUserFamilyName,
    EndUserGivenName, EndUserMiddleName, IdToken, IdTokenClaims, IssuerUrl, JsonWebKeyId,
    LocalizedClaim, Nonce, PrivateSigningKey, SigningError, StandardClaims, SubjectIdentifier,
};
use p256::ecdsa::SigningKey;
use p256::ecdsa::signature::Signer as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long an authorization code may be exchanged.
const CODE_TTL: Duration = Duration::seconds(60);
/// How long an access token (for `/userinfo`) lives.
const ACCESS_TTL: Duration = Duration::minutes(10);
/// How long an ID token is valid.
const ID_TOKEN_TTL: Duration = Duration::minutes(5);

/// The bank's one registered client and where it runs.
#[derive(Clone)]
pub struct Config {
    /// The issuer, e.g. `http://127.0.0.1:8082` (no trailing slash).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// The client's only redirect URI (exact match).
    pub redirect_uri: String,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// A customer of the demo bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// The subject identifier, also the key of the «choose» button.
    pub id: &'static str,
    pub login: &'static str,
    pub password: &'static str,
    pub family_name: &'static str,
    pub given_name: &'static str,
    pub middle_name: &'static str,
    /// `YYYY-MM-DD`.
    pub birthdate: &'static str,
    pub snils: &'static str,
    /// Series and number, `4510 654321`; not every customer's passport is on file.
    pub passport: Option<&'static str>,
    /// What the choice page says about the customer.
    pub note: &'static str,
}

/// The demo customers: the demo citizen of the portal, and one whose SNILS at the bank
/// differs from the one the registries confirmed (the bank route then refuses).
pub const CUSTOMERS: [Customer; 2] = [
    Customer {
        id: "maria",
        login: "maria",
        password: "demo",
        family_name: "Демидова",
        given_name: "Мария",
        middle_name: "Ивановна",
        birthdate: "1988-04-12",
        snils: "123-456-789 64",
        passport: Some("4510 654321"),
        note: "данные совпадают с демо-гражданином портала",
    },
    Customer {
        id: "maria-other-snils",
        login: "maria2",
        password: "demo",
        family_name: "Демидова",
        given_name: "Мария",
        middle_name: "Ивановна",
        birthdate: "1988-04-12",
        snils: "987-654-321 83",
        passport: None,
        note: "в банке указан другой СНИЛС — портал откажет",
    },
];

/// The bank-specific claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BankClaims {
    snils: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    passport: Option<String>,
}

impl AdditionalClaims for BankClaims {}

/// The ES256 signing key, generated at start.
struct Es256 {
    key: SigningKey,
    kid: String,
}

impl Es256 {
    fn generate() -> Self {
        loop {
            let bytes: [u8; 32] = rand::random();
            // Fails only for zero or a value above the group order: practically never.
            if let Ok(key) = SigningKey::from_slice(&bytes) {
                let kid: [u8; 8] = rand::random();
                return Self { key, kid: B64URL.encode(kid) };
            }
        }
    }
}

impl PrivateSigningKey for Es256 {
    type VerificationKey = CoreJsonWebKey;

    fn sign(&self, alg: &CoreJwsSigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, SigningError> {
        if *alg != CoreJwsSigningAlgorithm::EcdsaP256Sha256 {
            return Err(SigningError::UnsupportedAlg(format!("{alg:?}")));
        }
        let signature: p256::ecdsa::Signature = self.key.sign(message);
        // JWS wants the fixed-size r‖s form, which is what `to_bytes` gives.
        Ok(signature.to_bytes().as_slice().to_vec())
    }

    fn as_verification_key(&self) -> CoreJsonWebKey {
        let point = self.key.verifying_key().to_sec1_point(false);
        let bytes = point.as_bytes();
        // Uncompressed SEC1: 0x04 ‖ x (32 bytes) ‖ y (32 bytes).
        let (x, y) = (bytes[1..33].to_vec(), bytes[33..65].to_vec());
        CoreJsonWebKey::new_ec(
            x,
            y,
            CoreJsonCurveType::P256,
            Some(JsonWebKeyId::new(self.kid.clone())),
        )
    }
}

/// A code issued at `/authorize`, waiting for `/token`.
struct Grant {
    customer: &'static Customer,
    redirect_uri: String,
    nonce: Option<String>,
    code_challenge: String,
    expires_at: DateTime<Utc>,
}

struct Bank {
    config: Config,
    key: Es256,
    codes: Mutex<HashMap<String, Grant>>,
    access: Mutex<HashMap<String, (&'static Customer, DateTime<Utc>)>>,
}

type Shared = Arc<Bank>;

/// The demo bank's routes, ready to serve (mount at the root of its own listener).
pub fn router(config: Config) -> Router {
    let bank = Arc::new(Bank {
        config,
        key: Es256::generate(),
        codes: Mutex::new(HashMap::new()),
        access: Mutex::new(HashMap::new()),
    });
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize_page).post(authorize_decide))
        .route("/token", axum::routing::post(token))
        .route("/userinfo", get(userinfo).post(userinfo))
        .route("/", get(|| async { Redirect::to("/.well-known/openid-configuration") }))
        .with_state(bank)
}

/// A fresh random client secret (for a demo bank started without one).
pub fn new_secret() -> String {
    random_token()
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    B64URL.encode(bytes)
}

async fn discovery(State(bank): State<Shared>) -> Json<serde_json::Value> {
    let issuer = &bank.config.issuer;
    Json(serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "scopes_supported": ["openid", "profile", "birthdate", "snils", "passport"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "nonce", "family_name", "given_name",
            "middle_name", "birthdate", "snils", "passport"
        ],
    }))
}

async fn jwks(State(bank): State<Shared>) -> Json<CoreJsonWebKeySet> {
    Json(CoreJsonWebKeySet::new(vec![bank.key.as_verification_key()]))
}

/// The parameters of an authorization request, as received by GET and carried in the
/// page's hidden fields to the POST.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
struct AuthRequest {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: String,
    nonce: String,
    code_challenge: String,
    code_challenge_method: String,
}

/// What is wrong with a request, and whether it is safe to tell the client by redirect.
enum Invalid {
    /// The client or its redirect URI is unknown: never redirect, show a page.
    Page(&'static str),
    /// Tell the client at its registered redirect URI.
    Redirect(&'static str, &'static str),
}

impl Bank {
    fn check(&self, r: &AuthRequest) -> Result<(), Invalid> {
        if r.client_id != self.config.client_id {
            return Err(Invalid::Page("Неизвестное приложение (client_id)."));
        }
        if r.redirect_uri != self.config.redirect_uri {
            return Err(Invalid::Page("Адрес возврата (redirect_uri) не зарегистрирован в банке."));
        }
        if r.response_type != "code" {
            return Err(Invalid::Redirect("unsupported_response_type", "only code"));
        }
        if !r.scope.split(' ').any(|s| s == "openid") {
            return Err(Invalid::Redirect("invalid_scope", "openid scope required"));
        }
        if r.code_challenge_method != "S256" || r.code_challenge.len() < 43 {
            return Err(Invalid::Redirect("invalid_request", "PKCE S256 required"));
        }
        Ok(())
    }

    /// The client's redirect URI with `params` and the request's `state` added.
    fn back(&self, r: &AuthRequest, params: &[(&str, &str)]) -> Response {
        let Ok(mut url) = Url::parse(&r.redirect_uri) else {
            return error_page(StatusCode::BAD_REQUEST, "Неверный адрес возврата.");
        };
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in params {
                q.append_pair(k, v);
            }
            if !r.state.is_empty() {
                q.append_pair("state", &r.state);
            }
        }
        Redirect::to(url.as_str()).into_response()
    }

    fn reject(&self, r: &AuthRequest, invalid: Invalid) -> Response {
        match invalid {
            Invalid::Page(message) => error_page(StatusCode::BAD_REQUEST, message),
            Invalid::Redirect(code, description) => {
                self.back(r, &[("error", code), ("error_description", description)])
            }
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "authorize.html")]
struct AuthorizePage {
    request: AuthRequest,
    customers: &'static [Customer],
    error: Option<&'static str>,
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    message: &'static str,
}

fn error_page(status: StatusCode, message: &'static str) -> Response {
    (status, ErrorPage { message }).into_response()
}

/// `GET /authorize`: the bank's sign-in and consent page.
async fn authorize_page(
    State(bank): State<Shared>,
    Query(request): Query<AuthRequest>,
) -> Response {
    if let Err(invalid) = bank.check(&request) {
        return bank.reject(&request, invalid);
    }
    AuthorizePage { request, customers: &CUSTOMERS, error: None }.into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Decision {
    #[serde(flatten)]
    request: AuthRequest,
    /// The chosen demo customer's id; empty when signing in with login and password.
    customer: Option<String>,
    login: String,
    password: String,
    /// Present when the customer refused.
    deny: Option<String>,
}

/// `POST /authorize`: the customer chose, signed in or refused.
async fn authorize_decide(State(bank): State<Shared>, Form(d): Form<Decision>) -> Response {
    let request = d.request;
    if let Err(invalid) = bank.check(&request) {
        return bank.reject(&request, invalid);
    }
    if d.deny.is_some() {
        return bank.back(
            &request,
            &[("error", "access_denied"), ("error_description", "the customer refused")],
        );
    }
    let chosen = match d.customer.as_deref().filter(|c| !c.is_empty()) {
        Some(id) => CUSTOMERS.iter().find(|c| c.id == id),
        None => CUSTOMERS.iter().find(|c| c.login == d.login.trim() && c.password == d.password),
    };
    let Some(customer) = chosen else {
        let page = AuthorizePage {
            request,
            customers: &CUSTOMERS,
            error: Some("Неверный логин или пароль"),
        };
        return (StatusCode::UNPROCESSABLE_ENTITY, page).into_response();
    };
    let code = random_token();
    let grant = Grant {
        customer,
        redirect_uri: request.redirect_uri.clone(),
        nonce: Some(request.nonce.clone()).filter(|n| !n.is_empty()),
        code_challenge: request.code_challenge.clone(),
        expires_at: bank.config.clock.now() + CODE_TTL,
    };
    if let Ok(mut codes) = bank.codes.lock() {
        let now = bank.config.clock.now();
        codes.retain(|_, g| g.expires_at > now);
        codes.insert(code.clone(), grant);
    }
    bank.back(&request, &[("code", &code)])
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TokenRequest {
    grant_type: String,
    code: String,
    redirect_uri: String,
    code_verifier: String,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// An OAuth error answer of the token endpoint.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = serde_json::json!({ "error": error, "error_description": description });
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// One form-urlencoded component, decoded (RFC 6749 §2.3.1 encodes Basic credentials).
fn form_decode(part: &str) -> String {
    form_urlencoded::parse(part.as_bytes()).next().map(|(k, _)| k.into_owned()).unwrap_or_default()
}

/// The client's credentials: `Authorization: Basic` or the form's fields.
fn client_credentials(headers: &HeaderMap, form: &TokenRequest) -> Option<(String, String)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = B64.decode(basic.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        return Some((form_decode(id), form_decode(secret)));
    }
    Some((form.client_id.clone()?, form.client_secret.clone()?))
}

/// Compares two strings without an early exit.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `POST /token`: exchanges a code for an ID token and an access token.
async fn token(
    State(bank): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<TokenRequest>,
) -> Response {
    let config = &bank.config;
    match client_credentials(&headers, &form) {
        Some((id, secret)) if id == config.client_id && same(&secret, &config.client_secret) => {}
        _ => return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "bad credentials"),
    }
    if form.grant_type != "authorization_code" {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "code only");
    }
    // The code is used up by this request whatever happens next.
    let grant = bank.codes.lock().ok().and_then(|mut codes| codes.remove(&form.code));
    let now = config.clock.now();
    let Some(grant) = grant.filter(|g| g.expires_at > now) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown or expired code");
    };
    if grant.redirect_uri != form.redirect_uri {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "redirect_uri differs");
    }
    let challenge = B64URL.encode(Sha256::digest(form.code_verifier.as_bytes()));
    if form.code_verifier.len() < 43 || !same(&challenge, &grant.code_challenge) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "PKCE verification failed");
    }
    let access = random_token();
    if let Ok(mut tokens) = bank.access.lock() {
        tokens.retain(|_, (_, until)| *until > now);
        tokens.insert(access.clone(), (grant.customer, now + ACCESS_TTL));
    }
    let Ok(issuer) = IssuerUrl::new(config.issuer.clone()) else {
        return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "bad issuer");
    };
    let claims = IdTokenClaims::new(
        issuer,
        vec![Audience::new(config.client_id.clone())],
        now + ID_TOKEN_TTL,
        now,
        standard_claims(grant.customer),
        bank_claims(grant.customer),
    )
    .set_nonce(grant.nonce.map(Nonce::new))
    .set_auth_time(Some(now));
    let id_token = IdToken::<
        BankClaims,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >::new(
        claims,
        &bank.key,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        Some(&AccessToken::new(access.clone())),
        Some(&AuthorizationCode::new(form.code.clone())),
    );
    let id_token = match id_token {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "demo bank could not sign an ID token");
            return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "signing");
        }
    };
    let body = serde_json::json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_TTL.num_seconds(),
        "id_token": id_token.to_string(),
    });
    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

fn standard_claims(c: &Customer) -> StandardClaims<CoreGenderClaim> {
    let text = |v: &str| v.to_owned();
    StandardClaims::new(SubjectIdentifier::new(c.id.to_owned()))
        .set_family_name(Some(LocalizedClaim::from(EndUserFamilyName::new(text(c.family_name)))))
        .set_given_name(Some(LocalizedClaim::from(EndUserGivenName::new(text(c.given_name)))))
        .set_middle_name(Some(LocalizedClaim::from(EndUserMiddleName::new(text(c.middle_name)))))
        .set_birthdate(Some(EndUserBirthday::new(text(c.birthdate))))
}

fn bank_claims(c: &Customer) -> BankClaims {
    BankClaims { snils: c.snils.to_owned(), passport: c.passport.map(str::to_owned) }
}

/// `GET /userinfo` with `Authorization: Bearer …`.
async fn userinfo(State(bank): State<Shared>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    let now = bank.config.clock.now();
    let customer =
        bank.access.lock().ok().and_then(|tokens| {
            tokens.get(token).filter(|(_, until)| *until > now).map(|(c, _)| *c)
        });
    let Some(c) = customer else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response();
    };
    let mut body = serde_json::json!({
        "sub": c.id,
        "family_name": c.family_name,
        "given_name": c.given_name,
        "middle_name": c.middle_name,
        "birthdate": c.birthdate,
        "snils": c.snils,
    });
    if let Some(p) = c.passport {
        body["passport"] = p.into();
    }
    Json(body).into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_key_signs_in_jws_form_and_publishes_its_public_half() {
        let key = Es256::generate();
        let signature = key.sign(&CoreJwsSigningAlgorithm::EcdsaP256Sha256, b"message").unwrap();
        assert_eq!(signature.len(), 64);
        assert!(key.sign(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, b"m").is_err());
        let jwk = serde_json::to_value(key.as_verification_key()).unwrap();
        assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str()), (Some("EC"), Some("P-256")));
        assert!(jwk.get("d").is_none(), "no private part: {jwk}");
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let headers = {
            let mut h = HeaderMap::new();
            let value = format!("Basic {}", B64.encode("uslugi:s%3Acret+x"));
            h.insert(header::AUTHORIZATION, value.parse().unwrap());
            h
        };
        let creds = client_credentials(&headers, &TokenRequest::default()).unwrap();
        assert_eq!(creds, ("uslugi".to_owned(), "s:cret x".to_owned()));
    }
}
