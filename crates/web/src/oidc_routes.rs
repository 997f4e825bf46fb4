//! The OpenID Connect provider's HTTP endpoints: discovery, JWKS, the authorization
//! endpoint with sign-in, level check (step-up) and consent, the token endpoint
//! (authorization code and refresh grants), userinfo, revocation, introspection, PAR and
//! RP-initiated logout.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use oidc::flow::{AuthRequest, AuthorizeError, AuthorizeParams};
use serde_json::{Value, json};

use crate::AppState;
use crate::account::{Values, see_other, value};
use crate::error::AppError;
use crate::session::{Chrome, ClientOrigin, Viewer, return_cookie};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oidc/jwks", get(jwks))
        .route("/oidc/authorize", get(authorize))
        .route("/oidc/authorize/consent", post(consent))
        .route("/oidc/token", post(token))
        .route("/oidc/revoke", post(revoke))
        .route("/oidc/par", post(par))
        .route("/oidc/logout", get(logout_page).post(logout_submit))
        .route("/oidc/introspect", post(introspect))
        .route("/oidc/userinfo", get(userinfo).post(userinfo))
}

fn internal(e: oidc::OidcError) -> AppError {
    AppError::Internal(e.to_string())
}

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0).
async fn discovery(State(state): State<AppState>) -> Json<Value> {
    let issuer = state.oidc.settings().issuer.clone();
    let scopes: Vec<&str> = oidc::clients::SCOPES.iter().map(|(k, _)| *k).collect();
    let acr: Vec<String> = oidc::flow::LEVELS.iter().map(|l| oidc::flow::acr_of(l)).collect();
    // ES256 by default; RS256 for the clients registered with it. Client assertions
    // (`private_key_jwt`) may use either.
    let algs: Vec<&str> = oidc::jws::Alg::ALL.iter().map(|a| a.as_str()).collect();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oidc/authorize"),
        "token_endpoint": format!("{issuer}/oidc/token"),
        "userinfo_endpoint": format!("{issuer}/oidc/userinfo"),
        "jwks_uri": format!("{issuer}/oidc/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "revocation_endpoint": format!("{issuer}/oidc/revoke"),
        "pushed_authorization_request_endpoint": format!("{issuer}/oidc/par"),
        "end_session_endpoint": format!("{issuer}/oidc/logout"),
        "introspection_endpoint": format!("{issuer}/oidc/introspect"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": algs,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": scopes,
        "acr_values_supported": acr,
        "claims_supported": [
            "sub", "family_name", "given_name", "middle_name", "name", "birthdate", "snils",
            "inn", "id_doc", "email", "email_verified", "phone_number",
            "phone_number_verified", "address", "verified_claims", "acr", "auth_time"
        ],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "ui_locales_supported": ["ru"],
    }))
}

/// `GET /oidc/jwks`: the public signing keys, including retired ones whose tokens may
/// still be valid.
async fn jwks(State(state): State<AppState>) -> Result<Response, AppError> {
    let jwks = state.oidc.jwks(state.clock.now()).await.map_err(internal)?;
    let mut response = Json(jwks).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(response)
}

// --- the authorization endpoint ----------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "oidc_page.html")]
struct ProblemPage {
    chrome: Chrome,
    title: &'static str,
    message: String,
    /// Where the person can raise the account level, and the request to come back to.
    raise: Option<(&'static str, &'static str)>,
    retry: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "oidc_consent.html")]
struct ConsentPage {
    chrome: Chrome,
    client_name: String,
    attributes: Vec<(&'static str, &'static str)>,
    query: String,
}

fn level_phrase(level: &str) -> &'static str {
    match level {
        "confirmed" => "подтверждённая",
        "standard" => "стандартная",
        _ => "упрощённая",
    }
}

/// `GET /oidc/authorize`.
async fn authorize(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    uri: Uri,
    Query(params): Query<AuthorizeParams>,
) -> Result<Response, AppError> {
    let mut query = uri.query().unwrap_or_default().to_owned();
    let mut params = params;
    // A pushed request (RFC 9126): its stored parameters replace the query.
    if let Some(request_uri) = params.request_uri.clone() {
        let client_id = params.client_id.clone().unwrap_or_default();
        match state
            .oidc
            .pushed_params(&client_id, &request_uri, state.clock.now())
            .await
            .map_err(internal)?
        {
            Some(pushed) => {
                query = pushed.to_query();
                params = pushed;
            }
            None => {
                let page = ProblemPage {
                    chrome: viewer.chrome(""),
                    title: "Вход на сайт партнёра невозможен",
                    message: "запрос устарел или неизвестен: вернитесь на сайт сервиса и начните вход снова".into(),
                    raise: None,
                    retry: None,
                };
                return Ok((StatusCode::BAD_REQUEST, page).into_response());
            }
        }
    }
    let request = match state.oidc.authorize_request(&params).await.map_err(internal)? {
        Ok(r) => r,
        Err(AuthorizeError::Page(message)) => {
            let page = ProblemPage {
                chrome: viewer.chrome(""),
                title: "Вход на сайт партнёра невозможен",
                message,
                raise: None,
                retry: None,
            };
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
        Err(AuthorizeError::Redirect { redirect, .. }) => return Ok(see_other(&redirect)),
    };
    let now = state.clock.now();
    let session = viewer.0.clone();
    let auth_time = match &session {
        Some(s) => state
            .identity
            .sessions(&s.account_id, now)
            .await?
            .into_iter()
            .find(|v| v.id == s.id)
            .map(|v| v.created_at),
        None => None,
    };
    let too_old = match (auth_time, request.max_age) {
        (Some(at), Some(max)) => (now - at).num_seconds() > max,
        _ => false,
    };
    let wants_login = request.prompt.iter().any(|p| p == "login");
    let (Some(session), Some(auth_time), false, false) = (session, auth_time, too_old, wants_login)
    else {
        if request.prompt.iter().any(|p| p == "none") {
            return Ok(see_other(
                &request.answer(&state.oidc.settings().issuer, &[("error", "login_required")]),
            ));
        }
        // Sign in (again), then come back to this request.
        let mut response = see_other("/login");
        let back = format!("/oidc/authorize?{query}").replace("prompt=login", "prompt=");
        response.headers_mut().append(header::SET_COOKIE, return_cookie(&state, &back));
        if wants_login || too_old {
            // The old session must not satisfy the request: end it first (without ending
            // what other services were given, as a sign-out would).
            if let Some(s) = &viewer.0 {
                state.identity.end_session(&s.account_id, &s.id, &origin, now).await?;
            }
        }
        return Ok(response);
    };
    let account = state.identity.account(&session.account_id).await?;
    if !request.level_enough(&account.level) {
        if request.prompt.iter().any(|p| p == "none") {
            return Ok(see_other(&request.answer(
                &state.oidc.settings().issuer,
                &[("error", "access_denied"), ("error_description", "account level too low")],
            )));
        }
        let (link, label) = if account.level == "simplified" {
            ("/cabinet/documents", "Указать паспорт и СНИЛС")
        } else {
            ("/cabinet/confirm", "Подтвердить личность")
        };
        let page = ProblemPage {
            chrome: Chrome { nav: "", signed_in: true },
            title: "Нужен более высокий уровень учётной записи",
            message: format!(
                "Для входа в «{}» нужна {} учётная запись, а у вас — {}. Повысьте уровень и \
                 вернитесь: вход продолжится с того же места.",
                request.client.name,
                level_phrase(&request.min_level),
                level_phrase(&account.level)
            ),
            raise: Some((link, label)),
            retry: Some(format!("/oidc/authorize?{query}")),
        };
        return Ok((StatusCode::FORBIDDEN, page).into_response());
    }
    let asks_consent = request.prompt.iter().any(|p| p == "consent");
    if asks_consent
        || !state.oidc.has_consent(&session.account_id, &request).await.map_err(internal)?
    {
        if request.prompt.iter().any(|p| p == "none") {
            return Ok(see_other(
                &request.answer(&state.oidc.settings().issuer, &[("error", "consent_required")]),
            ));
        }
        // The consent form's redirect chain ends at the client: `form-action` must allow it.
        return Ok(
            (consent_csp(&request.redirect_uri), consent_page(&request, &query)).into_response()
        );
    }
    let redirect = state
        .oidc
        .issue_code(&session.account_id, &account.level, auth_time, &request, now)
        .await
        .map_err(internal)?;
    let details = json!({"client": request.client.id});
    crate::linked::record(&state, "oidc.signin", &session.account_id, &origin, details).await?;
    Ok(see_other(&redirect))
}

/// Our Content Security Policy with the client's origin allowed as a form target (the
/// browser checks a form's redirects against `form-action` too).
fn consent_csp(redirect_uri: &str) -> [(header::HeaderName, HeaderValue); 1] {
    let rest = redirect_uri.split_once("://").map_or("", |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let scheme = redirect_uri.split("://").next().unwrap_or_default();
    let origin = format!("{scheme}://{host}");
    let policy =
        crate::layers::CSP.replace("form-action 'self'", &format!("form-action 'self' {origin}"));
    let value = HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static(crate::layers::CSP));
    [(header::CONTENT_SECURITY_POLICY, value)]
}

/// For the sign-in pages (password, second factor) while a relying party's request waits
/// in the return cookie: the CSP that lets their form's redirect chain end at the client
/// (a remembered consent sends the browser straight there). Only for a request the
/// provider accepts, so only a registered redirect URI's origin is ever added.
pub(crate) async fn sign_in_csp(
    state: &AppState,
    headers: &HeaderMap,
) -> Option<[(header::HeaderName, HeaderValue); 1]> {
    waiting_request(state, headers).await.map(|r| consent_csp(&r.redirect_uri))
}

/// The relying party's request waiting in the return cookie, if the provider accepts it.
async fn waiting_request(state: &AppState, headers: &HeaderMap) -> Option<AuthRequest> {
    let back = crate::session::return_to(headers, state.secure_cookies)?;
    let uri: Uri = back.parse().ok()?;
    let Query(params) = Query::<AuthorizeParams>::try_from_uri(&uri).ok()?;
    state.oidc.authorize_request(&params).await.ok()?.ok()
}

/// The sign-in page's CSP (as [`sign_in_csp`]) and the `login_hint` of the waiting
/// request, cleaned for pre-filling the login field: trimmed, without control characters,
/// at most 254 characters (the longest e-mail address). It is only ever typed into the
/// field for the person to see and change; the sign-in checks whatever is submitted.
pub(crate) async fn sign_in_page_context(
    state: &AppState,
    headers: &HeaderMap,
) -> (Option<[(header::HeaderName, HeaderValue); 1]>, Option<String>) {
    let Some(request) = waiting_request(state, headers).await else { return (None, None) };
    let hint = request.login_hint.as_deref().map(login_prefill).filter(|h| !h.is_empty());
    (Some(consent_csp(&request.redirect_uri)), hint)
}

fn login_prefill(hint: &str) -> String {
    hint.chars().filter(|c| !c.is_control()).take(254).collect::<String>().trim().to_owned()
}

fn consent_page(request: &AuthRequest, query: &str) -> ConsentPage {
    ConsentPage {
        chrome: Chrome { nav: "", signed_in: true },
        client_name: request.client.name.clone(),
        attributes: request.attributes(),
        query: query.to_owned(),
    }
}

/// `POST /oidc/authorize/consent`: «Разрешить» or «Отказать» for the request in `query`.
async fn consent(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let query = value(&values, "query");
    let uri: Uri = format!("/oidc/authorize?{query}").parse().map_err(|_| {
        AppError::BadRequest { code: "query", message: "Неверный запрос".into() }
    })?;
    let Ok(Query(params)) = Query::<AuthorizeParams>::try_from_uri(&uri) else {
        return Err(AppError::BadRequest {
            code: "query", message: "Неверный запрос".into()
        });
    };
    let Some(session) = viewer.0 else { return Ok(see_other(&uri.to_string())) };
    let request = match state.oidc.authorize_request(&params).await.map_err(internal)? {
        Ok(r) => r,
        Err(AuthorizeError::Redirect { redirect, .. }) => return Ok(see_other(&redirect)),
        Err(AuthorizeError::Page(_)) => return Ok(see_other(&uri.to_string())),
    };
    let issuer = state.oidc.settings().issuer.clone();
    if value(&values, "decision") != "allow" {
        return Ok(see_other(&request.answer(
            &issuer,
            &[("error", "access_denied"), ("error_description", "the user refused")],
        )));
    }
    let now = state.clock.now();
    let account = state.identity.account(&session.account_id).await?;
    if !request.level_enough(&account.level) {
        return Ok(see_other(&uri.to_string()));
    }
    state.oidc.save_consent(&session.account_id, &request, now).await.map_err(internal)?;
    let details = json!({"client": request.client.id, "scopes": request.scopes});
    crate::linked::record(&state, "oidc.consent", &session.account_id, &origin, details).await?;
    let auth_time = state
        .identity
        .sessions(&session.account_id, now)
        .await?
        .into_iter()
        .find(|v| v.id == session.id)
        .map_or(now, |v| v.created_at);
    let redirect = state
        .oidc
        .issue_code(&session.account_id, &account.level, auth_time, &request, now)
        .await
        .map_err(internal)?;
    let details = json!({"client": request.client.id});
    crate::linked::record(&state, "oidc.signin", &session.account_id, &origin, details).await?;
    Ok(see_other(&redirect))
}

// --- the token endpoint ------------------------------------------------------------------

fn token_refusal(e: &oidc::flow::TokenError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response =
        (status, Json(json!({"error": e.error, "error_description": e.description})))
            .into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"uslugi\""));
    }
    response
}

/// Client credentials from `Authorization: Basic` (form-urlencoded parts) or the body,
/// and a `private_key_jwt` assertion from the body; `endpoint` is the path called.
fn client_credentials(
    headers: &HeaderMap,
    values: &Values,
    endpoint: &'static str,
) -> oidc::clients::ClientCredentials {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())));
    let unescape = |s: &str| {
        let uri: Option<Uri> = format!("/?v={s}").parse().ok();
        uri.and_then(|u| Query::<std::collections::HashMap<String, String>>::try_from_uri(&u).ok())
            .and_then(|Query(m)| m.get("v").cloned())
            .unwrap_or_else(|| s.to_owned())
    };
    let (client_id, secret) = match basic {
        Some((id, secret)) => (unescape(&id), Some(unescape(&secret))),
        None => (value(values, "client_id"), values.get("client_secret").cloned()),
    };
    oidc::clients::ClientCredentials {
        client_id,
        secret,
        assertion_type: values.get("client_assertion_type").cloned(),
        assertion: values.get("client_assertion").cloned(),
        endpoint,
    }
}

/// `POST /oidc/token`.
async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let credentials = client_credentials(&headers, &values, "/oidc/token");
    let answer = match value(&values, "grant_type").as_str() {
        "authorization_code" => state
            .oidc
            .exchange_code(
                &credentials,
                &value(&values, "code"),
                values.get("redirect_uri").map(String::as_str),
                values.get("code_verifier").map(String::as_str),
                now,
            )
            .await
            .map_err(internal)?,
        "refresh_token" => state
            .oidc
            .refresh_tokens(&credentials, &value(&values, "refresh_token"), now)
            .await
            .map_err(internal)?,
        "" => Err(oidc::flow::TokenError {
            error: "invalid_request",
            description: "grant_type is required".into(),
            status: 400,
        }),
        _ => Err(oidc::flow::TokenError {
            error: "unsupported_grant_type",
            description: "authorization_code or refresh_token".into(),
            status: 400,
        }),
    };
    match answer {
        Ok(tokens) => {
            let mut response = Json(tokens).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        Err(e) => Ok(token_refusal(&e)),
    }
}

/// `POST /oidc/revoke` (RFC 7009): always 200 for an authenticated client.
async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let credentials = client_credentials(&headers, &values, "/oidc/revoke");
    match state
        .oidc
        .revoke(&credentials, &value(&values, "token"), state.clock.now())
        .await
        .map_err(internal)?
    {
        Ok(()) => Ok(StatusCode::OK.into_response()),
        Err(e) => Ok(token_refusal(&e)),
    }
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
struct LogoutParams {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "oidc_logout.html")]
struct LogoutPage {
    chrome: Chrome,
    query: String,
    done: bool,
}

/// `GET /oidc/logout`: RP-initiated logout. A signed-in person confirms first (a link on
/// another site must not sign anyone out); without a session the browser goes straight
/// back.
async fn logout_page(
    viewer: Viewer,
    State(state): State<AppState>,
    uri: Uri,
    Query(p): Query<LogoutParams>,
) -> Result<Response, AppError> {
    if viewer.0.is_none() {
        return logout_done(&state, &p).await;
    }
    let query = uri.query().unwrap_or_default().to_owned();
    Ok(LogoutPage { chrome: viewer.chrome(""), query, done: false }.into_response())
}

async fn logout_done(state: &AppState, p: &LogoutParams) -> Result<Response, AppError> {
    let target = state
        .oidc
        .logout_target(
            p.id_token_hint.as_deref(),
            p.client_id.as_deref(),
            p.post_logout_redirect_uri.as_deref(),
            p.state.as_deref(),
            state.clock.now(),
        )
        .await
        .map_err(internal)?;
    Ok(match target {
        Some(to) => see_other(&to),
        None => {
            let chrome = Chrome { nav: "", signed_in: false };
            LogoutPage { chrome, query: String::new(), done: true }.into_response()
        }
    })
}

/// `POST /oidc/logout`: the confirmation; signs out of the portal (which ends what
/// connected services were given) and goes back to the service.
async fn logout_submit(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let uri: Uri = format!("/oidc/logout?{}", value(&values, "query")).parse().map_err(|_| {
        AppError::BadRequest { code: "query", message: "Неверный запрос".into() }
    })?;
    let p = Query::<LogoutParams>::try_from_uri(&uri).map(|Query(p)| p).unwrap_or_default();
    if let Some(session) = &viewer.0 {
        state.identity.sign_out(session, &origin, state.clock.now()).await?;
    }
    let mut response = logout_done(&state, &p).await?;
    response.headers_mut().append(header::SET_COOKIE, crate::session::clear_cookie(&state));
    Ok(response)
}

/// `POST /oidc/par` (RFC 9126): the authorization parameters, pushed by the client.
async fn par(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let credentials = client_credentials(&headers, &values, "/oidc/par");
    let get = |k: &str| values.get(k).cloned();
    let params = AuthorizeParams {
        response_type: get("response_type"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        scope: get("scope"),
        state: get("state"),
        nonce: get("nonce"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        prompt: get("prompt"),
        max_age: get("max_age").and_then(|m| m.parse().ok()),
        login_hint: get("login_hint"),
        acr_values: get("acr_values"),
        request_uri: get("request_uri"),
    };
    match state
        .oidc
        .push_request(&credentials, &params, state.clock.now())
        .await
        .map_err(internal)?
    {
        Ok(body) => {
            let mut response = (StatusCode::CREATED, Json(body)).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        Err(e) => Ok(token_refusal(&e)),
    }
}

/// `POST /oidc/introspect` (RFC 7662).
async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let credentials = client_credentials(&headers, &values, "/oidc/introspect");
    match state
        .oidc
        .introspect(&credentials, &value(&values, "token"), state.clock.now())
        .await
        .map_err(internal)?
    {
        Ok(body) => {
            let mut response = Json(body).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        Err(e) => Ok(token_refusal(&e)),
    }
}

// --- userinfo ----------------------------------------------------------------------------

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// `GET/POST /oidc/userinfo`: the claims of the token's scopes; document claims only from
/// data the registries verified, listed in `verified_claims`.
async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let now = state.clock.now();
    let unauthorized = || {
        let mut r =
            (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_token"}))).into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        r
    };
    let Some(token) = bearer(&headers) else { return Ok(unauthorized()) };
    let Some(access) = state.oidc.check_access_token(token, now).await.map_err(internal)? else {
        return Ok(unauthorized());
    };
    let claims = match state.oidc.fresh_userinfo(&access, now) {
        Some(claims) => claims,
        None => {
            let claims = Arc::new(userinfo_claims(&state, &access).await?);
            state.oidc.remember_userinfo(&access, claims.clone(), now);
            claims
        }
    };
    let mut response = Json(&*claims).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The claims of the token's scopes, from the profile as it is now.
async fn userinfo_claims(
    state: &AppState,
    access: &oidc::flow::AccessToken,
) -> Result<Value, AppError> {
    let has = |s: &str| access.scopes.iter().any(|x| x == s);
    let account = state.identity.account(&access.account_id).await?;
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), json!(access.account_id));
    let mut verified = Vec::new();
    // The documents are read only when a scope needs them (a read less per call).
    let needs_documents =
        ["fullname", "birthdate", "snils", "inn", "id_doc", "addresses"].iter().any(|s| has(s));
    let documents = if needs_documents {
        state.identity.documents(&access.account_id).await?.verified
    } else {
        None
    };
    let docs = documents.as_ref();
    if has("fullname") {
        claims.insert("family_name".into(), json!(account.surname));
        claims.insert("given_name".into(), json!(account.given_name));
        if let Some(p) = &account.patronymic {
            claims.insert("middle_name".into(), json!(p));
        }
        let full = [
            Some(account.surname.clone()),
            Some(account.given_name.clone()),
            account.patronymic.clone(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        claims.insert("name".into(), json!(full));
        if docs.is_some() {
            verified.push("fullname");
        }
    }
    if let Some(d) = docs {
        if has("birthdate") {
            claims.insert("birthdate".into(), json!(d.birth_date.format("%Y-%m-%d").to_string()));
            verified.push("birthdate");
        }
        if has("snils") {
            claims.insert("snils".into(), json!(d.snils.as_str()));
            verified.push("snils");
        }
        if has("inn")
            && let Some(inn) = &d.inn
        {
            claims.insert("inn".into(), json!(inn.as_str()));
            verified.push("inn");
        }
        if has("id_doc") {
            claims.insert(
                "id_doc".into(),
                json!({
                    "type": "RF_PASSPORT",
                    "series": d.passport.series(),
                    "number": d.passport.number(),
                    "issued_on": d.passport_issued_on.format("%Y-%m-%d").to_string(),
                    "issued_by": d.passport_issued_by,
                    "division_code": d.passport_division.as_str(),
                }),
            );
            verified.push("id_doc");
        }
        if has("addresses") {
            claims.insert("address".into(), json!({"formatted": d.address}));
            verified.push("addresses");
        }
    }
    for c in &account.contacts {
        if c.kind == "email" && has("email") {
            claims.insert("email".into(), json!(c.value));
            claims.insert("email_verified".into(), json!(c.confirmed));
        }
        if c.kind == "phone" && has("mobile") {
            claims.insert("phone_number".into(), json!(c.value));
            claims.insert("phone_number_verified".into(), json!(c.confirmed));
        }
    }
    if has("organizations") {
        claims.insert("organizations".into(), json!([]));
    }
    claims.insert("verified_claims".into(), json!(verified));
    Ok(Value::Object(claims))
}
