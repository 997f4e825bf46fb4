//! Who is asking: the session cookie (or an API bearer token), the signed-in viewer, and
//! where the request came from (IP, browser) for the journal.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use identity::SessionInfo;
use journal::Origin;

use crate::{AppError, AppState};

/// The cookie's name; under TLS the `__Host-` prefix pins it to our origin.
fn cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-uslugi_session" } else { "uslugi_session" }
}

/// The session token a request carries: `Authorization: Bearer …` (API clients) or the
/// session cookie (browsers).
fn token(parts: &Parts, secure: bool) -> Option<String> {
    if let Some(bearer) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_owned());
    }
    cookie_value(&parts.headers, cookie_name(secure))
}

/// `Set-Cookie` for a new session: HttpOnly, SameSite=Lax, Secure under TLS.
pub fn session_cookie(state: &AppState, token: &str, max_age_secs: i64) -> HeaderValue {
    cookie(state, cookie_name(state.secure_cookies), token, max_age_secs)
}

fn cookie(state: &AppState, name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let value =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
}

fn device_cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-uslugi_device" } else { "uslugi_device" }
}

/// `Set-Cookie` for a remembered device («запомнить это устройство»).
pub fn device_cookie(state: &AppState, token: &str, max_age_secs: i64) -> HeaderValue {
    cookie(state, device_cookie_name(state.secure_cookies), token, max_age_secs)
}

/// The remembered-device token the browser sends, if any.
pub fn device_token(headers: &axum::http::HeaderMap, secure: bool) -> Option<String> {
    cookie_value(headers, device_cookie_name(secure))
}

fn cookie_value(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(state: &AppState) -> HeaderValue {
    session_cookie(state, "", 0)
}

/// The page chrome: which menu item is current and whether someone is signed in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Chrome {
    pub nav: &'static str,
    pub signed_in: bool,
}

/// The session of the request, if any (pages render for everyone).
#[derive(Debug, Clone)]
pub struct Viewer(pub Option<SessionInfo>);

impl Viewer {
    pub fn chrome(&self, nav: &'static str) -> Chrome {
        Chrome { nav, signed_in: self.0.is_some() }
    }
}

async fn session_of(parts: &Parts, state: &AppState) -> Result<Option<SessionInfo>, AppError> {
    let Some(token) = token(parts, state.secure_cookies) else {
        return Ok(None);
    };
    state.identity.session(&token, state.clock.now()).await.map_err(AppError::from)
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        Ok(Self(session_of(parts, state).await?))
    }
}

/// A signed-in person; pages without one redirect to the sign-in page.
#[derive(Debug, Clone)]
pub struct SignedIn(pub SessionInfo);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match session_of(parts, state).await {
            // A session opened with a temporary password may only change it.
            Ok(Some(s)) if s.must_change && !may_pass_unchanged(parts) => {
                if is_api(parts) {
                    Err(AppError::PasswordChangeRequired.into_response())
                } else {
                    Err(Redirect::to("/cabinet/password").into_response())
                }
            }
            Ok(Some(s)) => Ok(Self(s)),
            Ok(None) if is_api(parts) => Err(AppError::Unauthorized.into_response()),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// Whether the request is for the JSON API (nested routers see a stripped path).
fn is_api(parts: &Parts) -> bool {
    full_path(parts).starts_with("/api/")
}

fn full_path(parts: &Parts) -> &str {
    parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(parts.uri.path(), |original| original.path())
}

/// What a session with a temporary password may still reach: the password change and
/// signing out.
fn may_pass_unchanged(parts: &Parts) -> bool {
    matches!(
        full_path(parts),
        "/cabinet/password" | "/logout" | "/api/v1/me/password" | "/api/v1/session"
    )
}

/// Where the request came from: the peer address and the browser's User-Agent.
#[derive(Debug, Clone)]
pub struct ClientOrigin(pub Origin);

impl FromRequestParts<AppState> for ClientOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        // Behind our reverse proxy every peer is the proxy; the client is the address the
        // proxy appended last to X-Forwarded-For (earlier entries come from the client
        // and can be forged). Without the setting the header is ignored.
        let forwarded = state.trust_proxy.then(|| client_behind_proxy(&parts.headers)).flatten();
        let ip = forwarded.or(peer).map(|ip| ip.to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(300).collect());
        Ok(Self(Origin { ip, user_agent }))
    }
}

/// The last address in `X-Forwarded-For`, if it parses. The header is read as bytes: a
/// client may put anything (even non-ASCII) into the entries before the proxy's, and that
/// must not make the proxy's own entry unreadable.
fn client_behind_proxy(headers: &axum::http::HeaderMap) -> Option<std::net::IpAddr> {
    let last = headers.get_all("x-forwarded-for").iter().next_back()?;
    let entry = last.as_bytes().rsplit(|b| *b == b',').next()?;
    std::str::from_utf8(entry).ok()?.trim().parse().ok()
}

fn return_cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-uslugi_return" } else { "uslugi_return" }
}

/// Where to go back after signing in: a relying party's authorization request waiting
/// for the person (only our own `/oidc/authorize?…` is ever accepted).
pub fn return_to(headers: &axum::http::HeaderMap, secure: bool) -> Option<String> {
    cookie_value(headers, return_cookie_name(secure))
        .filter(|v| v.starts_with("/oidc/authorize?") && !v.contains(['\r', '\n', ';']))
}

/// `Set-Cookie` remembering where to go back after signing in (10 minutes).
pub fn return_cookie(state: &AppState, path: &str) -> HeaderValue {
    cookie(state, return_cookie_name(state.secure_cookies), path, 600)
}

/// `Set-Cookie` forgetting it.
pub fn clear_return_cookie(state: &AppState) -> HeaderValue {
    cookie(state, return_cookie_name(state.secure_cookies), "", 0)
}
