//! Confirmation through a trusted bank: the bank is an OpenID Connect provider; the
//! person signs in there, the bank hands over the data it verified (names, birth date,
//! SNILS and/or passport), and when that data matches the person's verified documents
//! the account becomes confirmed.
//!
//! The relying party is the `openidconnect` crate: discovery, the authorization code
//! flow with PKCE S256, `state` and `nonce`, and the ID token checks (signature by the
//! bank's published keys, issuer, audience, nonce, expiry at our clock, `at_hash`). HTTP
//! goes through our own reqwest client (rustls/ring, no redirects, 10 s time-out). The
//! `state` is stored only as a keyed hash, with the nonce and the PKCE verifier as vault
//! ciphertext; it lives 10 minutes, is used once, and a browser flow must come back in
//! the session that started it.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::ident::Snils;
use journal::{Origin, Outcome};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AsyncHttpClient, AuthenticationFlow, AuthorizationCode,
    Client, ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IdTokenFields, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError,
    Scope, StandardErrorResponse, StandardTokenResponse, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use store::banks::{self as rows, BankFlowRow};
use store::to_micros;

use crate::documents::PersonalData;
use crate::{Identity, IdentityError, commit};

/// How long a started confirmation may take at the bank.
pub const FLOW_TTL: Duration = Duration::minutes(10);
/// How long a bank's discovery document and keys are reused.
const DISCOVERY_TTL: Duration = Duration::minutes(10);
const SECRET_CONTEXT: &str = "bank_flows.secret";

/// One trusted bank, from the settings.
#[derive(Clone)]
pub struct BankSettings {
    /// A short stable id for URLs and the journal: `sber`, `demo`.
    pub id: String,
    /// What people see: «Демо-банк».
    pub name: String,
    /// The OpenID Connect issuer URL.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Scopes besides `openid`.
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for BankSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankSettings")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// The data a bank vouches for, beyond the standard claims.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BankClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snils: Option<String>,
    /// Passport series and number, in any spacing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passport: Option<String>,
}

impl AdditionalClaims for BankClaims {}

type BankIdTokenFields = IdTokenFields<
    BankClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type BankTokenResponse = StandardTokenResponse<BankIdTokenFields, CoreTokenType>;
type BankClient = Client<
    BankClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    BankTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The trusted banks and how to talk to them. Cheap to clone.
#[derive(Clone)]
pub struct Banks {
    inner: Arc<Inner>,
}

struct Inner {
    banks: Vec<BankSettings>,
    redirect_uri: String,
    http: Http,
    /// Discovery documents (with keys) by bank id, and when they were fetched.
    cache: Mutex<HashMap<String, (DateTime<Utc>, CoreProviderMetadata)>>,
}

impl std::fmt::Debug for Banks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Banks")
            .field("banks", &self.inner.banks)
            .field("redirect_uri", &self.inner.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// A bank as the choice page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BankView {
    pub id: String,
    pub name: String,
}

/// A failed HTTP exchange with a bank (for the library's error types).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The library's HTTP client: our reqwest client (rustls/ring, no redirects, time-outs).
/// Public so other relying parties of ours (and the tests) use the same adapter.
#[derive(Debug, Clone)]
pub struct Http(pub reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| HttpError(e.without_url().to_string()))?;
            let mut out = openidconnect::http::Response::builder().status(response.status());
            if let Some(headers) = out.headers_mut() {
                *headers = response.headers().clone();
            }
            let bytes = response.bytes().await.map_err(|e| HttpError(e.to_string()))?;
            out.body(bytes.to_vec()).map_err(|e| HttpError(e.to_string()))
        })
    }
}

/// What the bank's redirect back to us carried.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// How a confirmation through a bank ended (errors aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BankOutcome {
    /// The data matched: the account is confirmed.
    Confirmed { bank: String },
    /// The data did not match: which data differ (Russian labels, no values).
    Mismatch { bank: String, differences: Vec<&'static str> },
}

/// Who started a flow: a browser (the callback must bring the same session) or an API
/// client (the browser it hands the URL to has no session of ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Starter {
    Web,
    Api,
}

/// Who asks to start a confirmation: the account, its session, and from where.
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    pub account_id: &'a str,
    /// The id (keyed hash) of the session.
    pub session_id: &'a str,
    pub starter: Starter,
}

impl Banks {
    /// The banks of the settings; `redirect_uri` is our callback, registered at each bank.
    pub fn new(banks: Vec<BankSettings>, redirect_uri: String) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .connect_timeout(std::time::Duration::from_secs(5))
            // The library must see a bank's redirects as errors, not follow them (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                banks,
                redirect_uri,
                http: Http(http),
                cache: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The banks people may choose.
    pub fn list(&self) -> Vec<BankView> {
        self.inner
            .banks
            .iter()
            .map(|b| BankView { id: b.id.clone(), name: b.name.clone() })
            .collect()
    }

    /// The origins the bank choice page may submit to (its forms end in a redirect to a
    /// bank's sign-in page, which the page's `form-action` must allow): each issuer's,
    /// and each discovered authorization endpoint's.
    pub async fn form_origins(&self, now: DateTime<Utc>) -> Vec<String> {
        let origin = |url: &str| {
            openidconnect::url::Url::parse(url).ok().map(|u| u.origin().ascii_serialization())
        };
        let mut origins = Vec::new();
        for bank in &self.inner.banks {
            origins.extend(origin(&bank.issuer));
            if let Ok(meta) = self.metadata(bank, now).await {
                origins.extend(origin(meta.authorization_endpoint().as_str()));
            }
        }
        origins.sort();
        origins.dedup();
        origins.retain(|o| o != "null");
        origins
    }

    fn bank(&self, id: &str) -> Result<&BankSettings, IdentityError> {
        self.inner.banks.iter().find(|b| b.id == id).ok_or(IdentityError::BankUnknown)
    }

    /// The bank's discovery document and keys, fetched at most every [`DISCOVERY_TTL`].
    async fn metadata(
        &self,
        bank: &BankSettings,
        now: DateTime<Utc>,
    ) -> Result<CoreProviderMetadata, IdentityError> {
        if let Some((at, meta)) = self.cached(&bank.id)
            && now - at < DISCOVERY_TTL
            && at <= now
        {
            return Ok(meta);
        }
        let issuer = IssuerUrl::new(bank.issuer.clone())
            .map_err(|e| IdentityError::Internal(format!("bank {} issuer URL: {e}", bank.id)))?;
        let meta =
            CoreProviderMetadata::discover_async(issuer, &self.inner.http).await.map_err(|e| {
                tracing::warn!(bank = %bank.id, error = %error_chain(&e), "bank discovery failed");
                unavailable(bank)
            })?;
        if let Ok(mut cache) = self.inner.cache.lock() {
            cache.insert(bank.id.clone(), (now, meta.clone()));
        }
        Ok(meta)
    }

    fn cached(&self, id: &str) -> Option<(DateTime<Utc>, CoreProviderMetadata)> {
        self.inner.cache.lock().ok().and_then(|c| c.get(id).cloned())
    }

    /// Forgets a bank's keys (after a signature failed: the bank may have new keys).
    fn forget(&self, id: &str) {
        if let Ok(mut cache) = self.inner.cache.lock() {
            cache.remove(id);
        }
    }

    fn client(
        &self,
        bank: &BankSettings,
        meta: CoreProviderMetadata,
    ) -> Result<BankClient, IdentityError> {
        let redirect = RedirectUrl::new(self.inner.redirect_uri.clone())
            .map_err(|e| IdentityError::Internal(format!("redirect URI: {e}")))?;
        Ok(BankClient::from_provider_metadata(
            meta,
            ClientId::new(bank.client_id.clone()),
            Some(ClientSecret::new(bank.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }
}

fn unavailable(bank: &BankSettings) -> IdentityError {
    IdentityError::BankUnavailable { bank: bank.name.clone() }
}

/// An error with its sources, for the log (bank answers hold no personal data).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A name as compared: no case, «ё» as «е», single spaces, no surrounding space.
fn norm(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase().replace('ё', "е")
}

/// What the bank says about the person.
#[derive(Debug, Default, Clone)]
struct BankPerson {
    family_name: Option<String>,
    given_name: Option<String>,
    middle_name: Option<String>,
    birthdate: Option<String>,
    snils: Option<String>,
    passport: Option<String>,
}

/// A [`BankPerson`] from anything with the standard claim getters (ID token claims,
/// userinfo claims) and the bank's own claims.
macro_rules! bank_person {
    ($claims:expr, $extra:expr) => {{
        let claims = $claims;
        let extra: &BankClaims = $extra;
        BankPerson {
            family_name: claims.family_name().and_then(|c| c.get(None)).map(|v| v.to_string()),
            given_name: claims.given_name().and_then(|c| c.get(None)).map(|v| v.to_string()),
            middle_name: claims.middle_name().and_then(|c| c.get(None)).map(|v| v.to_string()),
            birthdate: claims.birthdate().map(|b| b.to_string()),
            snils: extra.snils.clone(),
            passport: extra.passport.clone(),
        }
    }};
}

impl BankPerson {
    fn complete(&self) -> bool {
        self.family_name.is_some()
            && self.given_name.is_some()
            && self.birthdate.is_some()
            && (self.snils.is_some() || self.passport.is_some())
    }

    /// Fills what is missing from `other` (the userinfo answer).
    fn fill_from(&mut self, other: Self) {
        self.family_name = self.family_name.take().or(other.family_name);
        self.given_name = self.given_name.take().or(other.given_name);
        self.middle_name = self.middle_name.take().or(other.middle_name);
        self.birthdate = self.birthdate.take().or(other.birthdate);
        self.snils = self.snils.take().or(other.snils);
        self.passport = self.passport.take().or(other.passport);
    }
}

/// The data that differ between the bank's answer and the verified documents, as
/// (journal code, Russian label). Empty means a match: names and birth date equal, and
/// SNILS or passport equal.
fn differences(bank: &BankPerson, verified: &PersonalData) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    let same_name = |theirs: Option<&str>, ours: Option<&str>| {
        norm(theirs.unwrap_or_default()) == norm(ours.unwrap_or_default())
    };
    if !same_name(bank.family_name.as_deref(), Some(&verified.surname)) {
        out.push(("surname", "фамилия"));
    }
    if !same_name(bank.given_name.as_deref(), Some(&verified.given_name)) {
        out.push(("given_name", "имя"));
    }
    if !same_name(bank.middle_name.as_deref(), verified.patronymic.as_deref()) {
        out.push(("patronymic", "отчество"));
    }
    let birth =
        bank.birthdate.as_deref().and_then(|b| NaiveDate::parse_from_str(b, "%Y-%m-%d").ok());
    if birth != Some(verified.birth_date) {
        out.push(("birth_date", "дата рождения"));
    }
    let snils = bank.snils.as_deref().map(|s| Snils::parse(s).ok() == Some(verified.snils.clone()));
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let passport = bank.passport.as_deref().map(|p| {
        digits(p) == format!("{}{}", verified.passport.series(), verified.passport.number())
    });
    match (snils, passport) {
        (Some(true), _) | (_, Some(true)) => {}
        (None, None) => out.push(("documents", "СНИЛС и паспорт (банк их не передал)")),
        (snils, passport) => {
            if snils == Some(false) {
                out.push(("snils", "СНИЛС"));
            }
            if passport == Some(false) {
                out.push(("passport", "серия и номер паспорта"));
            }
        }
    }
    out
}

/// The bank's `error` parameter as a journal code (bank text never goes to the journal).
fn error_code(error: &str) -> &'static str {
    match error {
        "access_denied" => "access_denied",
        "login_required" | "interaction_required" | "consent_required" => "login_required",
        "temporarily_unavailable" => "temporarily_unavailable",
        "server_error" => "server_error",
        _ => "other",
    }
}

impl Identity {
    /// Starts a confirmation through `bank_id`: the account must be standard; returns the
    /// bank's authorization URL for the browser.
    pub async fn start_bank_confirmation(
        &self,
        banks: &Banks,
        by: Requester<'_>,
        bank_id: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<String, IdentityError> {
        let Requester { account_id, session_id, starter } = by;
        let bank = banks.bank(bank_id)?;
        self.may_confirm(account_id).await?;
        let client = banks.client(bank, banks.metadata(bank, now).await?)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in bank.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let row = BankFlowRow {
            id: self.vault.secret_hash("bank_state", state.secret()),
            account_id: account_id.to_owned(),
            session_id: session_id.to_owned(),
            kind: match starter {
                Starter::Web => "web",
                Starter::Api => "api",
            }
            .to_owned(),
            bank_id: bank.id.clone(),
            nonce: self.vault.encrypt(nonce.secret(), SECRET_CONTEXT),
            pkce_verifier: self.vault.encrypt(verifier.secret(), SECRET_CONTEXT),
            created_at: to_micros(now),
            expires_at: to_micros(now + FLOW_TTL),
            used_at: None,
        };
        let mut tx = self.db.begin().await?;
        rows::insert(&mut tx, &row).await?;
        self.journal(
            &mut tx,
            "bank.started",
            Outcome::Ok,
            Some(account_id),
            origin,
            serde_json::json!({ "bank": bank.id }),
            now,
        )
        .await?;
        commit(tx).await?;
        Ok(url.to_string())
    }

    /// Finishes a confirmation when the bank sends the browser back: checks `state`
    /// (known, unused, unexpired, same session for a browser flow), exchanges the code,
    /// validates the ID token, compares the bank's data with the verified documents, and
    /// either confirms the account or records the refusal.
    pub async fn finish_bank_confirmation(
        &self,
        banks: &Banks,
        session_id: Option<&str>,
        callback: &Callback,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<BankOutcome, IdentityError> {
        let state = callback
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or(IdentityError::BankFlowGone)?;
        let id = self.vault.secret_hash("bank_state", state);
        let flow = rows::take(&mut *self.db.conn().await?, &id, to_micros(now))
            .await?
            .ok_or(IdentityError::BankFlowGone)?;
        if flow.kind == "web" && session_id != Some(flow.session_id.as_str()) {
            return Err(IdentityError::BankFlowGone);
        }
        let account_id = flow.account_id.as_str();
        let bank = banks.bank(&flow.bank_id)?;
        if let Some(error) = callback.error.as_deref() {
            let code = error_code(error);
            self.bank_failed(account_id, &bank.id, code, origin, now).await?;
            return Err(if code == "access_denied" {
                IdentityError::BankDenied { bank: bank.name.clone() }
            } else {
                IdentityError::BankFailed { bank: bank.name.clone() }
            });
        }
        let Some(code) = callback.code.as_deref().filter(|c| !c.is_empty()) else {
            self.bank_failed(account_id, &bank.id, "no_code", origin, now).await?;
            return Err(IdentityError::BankFailed { bank: bank.name.clone() });
        };
        let nonce = Nonce::new(self.vault.decrypt(&flow.nonce, SECRET_CONTEXT)?);
        let verifier =
            PkceCodeVerifier::new(self.vault.decrypt(&flow.pkce_verifier, SECRET_CONTEXT)?);
        let person = match self.bank_person(banks, bank, code, verifier, &nonce, now).await {
            Ok(p) => p,
            Err(e) => {
                let reason = match &e {
                    IdentityError::BankUnavailable { .. } => "unavailable",
                    _ => "invalid_answer",
                };
                self.bank_failed(account_id, &bank.id, reason, origin, now).await?;
                return Err(e);
            }
        };
        let verified = self.documents(account_id).await?.verified;
        // May the account still be confirmed (not raised meanwhile by another route)?
        self.may_confirm(account_id).await?;
        let Some(verified) = verified else { return Err(IdentityError::NotStandard) };
        let differ = differences(&person, &verified);
        let mut tx = self.db.begin().await?;
        let outcome = if differ.is_empty() {
            self.confirm_account(
                &mut tx,
                account_id,
                crate::confirm::ConfirmRoute::Bank,
                crate::confirm::Confirmer::Citizen,
                origin,
                serde_json::json!({ "bank": bank.id }),
                now,
            )
            .await?;
            BankOutcome::Confirmed { bank: bank.name.clone() }
        } else {
            let fields: Vec<&str> = differ.iter().map(|(code, _)| *code).collect();
            self.journal(
                &mut tx,
                "bank.refused",
                Outcome::Denied,
                Some(account_id),
                origin,
                serde_json::json!({ "bank": bank.id, "fields": fields }),
                now,
            )
            .await?;
            BankOutcome::Mismatch {
                bank: bank.name.clone(),
                differences: differ.iter().map(|(_, label)| *label).collect(),
            }
        };
        commit(tx).await?;
        Ok(outcome)
    }

    /// Records that a confirmation through a bank did not complete, and why (a code).
    async fn bank_failed(
        &self,
        account_id: &str,
        bank_id: &str,
        reason: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let details = serde_json::json!({ "bank": bank_id, "reason": reason });
        self.journal_alone("bank.failed", Outcome::Error, Some(account_id), origin, details, now)
            .await
    }

    /// Exchanges the code and reads the verified claims (ID token, then userinfo for
    /// what the token lacks).
    async fn bank_person(
        &self,
        banks: &Banks,
        bank: &BankSettings,
        code: &str,
        verifier: PkceCodeVerifier,
        nonce: &Nonce,
        now: DateTime<Utc>,
    ) -> Result<BankPerson, IdentityError> {
        let client = banks.client(bank, banks.metadata(bank, now).await?)?;
        let http = &banks.inner.http;
        let invalid = |what: &str, e: &dyn std::error::Error| {
            tracing::warn!(bank = %bank.id, error = %error_chain(e), "bank answer refused: {what}");
            IdentityError::BankFailed { bank: bank.name.clone() }
        };
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| invalid("no token endpoint", &e))?
            .set_pkce_verifier(verifier)
            .request_async(http)
            .await
            .map_err(|e| match e {
                RequestTokenError::Request(inner) => {
                    tracing::warn!(bank = %bank.id, error = %inner, "bank token endpoint unreachable");
                    unavailable(bank)
                }
                other => invalid("token exchange", &other),
            })?;
        let Some(id_token) = token.id_token() else {
            tracing::warn!(bank = %bank.id, "bank answer refused: no ID token");
            return Err(IdentityError::BankFailed { bank: bank.name.clone() });
        };
        let (mut person, subject) = {
            let checker = client.id_token_verifier().set_time_fn(move || now);
            let claims = match id_token.claims(&checker, nonce) {
                Ok(c) => c,
                Err(e) => {
                    // The bank may have rotated its keys: fetch them again next time.
                    banks.forget(&bank.id);
                    return Err(invalid("ID token", &e));
                }
            };
            if let Some(expected) = claims.access_token_hash() {
                let alg = id_token.signing_alg().map_err(|e| invalid("ID token alg", &e))?;
                let key =
                    id_token.signing_key(&checker).map_err(|e| invalid("ID token key", &e))?;
                let actual = AccessTokenHash::from_token(token.access_token(), alg, key)
                    .map_err(|e| invalid("at_hash", &e))?;
                if actual != *expected {
                    tracing::warn!(bank = %bank.id, "bank answer refused: at_hash differs");
                    return Err(IdentityError::BankFailed { bank: bank.name.clone() });
                }
            }
            (bank_person!(claims, claims.additional_claims()), claims.subject().clone())
        };
        if !person.complete() {
            let request = client
                .user_info(token.access_token().clone(), Some(subject))
                .map_err(|e| invalid("no userinfo endpoint", &e))?;
            let info: UserInfoClaims<BankClaims, CoreGenderClaim> =
                request.request_async(http).await.map_err(|e| invalid("userinfo", &e))?;
            person.fill_from(bank_person!(info.standard_claims(), info.additional_claims()));
        }
        Ok(person)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::documents::DocumentsForm;

    fn maria() -> PersonalData {
        DocumentsForm {
            surname: "Демидова".into(),
            given_name: "Мария".into(),
            patronymic: "Ивановна".into(),
            birth_date: "12.04.1988".into(),
            birth_place: "г. Москва".into(),
            passport_series: "4510".into(),
            passport_number: "654321".into(),
            passport_issued_on: "25.04.2008".into(),
            passport_issued_by: "ОВД".into(),
            passport_division: "770-005".into(),
            snils: "12345678964".into(),
            inn: String::new(),
            address: "г. Москва".into(),
        }
        .parse(NaiveDate::from_ymd_opt(2026, 11, 22).unwrap())
        .unwrap()
    }

    fn bank() -> BankPerson {
        BankPerson {
            family_name: Some("ДЕМИДОВА".into()),
            given_name: Some(" мария ".into()),
            middle_name: Some("Ивановна".into()),
            birthdate: Some("1988-04-12".into()),
            snils: Some("123-456-789 64".into()),
            passport: None,
        }
    }

    #[test]
    fn names_compare_without_case_or_yo() {
        assert_eq!(norm("  Пётр  Сергеевич "), "петр сергеевич");
        assert!(differences(&bank(), &maria()).is_empty());
    }

    #[test]
    fn snils_or_passport_must_match_and_every_difference_is_named() {
        let mut b = bank();
        b.snils = Some("987-654-321 83".into());
        assert_eq!(differences(&b, &maria()), [("snils", "СНИЛС")]);
        b.passport = Some("4510 654321".into());
        assert!(differences(&b, &maria()).is_empty(), "the passport matches");
        b.passport = Some("4510654322".into());
        b.birthdate = Some("1988-04-13".into());
        b.middle_name = None;
        let codes: Vec<_> = differences(&b, &maria()).iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, ["patronymic", "birth_date", "snils", "passport"]);
        b.snils = None;
        b.passport = None;
        assert_eq!(differences(&b, &maria()).last().unwrap().0, "documents");
    }
}
