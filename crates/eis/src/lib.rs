//! «ЕИС» — the procurement registry app (Единая информационная система в сфере закупок):
//! a separate web application, on its own origin, and the portal's first relying party.
//!
//! It signs people in only through the portal's OpenID Connect provider, over HTTP, with
//! the `openidconnect` crate as a confidential client (`client_secret_basic`): discovery
//! (cached after the first success), the authorization code flow with PKCE S256, `state`
//! and `nonce`, the ID token checked by the library (signature against the provider's
//! JWKS, `iss`, `aud`, `nonce`, `exp` — with time from the injected clock), then the
//! consented attributes from userinfo. It keeps its own session.
//!
//! Sessions live in memory (a `Mutex<HashMap>` keyed by a random cookie, `eis_session`):
//! a restart signs everyone out, and one process only — enough for a demo app. Pending
//! sign-ins expire after ten minutes, sessions after eight hours.
//!
//! Registering an organization needs a standard account: a simplified one is offered a
//! new sign-in with `acr_values=urn:uslugi:loa:standard` (the provider's step-up page).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use domain::Clock;
use identity::bank::Http;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret,
    CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce,
    OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse as _, UserInfoClaims,
};
use serde::{Deserialize, Serialize};

/// The session cookie's name (distinct from the portal's: cookies ignore ports).
pub const COOKIE: &str = "eis_session";
/// The scopes the app asks for by default.
pub const SCOPES: [&str; 6] = ["openid", "fullname", "snils", "inn", "mobile", "email"];
/// The app's callback path.
pub const CALLBACK_PATH: &str = "/callback";

const PENDING_TTL: Duration = Duration::minutes(10);
const SESSION_TTL: Duration = Duration::hours(8);
/// Account levels as `acr` values, lowest first.
const LEVELS: [(&str, &str); 3] = [
    ("urn:uslugi:loa:simplified", "упрощённая"),
    ("urn:uslugi:loa:standard", "стандартная"),
    ("urn:uslugi:loa:confirmed", "подтверждённая"),
];
const STANDARD: &str = "urn:uslugi:loa:standard";

/// How the app runs and which client it is at the provider.
#[derive(Clone)]
pub struct Config {
    /// The app's own public URL, e.g. `http://127.0.0.1:8081` (no trailing slash).
    pub public_url: String,
    /// The provider's issuer, e.g. `http://127.0.0.1:8080`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// The scopes to ask for (only those the client is registered for).
    pub scopes: Vec<String>,
    pub clock: Arc<dyn Clock>,
}

impl Config {
    /// The dev defaults: client `eis` with [`SCOPES`].
    pub fn new(
        public_url: &str,
        issuer: &str,
        client_secret: String,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id: "eis".into(),
            client_secret,
            scopes: SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            clock,
        }
    }

    pub fn redirect_uri(&self) -> String {
        format!("{}{CALLBACK_PATH}", self.public_url)
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("public_url", &self.public_url)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// The claims beyond the standard ones that the provider's userinfo returns.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PortalClaims {
    snils: Option<String>,
    inn: Option<String>,
}
impl AdditionalClaims for PortalClaims {}

/// A sign-in under way: what must come back, and what proves it is ours.
#[derive(Debug, Clone)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
    /// Where to go after signing in.
    return_to: &'static str,
    started: DateTime<Utc>,
}

/// The signed-in person, as the provider told us.
#[derive(Debug, Clone)]
pub struct User {
    pub sub: String,
    pub acr: String,
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    pub middle_name: Option<String>,
    pub snils: Option<String>,
    pub inn: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl User {
    /// «Мария Ивановна»: the given name and patronymic.
    pub fn greeting(&self) -> String {
        [self.given_name.as_deref(), self.middle_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn full_name(&self) -> String {
        [self.family_name.as_deref(), self.given_name.as_deref(), self.middle_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn rank(&self) -> usize {
        LEVELS.iter().position(|(acr, _)| *acr == self.acr).unwrap_or(0)
    }

    pub fn level_label(&self) -> &'static str {
        LEVELS[self.rank()].1
    }

    /// Whether the account is at least standard.
    pub fn standard(&self) -> bool {
        self.rank() >= 1
    }

    /// What the provider gave, for the home page.
    pub fn attributes(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("Фамилия, имя, отчество", self.full_name())];
        for (label, value) in [
            ("СНИЛС", &self.snils),
            ("ИНН", &self.inn),
            ("Мобильный телефон", &self.phone),
            ("Электронная почта", &self.email),
        ] {
            if let Some(v) = value {
                out.push((label, v.clone()));
            }
        }
        out
    }
}

#[derive(Debug, Default)]
struct Session {
    created: Option<DateTime<Utc>>,
    pending: Option<Pending>,
    user: Option<User>,
}

struct Inner {
    config: Config,
    http: Http,
    metadata: tokio::sync::Mutex<Option<CoreProviderMetadata>>,
    sessions: Mutex<HashMap<String, Session>>,
}

#[derive(Clone)]
struct App(Arc<Inner>);

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why a sign-in did not succeed, shown in Russian.
#[derive(Debug)]
enum Failure {
    Unreachable,
    Denied,
    State,
    Provider(String),
    Token,
}

impl Failure {
    fn status(&self) -> StatusCode {
        match self {
            Failure::Unreachable => StatusCode::BAD_GATEWAY,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::Unreachable => "Портал Госуслуг сейчас недоступен, поэтому войти не удалось. \
                                     Попробуйте ещё раз через несколько минут."
                .into(),
            Failure::Denied => "Вы отказались передать данные из Госуслуг, поэтому вход не \
                                выполнен. Чтобы войти, начните снова и нажмите «Разрешить»."
                .into(),
            Failure::State => "Ответ портала не относится к этому входу (вход начат в другой \
                               вкладке или устарел). Начните вход заново."
                .into(),
            Failure::Provider(code) => {
                format!(
                    "Портал Госуслуг не выполнил вход (код ответа «{code}»). Начните вход заново."
                )
            }
            Failure::Token => {
                "Не удалось проверить ответ портала Госуслуг. Начните вход заново.".into()
            }
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    user: Option<User>,
}

#[derive(Template, WebTemplate)]
#[template(path = "message.html")]
struct MessagePage {
    title: &'static str,
    message: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "organization.html")]
struct OrganizationPage {
    user: User,
    enough: bool,
}

fn failure_page(failure: &Failure) -> Response {
    let page = MessagePage { title: "Вход не выполнен", message: failure.message() };
    (failure.status(), page).into_response()
}

/// The app's routes.
pub fn router(config: Config) -> Router {
    // One process-wide TLS provider (ring) for the HTTP client; a second call is a no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let app = App(Arc::new(Inner {
        config,
        http: Http(client),
        metadata: tokio::sync::Mutex::new(None),
        sessions: Mutex::new(HashMap::new()),
    }));
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route(CALLBACK_PATH, get(callback))
        .route("/organizations/new", get(new_organization))
        .route("/logout", post(logout))
        .with_state(app)
}

/// Serves the app on `listener` until `shutdown` completes.
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(config)).with_graceful_shutdown(shutdown).await
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

fn set_cookie(value: &str, max_age: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("eis_session=; Path=/; Max-Age=0"))
}

impl App {
    fn config(&self) -> &Config {
        &self.0.config
    }

    fn now(&self) -> DateTime<Utc> {
        self.0.config.clock.now()
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.0.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn user(&self, headers: &HeaderMap) -> Option<User> {
        let id = cookie_value(headers)?;
        let now = self.now();
        let sessions = self.sessions();
        let s = sessions.get(&id)?;
        s.created.filter(|c| now - *c < SESSION_TTL)?;
        s.user.clone()
    }

    /// Provider metadata: discovered once, then cached; failures are not cached.
    async fn client(&self) -> Result<Client, Failure> {
        let mut cached = self.0.metadata.lock().await;
        let metadata = match &*cached {
            Some(m) => m.clone(),
            None => {
                let issuer = IssuerUrl::new(self.config().issuer.clone())
                    .map_err(|_| Failure::Unreachable)?;
                let m = CoreProviderMetadata::discover_async(issuer, &self.0.http).await.map_err(
                    |e| {
                        tracing::warn!(error = %e, "provider discovery failed");
                        Failure::Unreachable
                    },
                )?;
                *cached = Some(m.clone());
                m
            }
        };
        let redirect =
            RedirectUrl::new(self.config().redirect_uri()).map_err(|_| Failure::Unreachable)?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config().client_id.clone()),
            Some(ClientSecret::new(self.config().client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }
}

async fn home(State(app): State<App>, headers: HeaderMap) -> Response {
    HomePage { user: app.user(&headers) }.into_response()
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    level: Option<String>,
}

/// `GET /login[?level=standard]`: to the provider, with PKCE, state and nonce kept here.
async fn login(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let client = match app.client().await {
        Ok(c) => c,
        Err(f) => return failure_page(&f),
    };
    let step_up = q.level.as_deref() == Some("standard");
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in app.config().scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    if step_up {
        request = request.add_auth_context_value(AuthenticationContextClass::new(STANDARD.into()));
    }
    let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
    let now = app.now();
    let pending = Pending {
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        return_to: if step_up { "/organizations/new" } else { "/" },
        started: now,
    };
    let id = {
        let mut sessions = app.sessions();
        // Forget what has expired, so the map does not grow without end: a session with
        // nobody signed in lives only as long as its pending sign-in.
        sessions.retain(|_, s| {
            let ttl = if s.user.is_some() { SESSION_TTL } else { PENDING_TTL };
            s.created.is_some_and(|c| now - c < ttl)
        });
        let existing = cookie_value(&headers).filter(|id| sessions.contains_key(id));
        let id = existing.unwrap_or_else(random_token);
        let session = sessions.entry(id.clone()).or_default();
        if session.user.is_none() {
            session.created = Some(now);
        }
        session.pending = Some(pending);
        id
    };
    let mut response = Redirect::to(url.as_str()).into_response();
    response.headers_mut().insert(header::SET_COOKIE, set_cookie(&id, SESSION_TTL.num_seconds()));
    response
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

/// `GET /callback`: the provider's answer.
async fn callback(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let now = app.now();
    let id = cookie_value(&headers);
    // The pending sign-in is taken out: an answer is used once, whatever it says.
    let pending = id.as_ref().and_then(|id| app.sessions().get_mut(id)?.pending.take());
    let Some(pending) = pending.filter(|p| now - p.started < PENDING_TTL) else {
        return failure_page(&Failure::State);
    };
    if q.state.as_deref() != Some(pending.state.as_str()) {
        return failure_page(&Failure::State);
    }
    if q.iss.as_deref().is_some_and(|iss| iss.trim_end_matches('/') != app.config().issuer) {
        return failure_page(&Failure::State);
    }
    if let Some(error) = q.error {
        return failure_page(&if error == "access_denied" {
            Failure::Denied
        } else {
            Failure::Provider(error.chars().take(40).collect())
        });
    }
    let Some(code) = q.code else { return failure_page(&Failure::Token) };
    match finish(&app, code, &pending).await {
        Ok(user) => {
            // A fresh session id once signed in (no fixation of the pre-login cookie).
            let fresh = random_token();
            {
                let mut sessions = app.sessions();
                if let Some(old) = &id {
                    sessions.remove(old);
                }
                sessions.insert(
                    fresh.clone(),
                    Session { created: Some(now), pending: None, user: Some(user) },
                );
            }
            let mut response = Redirect::to(pending.return_to).into_response();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, set_cookie(&fresh, SESSION_TTL.num_seconds()));
            response
        }
        Err(f) => failure_page(&f),
    }
}

/// The code exchange, the ID token's checks and userinfo.
async fn finish(app: &App, code: String, pending: &Pending) -> Result<User, Failure> {
    let client = app.client().await?;
    let http = &app.0.http;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|_| Failure::Token)?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
        .request_async(http)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "code exchange failed");
            match e {
                openidconnect::RequestTokenError::Request(_) => Failure::Unreachable,
                _ => Failure::Token,
            }
        })?;
    let clock = app.config().clock.clone();
    let verifier = client.id_token_verifier().set_time_fn(move || clock.now());
    let id_token = tokens.id_token().ok_or(Failure::Token)?;
    let claims = id_token.claims(&verifier, &Nonce::new(pending.nonce.clone())).map_err(|e| {
        tracing::warn!(error = %e, "ID token refused");
        Failure::Token
    })?;
    let sub = claims.subject().clone();
    let acr = claims.auth_context_ref().map(|a| a.as_str().to_owned()).unwrap_or_default();
    let info: UserInfoClaims<PortalClaims, CoreGenderClaim> = client
        .user_info(tokens.access_token().clone(), Some(sub.clone()))
        .map_err(|_| Failure::Token)?
        .request_async(http)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "userinfo failed");
            Failure::Token
        })?;
    Ok(User {
        sub: sub.as_str().to_owned(),
        acr,
        family_name: info.family_name().and_then(|c| c.get(None)).map(|v| v.as_str().to_owned()),
        given_name: info.given_name().and_then(|c| c.get(None)).map(|v| v.as_str().to_owned()),
        middle_name: info.middle_name().and_then(|c| c.get(None)).map(|v| v.as_str().to_owned()),
        snils: info.additional_claims().snils.clone(),
        inn: info.additional_claims().inn.clone(),
        phone: info.phone_number().map(|p| p.as_str().to_owned()),
        email: info.email().map(|e| e.as_str().to_owned()),
    })
}

/// `GET /organizations/new`: needs a standard account.
async fn new_organization(State(app): State<App>, headers: HeaderMap) -> Response {
    let Some(user) = app.user(&headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            MessagePage {
                title: "Нужно войти",
                message: "Чтобы зарегистрировать организацию, войдите через Госуслуги.".into(),
            },
        )
            .into_response();
    };
    let enough = user.standard();
    OrganizationPage { user, enough }.into_response()
}

/// `POST /logout`: ends this app's session (not the portal's).
async fn logout(State(app): State<App>, headers: HeaderMap) -> Response {
    // A form of another site may not sign the person out.
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v != "same-origin" && v != "none")
    {
        return StatusCode::FORBIDDEN.into_response();
    }
    if let Some(id) = cookie_value(&headers) {
        app.sessions().remove(&id);
    }
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().insert(header::SET_COOKIE, set_cookie("", 0));
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn user(acr: &str, middle: Option<&str>) -> User {
        User {
            sub: "s".into(),
            acr: acr.into(),
            family_name: Some("Демидова".into()),
            given_name: Some("Мария".into()),
            middle_name: middle.map(str::to_owned),
            snils: None,
            inn: None,
            phone: Some("+79160000000".into()),
            email: None,
        }
    }

    #[test]
    fn greeting_level_and_attributes() {
        let u = user("urn:uslugi:loa:simplified", Some("Ивановна"));
        assert_eq!(u.greeting(), "Мария Ивановна");
        assert_eq!(u.full_name(), "Демидова Мария Ивановна");
        assert!(!u.standard());
        assert_eq!(u.level_label(), "упрощённая");
        assert_eq!(
            u.attributes(),
            vec![
                ("Фамилия, имя, отчество", "Демидова Мария Ивановна".to_owned()),
                ("Мобильный телефон", "+79160000000".to_owned()),
            ]
        );
        assert_eq!(user("urn:uslugi:loa:standard", None).greeting(), "Мария");
        assert!(user("urn:uslugi:loa:standard", None).standard());
        assert!(user("urn:uslugi:loa:confirmed", None).standard());
        assert!(!user("", None).standard(), "no acr: the lowest level");
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("uslugi_session=a; eis_session=b"));
        assert_eq!(cookie_value(&h).as_deref(), Some("b"));
        assert_eq!(
            set_cookie("x", 60).to_str().unwrap(),
            "eis_session=x; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
        );
    }
}
