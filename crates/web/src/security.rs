//! Account security pages and API: the second step of a sign-in (TOTP, SMS code, backup
//! code, «запомнить это устройство»), the cabinet's security settings, ending one
//! session, the one-click «это не я», and the captcha for API clients.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Form, Json, Router};
use identity::security::{Factor, SecurityView, TotpSetup};
use identity::{IdentityError, SecondFactorChallenge};
use serde::Deserialize;

use crate::AppState;
use crate::account::{FormErrors, Values, msk, refusal, see_other, value};
use crate::account_api::SessionBody;
use crate::error::AppError;
use crate::session::{Chrome, ClientOrigin, SignedIn, Viewer, device_cookie, session_cookie};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login/factor/{token}", get(factor_page).post(factor_submit))
        .route("/login/factor/{token}/sms", post(factor_sms))
        .route("/cabinet/security", get(security_page))
        .route("/cabinet/security/totp", get(totp_page).post(totp_start))
        .route("/cabinet/security/totp/enable", post(totp_enable))
        .route("/cabinet/security/totp/disable", post(totp_disable))
        .route("/cabinet/security/sms", post(sms_submit))
        .route("/cabinet/security/backup-codes", post(backup_submit))
        .route("/cabinet/security/devices/forget", post(devices_forget))
        .route("/cabinet/sessions/{id}/end", post(session_end))
        .route("/not-me/{token}", get(not_me_page).post(not_me_submit))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/captcha", get(api_captcha))
        .route("/sessions/second-factor", post(api_factor))
        .route("/sessions/second-factor/sms", post(api_factor_sms))
        .route("/me/security", get(api_security))
        .route("/me/security/totp", post(api_totp_start))
        .route("/me/security/totp/enable", post(api_totp_enable))
        .route("/me/security/totp/disable", post(api_totp_disable))
        .route("/me/security/sms", post(api_sms))
        .route("/me/security/backup-codes", post(api_backup))
        .route("/me/sessions/{id}", delete(api_session_end))
}

// --- the second step of a sign-in --------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "login_factor.html")]
struct FactorPage {
    chrome: Chrome,
    challenge: SecondFactorChallenge,
    /// The method whose form is open.
    method: &'static str,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Debug, Deserialize)]
struct FactorQuery {
    method: Option<String>,
    sent: Option<String>,
}

fn default_method(c: &SecondFactorChallenge) -> &'static str {
    c.methods.first().map_or("totp", |m| m.code())
}

async fn factor_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    Query(q): Query<FactorQuery>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let challenge = match state.identity.second_factor_challenge(&token, now).await {
        Ok(c) => c,
        Err(IdentityError::SecondFactorGone) => return Ok(see_other("/login?expired=1")),
        Err(e) => return Err(e.into()),
    };
    let method = q
        .method
        .as_deref()
        .and_then(Factor::parse)
        .filter(|m| challenge.methods.contains(m))
        .map_or_else(|| default_method(&challenge), Factor::code);
    let notice = q.sent.map(|_| "Код отправлен по SMS.".to_owned()).or_else(|| {
        (challenge.sms_sent && method == "sms").then(|| "Код отправлен по SMS.".to_owned())
    });
    let page = FactorPage { chrome: Chrome::default(), challenge, method, error: None, notice };
    Ok((crate::oidc_routes::sign_in_csp(&state, &headers).await, page).into_response())
}

async fn factor_submit(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
    request_headers: HeaderMap,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let method = Factor::parse(&value(&values, "method")).unwrap_or(Factor::Totp);
    let remember = value(&values, "remember") == "on";
    match state
        .identity
        .complete_second_factor(&token, method, &value(&values, "code"), remember, &origin, now)
        .await
    {
        Ok((session, device)) => {
            let to = crate::session::return_to(&request_headers, state.secure_cookies);
            let mut response = see_other(to.as_deref().unwrap_or("/cabinet"));
            let max_age = (session.expires_at - now).num_seconds().max(0);
            let headers = response.headers_mut();
            if to.is_some() {
                headers.append(header::SET_COOKIE, crate::session::clear_return_cookie(&state));
            }
            headers.append(header::SET_COOKIE, session_cookie(&state, &session.token, max_age));
            if let Some(device) = device {
                let days = state.identity.policy().remember_device.num_seconds();
                headers.append(header::SET_COOKIE, device_cookie(&state, &device, days));
            }
            Ok(response)
        }
        Err(IdentityError::SecondFactorGone) => Ok(see_other("/login?expired=1")),
        Err(e) => {
            let status = crate::error::refusal_status(&e);
            let errors = refusal(e)?;
            let error = errors.general.clone().or_else(|| errors.get("code").cloned());
            let challenge = match state.identity.second_factor_challenge(&token, now).await {
                Ok(c) => c,
                Err(IdentityError::SecondFactorGone) => return Ok(see_other("/login?expired=1")),
                Err(e) => return Err(e.into()),
            };
            let page = FactorPage {
                chrome: Chrome::default(),
                challenge,
                method: method.code(),
                error,
                notice: None,
            };
            // The next try may complete a waiting authorization request: its form must be
            // allowed to end at the client.
            let csp = crate::oidc_routes::sign_in_csp(&state, &request_headers).await;
            Ok((status, csp, page).into_response())
        }
    }
}

async fn factor_sms(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    match state.identity.send_signin_sms(&token, now).await {
        Ok(()) => Ok(see_other(&format!("/login/factor/{token}?method=sms&sent=1"))),
        Err(IdentityError::SecondFactorGone) => Ok(see_other("/login?expired=1")),
        Err(e) => {
            let status = crate::error::refusal_status(&e);
            let error = refusal(e)?.general;
            let challenge = state.identity.second_factor_challenge(&token, now).await?;
            let page = FactorPage {
                chrome: Chrome::default(),
                challenge,
                method: "sms",
                error,
                notice: None,
            };
            let csp = crate::oidc_routes::sign_in_csp(&state, &headers).await;
            Ok((status, csp, page).into_response())
        }
    }
}

// --- the cabinet's security settings -----------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "security.html")]
struct SecurityPage {
    chrome: Chrome,
    view: SecurityView,
    notice: Option<String>,
    error: Option<String>,
    /// Backup codes just created: shown this once.
    codes: Vec<String>,
    sessions: Vec<SessionLine>,
    current: String,
}

struct SessionLine {
    id: String,
    started: String,
    seen: String,
    device: String,
    ip: String,
    live: bool,
}

#[derive(Debug, Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn render_security(
    state: &AppState,
    session: &identity::SessionInfo,
    notice: Option<String>,
    error: Option<String>,
    codes: Vec<String>,
) -> Result<SecurityPage, AppError> {
    let now = state.clock.now();
    let view = state.identity.security(&session.account_id, now).await?;
    let sessions = state
        .identity
        .sessions(&session.account_id, now)
        .await?
        .into_iter()
        .map(|s| SessionLine {
            started: msk(s.created_at),
            seen: msk(s.last_seen_at),
            device: s.device.clone(),
            ip: s.ip.clone().unwrap_or_default(),
            live: s.live,
            id: s.id,
        })
        .collect();
    Ok(SecurityPage {
        chrome: Chrome { nav: "cabinet", signed_in: true },
        view,
        notice,
        error,
        codes,
        sessions,
        current: session.id.clone(),
    })
}

async fn security_page(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Query(q): Query<DoneQuery>,
) -> Result<SecurityPage, AppError> {
    let notice = q.done.as_deref().map(|d| {
        match d {
            "totp" => "Приложение для кодов подключено. Сохраните резервные коды на случай потери телефона.",
            "totp-off" => "Приложение для кодов отключено.",
            "sms" => "Настройка кодов по SMS сохранена.",
            "devices" => "Запомненные устройства забыты: при следующем входе код спросим везде.",
            "session" => "Сеанс завершён.",
            _ => "Готово.",
        }
        .to_owned()
    });
    render_security(&state, &session, notice, None, Vec::new()).await
}

/// A refused settings form: the page again with the reason.
async fn security_refused(
    state: &AppState,
    session: &identity::SessionInfo,
    e: IdentityError,
) -> Result<Response, AppError> {
    let status = crate::error::refusal_status(&e);
    let errors: FormErrors = refusal(e)?;
    let error = errors
        .general
        .clone()
        .or_else(|| errors.fields.first().map(|(f, m)| format!("{}: {m}", field_label(f))));
    let page = render_security(state, session, None, error, Vec::new()).await?;
    Ok((status, page).into_response())
}

fn field_label(field: &str) -> &'static str {
    match field {
        "code" => "Код",
        "password" => "Пароль",
        _ => "Поле",
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "security_totp.html")]
struct TotpPage {
    chrome: Chrome,
    setup: TotpSetup,
    error: Option<String>,
}

async fn totp_page(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    match state.identity.pending_totp(&session.account_id).await? {
        Some(setup) => Ok(TotpPage { chrome: chrome(), setup, error: None }.into_response()),
        None => Ok(see_other("/cabinet/security")),
    }
}

fn chrome() -> Chrome {
    Chrome { nav: "cabinet", signed_in: true }
}

async fn totp_start(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    state.identity.start_totp(&session.account_id, state.clock.now()).await?;
    Ok(see_other("/cabinet/security/totp"))
}

async fn totp_enable(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let (password, code) = (value(&values, "password"), value(&values, "code"));
    match state.identity.enable_totp(&session.account_id, &password, &code, &origin, now).await {
        Ok(()) => Ok(see_other("/cabinet/security?done=totp")),
        Err(IdentityError::FlowGone) => Ok(see_other("/cabinet/security")),
        Err(e) => {
            let status = crate::error::refusal_status(&e);
            let errors = refusal(e)?;
            let error = errors
                .general
                .clone()
                .or_else(|| errors.fields.first().map(|(f, m)| format!("{}: {m}", field_label(f))));
            let Some(setup) = state.identity.pending_totp(&session.account_id).await? else {
                return Ok(see_other("/cabinet/security"));
            };
            Ok((status, TotpPage { chrome: chrome(), setup, error }).into_response())
        }
    }
}

async fn totp_disable(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    match state
        .identity
        .disable_totp(&session.account_id, &value(&values, "password"), &origin, now)
        .await
    {
        Ok(()) => Ok(see_other("/cabinet/security?done=totp-off")),
        Err(e) => security_refused(&state, &session, e).await,
    }
}

async fn sms_submit(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let on = value(&values, "enabled") == "on";
    let password = value(&values, "password");
    match state.identity.set_sms_factor(&session.account_id, &password, on, &origin, now).await {
        Ok(()) => Ok(see_other("/cabinet/security?done=sms")),
        Err(e) => security_refused(&state, &session, e).await,
    }
}

async fn backup_submit(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let password = value(&values, "password");
    match state.identity.new_backup_codes(&session.account_id, &password, &origin, now).await {
        Ok(codes) => {
            let notice = Some(
                "Новые резервные коды созданы. Сохраните их сейчас — больше мы их не покажем."
                    .to_owned(),
            );
            let mut response =
                render_security(&state, &session, notice, None, codes).await?.into_response();
            // The codes must not stay in any cache.
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
            Ok(response)
        }
        Err(e) => security_refused(&state, &session, e).await,
    }
}

async fn devices_forget(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    state.identity.forget_devices(&session.account_id, &origin, state.clock.now()).await?;
    Ok(see_other("/cabinet/security?done=devices"))
}

async fn session_end(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    state.identity.end_session(&session.account_id, &id, &origin, state.clock.now()).await?;
    if id == session.id {
        return Ok(see_other("/login"));
    }
    Ok(see_other("/cabinet/security?done=session"))
}

// --- «это не я» --------------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "not_me.html")]
struct NotMePage {
    chrome: Chrome,
    token: String,
    known: bool,
    done: bool,
}

/// The link from a new-device notice opens a page with one button: mail scanners that
/// fetch links must not end sessions.
async fn not_me_page(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<NotMePage, AppError> {
    let known = state.identity.disown_known(&token).await?;
    Ok(NotMePage { chrome: viewer.chrome(""), token, known, done: false })
}

async fn not_me_submit(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<NotMePage, AppError> {
    let known = state.identity.disown_session(&token, &origin, state.clock.now()).await?;
    Ok(NotMePage { chrome: viewer.chrome(""), token, known, done: known })
}

// --- API ---------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct CaptchaQuery {
    #[serde(default)]
    spoken: bool,
}

/// `GET /api/v1/captcha`: a captcha for a sign-in that answered `captcha_required`.
async fn api_captcha(
    State(state): State<AppState>,
    Query(q): Query<CaptchaQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let c = state.identity.new_captcha(q.spoken, state.clock.now()).await?;
    Ok(Json(serde_json::json!({ "id": c.id, "svg": c.svg, "question": c.question })))
}

#[derive(Debug, Deserialize)]
struct FactorBody {
    token: String,
    method: String,
    code: String,
    #[serde(default)]
    remember_device: bool,
}

/// `POST /api/v1/sessions/second-factor`: the second step of a sign-in.
async fn api_factor(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(b): Json<FactorBody>,
) -> Result<Response, AppError> {
    let Some(method) = Factor::parse(&b.method) else {
        return Err(AppError::BadRequest {
            code: "method",
            message: "Способ подтверждения: укажите totp, sms или backup".into(),
        });
    };
    let (session, device) = state
        .identity
        .complete_second_factor(
            &b.token,
            method,
            &b.code,
            b.remember_device,
            &origin,
            state.clock.now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(SessionBody::from(session).with_device(device))).into_response())
}

#[derive(Debug, Deserialize)]
struct TokenBody {
    token: String,
}

/// `POST /api/v1/sessions/second-factor/sms`: sends (again) the SMS code.
async fn api_factor_sms(
    State(state): State<AppState>,
    Json(b): Json<TokenBody>,
) -> Result<StatusCode, AppError> {
    state.identity.send_signin_sms(&b.token, state.clock.now()).await?;
    Ok(StatusCode::ACCEPTED)
}

fn security_json(v: &SecurityView) -> serde_json::Value {
    serde_json::json!({
        "totp": v.totp,
        "totp_since": v.totp_since,
        "sms": v.sms,
        "phone": v.phone,
        "backup_codes": { "unused": v.backup_unused, "total": v.backup_total },
        "remembered_devices": v.devices.iter().map(|(d, since, until)| serde_json::json!({
            "device": d, "since": since, "until": until,
        })).collect::<Vec<_>>(),
    })
}

/// `GET /api/v1/me/security`.
async fn api_security(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, AppError> {
    let view = state.identity.security(&session.account_id, state.clock.now()).await?;
    Ok(Json(security_json(&view)))
}

/// `POST /api/v1/me/security/totp`: a new secret to set up (pending until enabled).
async fn api_totp_start(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, AppError> {
    let s = state.identity.start_totp(&session.account_id, state.clock.now()).await?;
    Ok(Json(serde_json::json!({ "key": s.key, "uri": s.uri, "qr_svg": s.qr_svg })))
}

#[derive(Debug, Deserialize)]
struct PasswordCode {
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    enabled: bool,
}

async fn api_totp_enable(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(b): Json<PasswordCode>,
) -> Result<StatusCode, AppError> {
    let now = state.clock.now();
    state.identity.enable_totp(&session.account_id, &b.password, &b.code, &origin, now).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn api_totp_disable(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(b): Json<PasswordCode>,
) -> Result<StatusCode, AppError> {
    state
        .identity
        .disable_totp(&session.account_id, &b.password, &origin, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn api_sms(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(b): Json<PasswordCode>,
) -> Result<StatusCode, AppError> {
    let now = state.clock.now();
    state
        .identity
        .set_sms_factor(&session.account_id, &b.password, b.enabled, &origin, now)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn api_backup(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(b): Json<PasswordCode>,
) -> Result<Response, AppError> {
    let codes = state
        .identity
        .new_backup_codes(&session.account_id, &b.password, &origin, state.clock.now())
        .await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok((StatusCode::CREATED, headers, Json(serde_json::json!({ "codes": codes }))).into_response())
}

/// `DELETE /api/v1/me/sessions/{id}`: ends one of the person's sessions.
async fn api_session_end(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    if state.identity.end_session(&session.account_id, &id, &origin, state.clock.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::Missing {
            code: "session", message: "Активный сеанс не найден".into()
        })
    }
}
