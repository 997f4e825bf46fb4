//! «Активация»: a person registered by an operator at a service centre enters the contact
//! and the activation code they were given, confirms the contact with a one-time code,
//! sets a password and is signed in. Pages at `/activate…`, the same steps as JSON at
//! `/api/v1/activations…`.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use chrono::{DateTime, Utc};
use identity::IdentityError;
use serde::{Deserialize, Serialize};

use crate::error::sentence;
use crate::session::{Chrome, ClientOrigin, Viewer, session_cookie};
use crate::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/activate", get(start_form).post(start_submit))
        .route("/activate/{token}", get(code_page).post(code_submit))
        .route("/activate/{token}/resend", post(resend))
        .route("/activate/{token}/password", get(password_page).post(password_submit))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/activations", post(api_start))
        .route("/activations/{token}", get(api_status))
        .route("/activations/{token}/confirm", post(api_confirm))
        .route("/activations/{token}/resend", post(api_resend))
        .route("/activations/{token}/complete", post(api_complete))
}

type Values = HashMap<String, String>;

fn value(values: &Values, name: &str) -> String {
    values.get(name).cloned().unwrap_or_default()
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Wrong fields: (field, Russian message).
type FieldMessages = Vec<(&'static str, String)>;

/// A refusal as (field errors, general message); internal failures become 500/503.
fn refusal(e: IdentityError) -> Result<(FieldMessages, Option<String>), AppError> {
    if e.is_internal() {
        return Err(e.into());
    }
    Ok(match e {
        IdentityError::Fields(list) => {
            (list.iter().map(|(f, err)| (*f, err.to_string())).collect(), None)
        }
        other => (Vec::new(), Some(sentence(&other.to_string()))),
    })
}

// --- step 1: contact and activation code -------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "activate.html")]
struct StartPage {
    chrome: Chrome,
    contact: String,
    fields: FieldMessages,
    error: Option<String>,
}

impl StartPage {
    fn get(&self, field: &str) -> Option<&String> {
        self.fields.iter().find(|(f, _)| *f == field).map(|(_, m)| m)
    }
}

async fn start_form(viewer: Viewer) -> StartPage {
    StartPage {
        chrome: viewer.chrome("login"),
        contact: String::new(),
        fields: Vec::new(),
        error: None,
    }
}

async fn start_submit(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let contact = value(&values, "contact");
    match state
        .identity
        .start_activation(&contact, &value(&values, "code"), &origin, state.clock.now())
        .await
    {
        Ok(token) => Ok(see_other(&format!("/activate/{token}"))),
        Err(e) => {
            let status = crate::error::refusal_status(&e);
            let (fields, error) = refusal(e)?;
            let page = StartPage { chrome: viewer.chrome("login"), contact, fields, error };
            Ok((status, page).into_response())
        }
    }
}

// --- step 2: the one-time code ------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "activate_code.html")]
struct CodePage {
    chrome: Chrome,
    token: String,
    masked: String,
    resend_in: i64,
    minutes: i64,
    error: Option<String>,
    sent_again: bool,
}

async fn code_view(
    viewer: &Viewer,
    state: &AppState,
    token: String,
    error: Option<String>,
    sent_again: bool,
) -> Result<CodePage, AppError> {
    let now = state.clock.now();
    let flow = state.identity.activation(&token, now).await?;
    Ok(CodePage {
        chrome: viewer.chrome("login"),
        token,
        masked: flow.masked_contact,
        resend_in: (flow.resend_at - now).num_seconds().max(0),
        minutes: state.identity.policy().code_ttl.num_minutes(),
        error,
        sent_again,
    })
}

#[derive(Debug, Deserialize)]
struct SentQuery {
    sent: Option<String>,
}

async fn code_page(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<SentQuery>,
) -> Result<Response, AppError> {
    let flow = state.identity.activation(&token, state.clock.now()).await?;
    if flow.completed {
        return Ok(see_other("/login"));
    }
    if flow.confirmed {
        return Ok(see_other(&format!("/activate/{token}/password")));
    }
    Ok(code_view(&viewer, &state, token, None, q.sent.is_some()).await?.into_response())
}

async fn code_submit(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let code = value(&values, "code");
    match state.identity.confirm_activation(&token, &code, &origin, state.clock.now()).await {
        Ok(()) => Ok(see_other(&format!("/activate/{token}/password"))),
        Err(e) => {
            let status = crate::error::refusal_status(&e);
            let (_, error) = refusal(e)?;
            let page = code_view(&viewer, &state, token, error, false).await?;
            Ok((status, page).into_response())
        }
    }
}

async fn resend(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    match state.identity.resend_activation_code(&token, &origin, state.clock.now()).await {
        Ok(()) => Ok(see_other(&format!("/activate/{token}?sent=1"))),
        Err(e) => {
            let (_, error) = refusal(e)?;
            let page = code_view(&viewer, &state, token, error, false).await?;
            Ok((StatusCode::TOO_MANY_REQUESTS, page).into_response())
        }
    }
}

// --- step 3: the password -----------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "activate_password.html")]
struct PasswordPage {
    chrome: Chrome,
    token: String,
    masked: String,
    rules: Vec<String>,
    unmet: Vec<String>,
    error: Option<String>,
}

fn rules(state: &AppState) -> Vec<String> {
    let p = &state.identity.policy().password;
    let mut rules = vec![format!("от {} до {} символов", p.min_len, p.max_len)];
    if p.upper && p.lower {
        rules.push("заглавные и строчные буквы".into());
    }
    if p.digit {
        rules.push("хотя бы одна цифра".into());
    }
    if !p.specials.is_empty() {
        let list: Vec<String> = p.specials.chars().map(String::from).collect();
        rules.push(format!("хотя бы один из символов {}", list.join(" ")));
    }
    rules.push("не распространённый и не простой для подбора".into());
    rules
}

async fn password_page(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let flow = state.identity.activation(&token, state.clock.now()).await?;
    if flow.completed {
        return Ok(see_other("/login"));
    }
    if !flow.confirmed {
        return Ok(see_other(&format!("/activate/{token}")));
    }
    Ok(PasswordPage {
        chrome: viewer.chrome("login"),
        token,
        masked: flow.masked_contact,
        rules: rules(&state),
        unmet: Vec::new(),
        error: None,
    }
    .into_response())
}

async fn password_submit(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let (password, repeat) = (value(&values, "password"), value(&values, "repeat"));
    match state.identity.complete_activation(&token, &password, &repeat, &origin, now).await {
        Ok(session) => {
            let mut response = see_other("/cabinet");
            let max_age = (session.expires_at - now).num_seconds().max(0);
            response
                .headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&state, &session.token, max_age));
            Ok(response)
        }
        Err(e) => {
            let status = crate::error::refusal_status(&e);
            let flow = state.identity.activation(&token, now).await?;
            let mut page = PasswordPage {
                chrome: viewer.chrome("login"),
                token,
                masked: flow.masked_contact,
                rules: rules(&state),
                unmet: Vec::new(),
                error: None,
            };
            match e {
                IdentityError::WeakPassword(unmet) => page.unmet = unmet,
                other => page.error = refusal(other)?.1,
            }
            Ok((status, page).into_response())
        }
    }
}

// --- the API ------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct StartBody {
    contact: String,
    code: String,
}

#[derive(Debug, Serialize)]
struct Status {
    token: String,
    masked_contact: String,
    confirmed: bool,
    completed: bool,
    resend_at: DateTime<Utc>,
}

async fn status_of(state: &AppState, token: String) -> Result<Status, AppError> {
    let f = state.identity.activation(&token, state.clock.now()).await?;
    Ok(Status {
        token,
        masked_contact: f.masked_contact,
        confirmed: f.confirmed,
        completed: f.completed,
        resend_at: f.resend_at,
    })
}

/// `POST /api/v1/activations`: the contact and the activation code; a one-time code goes
/// to the contact (202).
async fn api_start(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(b): Json<StartBody>,
) -> Result<Response, AppError> {
    let token =
        state.identity.start_activation(&b.contact, &b.code, &origin, state.clock.now()).await?;
    Ok((StatusCode::ACCEPTED, Json(status_of(&state, token).await?)).into_response())
}

async fn api_status(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<Status>, AppError> {
    Ok(Json(status_of(&state, token).await?))
}

#[derive(Debug, Deserialize)]
struct CodeBody {
    code: String,
}

async fn api_confirm(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Json(b): Json<CodeBody>,
) -> Result<Json<Status>, AppError> {
    state.identity.confirm_activation(&token, &b.code, &origin, state.clock.now()).await?;
    Ok(Json(status_of(&state, token).await?))
}

async fn api_resend(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<Status>, AppError> {
    state.identity.resend_activation_code(&token, &origin, state.clock.now()).await?;
    Ok(Json(status_of(&state, token).await?))
}

#[derive(Debug, Deserialize)]
struct PasswordBody {
    password: String,
    repeat: String,
}

/// `POST /api/v1/activations/{token}/complete`: the password; answers with a session (201).
async fn api_complete(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Json(b): Json<PasswordBody>,
) -> Result<Response, AppError> {
    let s = state
        .identity
        .complete_activation(&token, &b.password, &b.repeat, &origin, state.clock.now())
        .await?;
    let body = serde_json::json!({
        "session": s.token, "account_id": s.account_id, "expires_at": s.expires_at
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
