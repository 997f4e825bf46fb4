//! The account flows as JSON for mobile apps: the same steps as the pages, a session
//! token in the body instead of a cookie (send it as `Authorization: Bearer …`).

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::{DateTime, Utc};
use identity::{NewSession, Proof, RegistrationForm};
use serde::{Deserialize, Serialize};

use crate::session::{ClientOrigin, SignedIn};
use crate::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/registrations", post(start))
        .route("/registrations/{token}", get(status))
        .route("/registrations/{token}/confirm", post(confirm))
        .route("/registrations/{token}/resend", post(resend))
        .route("/registrations/{token}/complete", post(complete))
        .route("/sessions", post(sign_in))
        .route("/session", delete(sign_out).get(session_status))
        .route("/me", get(me))
        .route("/password/check", post(check_password))
        .route("/recoveries", post(recovery_start))
        .route("/recoveries/{token}/confirm", post(recovery_confirm))
        .route("/recoveries/{token}/resend", post(recovery_resend))
        .route("/recoveries/{token}/complete", post(recovery_complete))
        .route("/me/password", post(change_password))
        .route("/me/contacts", post(contact_start))
        .route("/me/contacts/{token}/confirm", post(contact_confirm))
        .route("/me/sessions", get(my_sessions))
        .route("/me/sessions/end-others", post(end_others))
        .route("/me/journal", get(my_journal))
        .route("/me/documents", get(my_documents).post(submit_documents))
}

#[derive(Debug, Deserialize)]
struct StartBody {
    surname: String,
    given_name: String,
    #[serde(default)]
    patronymic: String,
    contact: String,
    #[serde(default)]
    accept_terms: bool,
    #[serde(default)]
    accept_pd: bool,
}

#[derive(Debug, Serialize)]
struct RegistrationStatus {
    token: String,
    masked_contact: String,
    contact_kind: &'static str,
    confirmed: bool,
    completed: bool,
    resend_at: DateTime<Utc>,
    code_expires_at: DateTime<Utc>,
}

async fn registration_status(
    state: &AppState,
    token: String,
) -> Result<RegistrationStatus, AppError> {
    let r = state.identity.registration(&token, state.clock.now()).await?;
    Ok(RegistrationStatus {
        token,
        masked_contact: r.masked_contact,
        contact_kind: r.contact_kind,
        confirmed: r.confirmed,
        completed: r.completed,
        resend_at: r.resend_at,
        code_expires_at: r.code_expires_at,
    })
}

/// `POST /api/v1/registrations`: step 1; a code goes to the contact.
async fn start(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(b): Json<StartBody>,
) -> Result<Response, AppError> {
    let form = RegistrationForm {
        surname: b.surname,
        given_name: b.given_name,
        patronymic: b.patronymic,
        contact: b.contact,
        accept_terms: b.accept_terms,
        accept_pd: b.accept_pd,
    };
    let token = state.identity.start_registration(&form, &origin, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(registration_status(&state, token).await?)).into_response())
}

async fn status(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<RegistrationStatus>, AppError> {
    Ok(Json(registration_status(&state, token).await?))
}

#[derive(Debug, Deserialize)]
struct ConfirmBody {
    code: Option<String>,
    link: Option<String>,
}

/// `POST /api/v1/registrations/{token}/confirm` with `{"code": "123456"}`.
async fn confirm(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Json(b): Json<ConfirmBody>,
) -> Result<Json<RegistrationStatus>, AppError> {
    let proof = match (&b.code, &b.link) {
        (Some(code), _) => Proof::Code(code),
        (None, Some(link)) => Proof::Link(link),
        (None, None) => {
            return Err(AppError::BadRequest {
                code: "code",
                message: "code: укажите код подтверждения".into(),
            });
        }
    };
    state.identity.confirm_registration(&token, proof, &origin, state.clock.now()).await?;
    Ok(Json(registration_status(&state, token).await?))
}

async fn resend(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<RegistrationStatus>, AppError> {
    state.identity.resend_registration_code(&token, &origin, state.clock.now()).await?;
    Ok(Json(registration_status(&state, token).await?))
}

#[derive(Debug, Deserialize)]
struct PasswordBody {
    password: String,
    repeat: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct SessionBody {
    session: String,
    account_id: String,
    expires_at: DateTime<Utc>,
    /// Signed in with a temporary password: only `POST /me/password` works until then.
    must_change_password: bool,
    /// With «remember this device»: send it back as `device_token` at the next sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    device_token: Option<String>,
}

impl From<NewSession> for SessionBody {
    fn from(s: NewSession) -> Self {
        Self {
            session: s.token,
            account_id: s.account_id,
            expires_at: s.expires_at,
            must_change_password: s.must_change,
            device_token: None,
        }
    }
}

impl SessionBody {
    pub(crate) fn with_device(mut self, token: Option<String>) -> Self {
        self.device_token = token;
        self
    }
}

/// `POST /api/v1/registrations/{token}/complete`: step 3; answers with a session.
async fn complete(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Json(b): Json<PasswordBody>,
) -> Result<Response, AppError> {
    let session = state
        .identity
        .complete_registration(&token, &b.password, &b.repeat, &origin, state.clock.now())
        .await?;
    Ok((StatusCode::CREATED, Json(SessionBody::from(session))).into_response())
}

#[derive(Debug, Deserialize)]
struct SignInBody {
    login: String,
    password: String,
    /// After three failures: a captcha from `GET /api/v1/captcha` and its answer.
    #[serde(default)]
    captcha_id: Option<String>,
    #[serde(default)]
    captcha_answer: Option<String>,
    /// A remembered device skips the second factor.
    #[serde(default)]
    device_token: Option<String>,
}

/// `POST /api/v1/sessions`: sign in by phone or e-mail and password.
async fn sign_in(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(b): Json<SignInBody>,
) -> Result<Response, AppError> {
    let attempt = identity::SignInAttempt {
        login: &b.login,
        password: &b.password,
        captcha: b.captcha_id.as_deref().map(|id| (id, b.captcha_answer.as_deref().unwrap_or(""))),
        device_token: b.device_token.as_deref(),
    };
    match state.identity.sign_in(&attempt, &origin, state.clock.now()).await? {
        identity::SignIn::Session(session) => {
            Ok((StatusCode::CREATED, Json(SessionBody::from(session))).into_response())
        }
        identity::SignIn::SecondFactor(c) => Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({
                "second_factor": {
                    "token": c.token,
                    "methods": c.methods.iter().map(|m| m.code()).collect::<Vec<_>>(),
                    "expires_at": c.expires_at,
                    "phone": c.phone,
                    "sms_sent": c.sms_sent,
                }
            })),
        )
            .into_response()),
    }
}

/// `GET /api/v1/session`: whether the bearer's session is live, and whose it is.
async fn session_status(SignedIn(session): SignedIn) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "account_id": session.account_id }))
}

/// `DELETE /api/v1/session`: signs the bearer out.
async fn sign_out(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
) -> Result<StatusCode, AppError> {
    state.identity.sign_out(&session, &origin, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
struct Me {
    id: String,
    surname: String,
    given_name: String,
    patronymic: Option<String>,
    level: String,
    contacts: Vec<MeContact>,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
struct MeContact {
    kind: String,
    value: String,
    confirmed: bool,
}

/// `GET /api/v1/me`: the signed-in person's profile.
async fn me(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<Json<Me>, AppError> {
    let a = state.identity.account(&session.account_id).await?;
    Ok(Json(Me {
        id: a.id,
        surname: a.surname,
        given_name: a.given_name,
        patronymic: a.patronymic,
        level: a.level,
        contacts: a
            .contacts
            .into_iter()
            .map(|c| MeContact { kind: c.kind, value: c.value, confirmed: c.confirmed })
            .collect(),
        created_at: a.created_at,
    }))
}

/// `GET /api/v1/me/documents`: the documents in force, those being checked, and where
/// the check stands.
async fn my_documents(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<Json<identity::documents::DocumentsView>, AppError> {
    Ok(Json(state.identity.documents(&session.account_id).await?))
}

/// `POST /api/v1/me/documents`: submits documents for the registry check (202; the check
/// runs in the background, poll `GET`).
async fn submit_documents(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(form): Json<identity::documents::DocumentsForm>,
) -> Result<Response, AppError> {
    let view = state
        .identity
        .submit_documents(&session.account_id, &form, &origin, state.clock.now())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(view)).into_response())
}

#[derive(Debug, Deserialize)]
struct CheckBody {
    password: String,
    #[serde(default)]
    personal: Vec<String>,
}

#[derive(Debug, Serialize)]
struct CheckResult {
    valid: bool,
    unmet: Vec<String>,
}

/// `POST /api/v1/password/check`: every rule a password breaks, for live hints.
async fn check_password(
    State(state): State<AppState>,
    Json(b): Json<CheckBody>,
) -> Json<CheckResult> {
    let personal: Vec<&str> = b.personal.iter().map(String::as_str).collect();
    let unmet = state.identity.policy().password.check(&b.password, &personal);
    Json(CheckResult { valid: unmet.is_empty(), unmet })
}

#[derive(Debug, Deserialize)]
struct LoginBody {
    login: String,
}

#[derive(Debug, Deserialize)]
struct ContactBody {
    contact: String,
}

#[derive(Debug, Deserialize)]
struct CodeBody {
    code: String,
}

#[derive(Debug, Serialize)]
struct FlowStarted {
    token: String,
    masked_contact: String,
    resend_at: DateTime<Utc>,
}

async fn flow_started(
    state: &AppState,
    recovery: bool,
    token: String,
) -> Result<Response, AppError> {
    let flow = state.identity.flow(recovery, &token, state.clock.now()).await?;
    let body =
        FlowStarted { token, masked_contact: flow.masked_contact, resend_at: flow.resend_at };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// `POST /api/v1/recoveries`: a code to the contact, if it is bound to an account (the
/// answer is the same either way).
async fn recovery_start(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(b): Json<LoginBody>,
) -> Result<Response, AppError> {
    let token = state.identity.start_recovery(&b.login, &origin, state.clock.now()).await?;
    flow_started(&state, true, token).await
}

async fn recovery_confirm(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Json(b): Json<CodeBody>,
) -> Result<StatusCode, AppError> {
    state.identity.confirm_flow(true, &token, &b.code, None, &origin, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn recovery_resend(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<StatusCode, AppError> {
    state.identity.resend_flow_code(true, &token, &origin, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/recoveries/{token}/complete`: the new password; every session ends.
async fn recovery_complete(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Json(b): Json<PasswordBody>,
) -> Result<StatusCode, AppError> {
    state
        .identity
        .complete_recovery(&token, &b.password, &b.repeat, &origin, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct ChangePasswordBody {
    current: String,
    password: String,
    repeat: String,
}

/// `POST /api/v1/me/password`: other sessions end.
async fn change_password(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(b): Json<ChangePasswordBody>,
) -> Result<StatusCode, AppError> {
    state
        .identity
        .change_password(&session, &b.current, &b.password, &b.repeat, &origin, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/me/contacts`: a code goes to the new phone or e-mail.
async fn contact_start(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(b): Json<ContactBody>,
) -> Result<Response, AppError> {
    let token = state
        .identity
        .start_contact_change(&session, &b.contact, &origin, state.clock.now())
        .await?;
    flow_started(&state, false, token).await
}

async fn contact_confirm(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Json(b): Json<CodeBody>,
) -> Result<StatusCode, AppError> {
    state
        .identity
        .confirm_flow(false, &token, &b.code, Some(&session), &origin, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
struct SessionItem {
    /// For `DELETE /api/v1/me/sessions/{id}`.
    id: String,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    ip: Option<String>,
    device: String,
    live: bool,
    current: bool,
}

async fn my_sessions(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<Json<Vec<SessionItem>>, AppError> {
    let list = state.identity.sessions(&session.account_id, state.clock.now()).await?;
    Ok(Json(
        list.into_iter()
            .map(|s| SessionItem {
                current: s.id == session.id,
                id: s.id,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                ip: s.ip,
                device: s.device,
                live: s.live,
            })
            .collect(),
    ))
}

async fn end_others(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, AppError> {
    let ended = state.identity.end_other_sessions(&session, &origin, state.clock.now()).await?;
    Ok(Json(serde_json::json!({ "ended": ended })))
}

#[derive(Debug, Serialize)]
struct JournalItem {
    at: DateTime<Utc>,
    action: String,
    /// `citizen`, `operator`, `officer`, `admin`, `system`, `anonymous`.
    actor_kind: String,
    /// Who acted, in Russian («Оператор центра обслуживания Смирнова О. П., …»).
    actor: String,
    outcome: String,
    ip: Option<String>,
    device: String,
}

/// `GET /api/v1/me/journal`: the person's own action journal, newest first.
async fn my_journal(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<Json<Vec<JournalItem>>, AppError> {
    let rows =
        journal::Journal::new(state.db.clone()).for_subject(&session.account_id, 100).await?;
    let who = crate::staff::actor_names(&state, &rows).await?;
    Ok(Json(
        rows.into_iter()
            .zip(who)
            .map(|(r, actor)| JournalItem {
                at: store::from_micros(r.at),
                actor_kind: r.actor_kind,
                actor,
                device: identity::device_of(r.user_agent.as_deref()),
                action: r.action,
                outcome: r.outcome,
                ip: r.ip,
            })
            .collect(),
    ))
}
