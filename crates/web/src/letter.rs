//! «Заказным письмом»: ordering a registered letter with a confirmation code, entering
//! the code, cancelling — as a page under `/cabinet/confirm/letter` and as JSON under
//! `/api/v1/me/letter`. The rules are in `identity::letter`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use identity::IdentityError;
use identity::letter::{LetterState, LetterView, Recipient};
use serde::{Deserialize, Serialize};

use crate::error::{refusal_status, sentence};
use crate::session::{Chrome, ClientOrigin, SignedIn};
use crate::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cabinet/confirm/letter", get(page).post(order))
        .route("/cabinet/confirm/letter/code", post(enter_code))
        .route("/cabinet/confirm/letter/cancel", post(cancel))
        .route("/api/v1/me/letter", get(api_status).post(api_order).delete(api_cancel))
        .route("/api/v1/me/letter/confirm", post(api_confirm))
}

// --- the page ----------------------------------------------------------------------------

/// The letter as the page shows it.
struct LetterLine {
    state: &'static str,
    label: &'static str,
    reference: String,
    requested: String,
    sent: String,
    expires: String,
    attempts_left: i64,
    close_reason: String,
}

impl LetterLine {
    fn new(v: &LetterView) -> Self {
        Self {
            state: v.state.code(),
            label: v.state.label(),
            reference: v.reference.clone(),
            requested: crate::account::msk(v.requested_at),
            sent: v.sent_at.map(crate::account::msk).unwrap_or_default(),
            expires: v.expires_on.map(|d| d.format("%d.%m.%Y").to_string()).unwrap_or_default(),
            attempts_left: v.attempts_left,
            close_reason: v.close_reason.clone().unwrap_or_default(),
        }
    }
}

/// Refusals, each shown beside what it is about.
#[derive(Debug, Default)]
struct Errors {
    /// About the whole page (an order refused for a reason other than the index).
    general: Option<String>,
    postal_index: Option<String>,
    code: Option<String>,
}

impl Errors {
    fn any(&self) -> bool {
        self.general.is_some() || self.postal_index.is_some() || self.code.is_some()
    }

    /// A refusal of the order form or the code form: field errors go beside the field,
    /// other reasons of the code form beside the code, the rest to the top.
    fn from(e: &IdentityError, code_form: bool) -> Self {
        let mut errors = Self::default();
        match e {
            IdentityError::Fields(list) => {
                for (field, err) in list {
                    let message = sentence(&err.to_string());
                    match *field {
                        "postal_index" => errors.postal_index = Some(message),
                        "code" => errors.code = Some(message),
                        _ => errors.general = Some(message),
                    }
                }
            }
            // A wrong code stays beside the field; an expired or used-up letter has no
            // code field any more, so its reason goes to the top.
            other @ IdentityError::CodeWrong { .. } if code_form => {
                errors.code = Some(sentence(&other.to_string()));
            }
            other => errors.general = Some(sentence(&other.to_string())),
        }
        errors
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "letter.html")]
struct LetterPage {
    chrome: Chrome,
    /// simplified | standard | confirmed
    level: String,
    level_label: &'static str,
    /// Why the account may not order a letter now, in Russian.
    refusal: Option<String>,
    recipient: Option<Recipient>,
    letter: Option<LetterLine>,
    /// The order form is shown (no active letter).
    can_order: bool,
    postal_index: String,
    errors: Errors,
    notice: Option<&'static str>,
    valid_days: i64,
    attempts: i64,
}

impl LetterPage {
    fn summary(&self) -> Vec<(&'static str, &'static str, &String)> {
        let mut list = Vec::new();
        if let Some(m) = &self.errors.postal_index {
            list.push(("field-postal_index", "Почтовый индекс", m));
        }
        if let Some(m) = &self.errors.code {
            list.push(("field-code", "Код из письма", m));
        }
        list
    }
}

async fn render(
    account_id: &str,
    state: &AppState,
    postal_index: String,
    errors: Errors,
    notice: Option<&'static str>,
) -> Result<LetterPage, AppError> {
    let now = state.clock.now();
    let account = state.identity.account(account_id).await?;
    let letter = state.identity.letter(account_id, now).await?;
    let (recipient, refusal) = match state.identity.letter_address(account_id).await {
        Ok(r) => (Some(r), None),
        Err(e) if e.is_internal() => return Err(e.into()),
        Err(e) => (None, Some(sentence(&e.to_string()))),
    };
    let active = letter
        .as_ref()
        .is_some_and(|l| matches!(l.state, LetterState::Requested | LetterState::Sent));
    Ok(LetterPage {
        chrome: Chrome { nav: "cabinet", signed_in: true },
        level_label: crate::account::level_label(&account.level),
        level: account.level,
        can_order: refusal.is_none() && !active,
        refusal,
        recipient,
        letter: letter.as_ref().map(LetterLine::new),
        postal_index,
        errors,
        notice,
        valid_days: identity::letter::VALID_DAYS,
        attempts: identity::letter::ATTEMPTS,
    })
}

#[derive(Debug, Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn page(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Query(q): Query<DoneQuery>,
) -> Result<LetterPage, AppError> {
    let notice = q.done.as_deref().map(|d| match d {
        "ordered" => "Письмо заказано. Мы сообщим, когда передадим его на почту.",
        "cancelled" => "Заказ письма отменён, код из него больше не действует.",
        "confirmed" => "Готово: учётная запись подтверждена.",
        _ => "Готово.",
    });
    render(&session.account_id, &state, String::new(), Errors::default(), notice).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OrderForm {
    postal_index: String,
}

/// The page again with a refusal (internal failures become the error page).
async fn refused(
    account_id: &str,
    state: &AppState,
    e: IdentityError,
    code_form: bool,
    postal_index: String,
) -> Result<Response, AppError> {
    if e.is_internal() {
        return Err(e.into());
    }
    let status = refusal_status(&e);
    let errors = Errors::from(&e, code_form);
    let page = render(account_id, state, postal_index, errors, None).await?;
    Ok((status, page).into_response())
}

async fn order(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(form): Form<OrderForm>,
) -> Result<Response, AppError> {
    let index = Some(form.postal_index.as_str()).filter(|i| !i.trim().is_empty());
    let now = state.clock.now();
    match state.identity.request_letter(&session.account_id, index, &origin, now).await {
        Ok(_) => Ok(Redirect::to("/cabinet/confirm/letter?done=ordered").into_response()),
        Err(e) => refused(&session.account_id, &state, e, false, form.postal_index).await,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CodeForm {
    code: String,
}

async fn enter_code(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    match state.identity.confirm_letter(&session.account_id, &form.code, &origin, now).await {
        Ok(()) => Ok(Redirect::to("/cabinet/confirm/letter?done=confirmed").into_response()),
        Err(e) => refused(&session.account_id, &state, e, true, String::new()).await,
    }
}

async fn cancel(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    match state.identity.cancel_letter(&session.account_id, &origin, state.clock.now()).await {
        Ok(()) => Ok(Redirect::to("/cabinet/confirm/letter?done=cancelled").into_response()),
        Err(e) => refused(&session.account_id, &state, e, false, String::new()).await,
    }
}

// --- the API -----------------------------------------------------------------------------

#[derive(Debug, Serialize)]
struct LetterStatus {
    /// The newest letter request, if any.
    letter: Option<LetterView>,
    /// Where a new letter would go; `null` when the account may not order one.
    recipient: Option<Recipient>,
    /// Why the account may not order a letter (`not_standard`, `already_confirmed`).
    refusal: Option<&'static str>,
    /// A new letter needs `postal_index` in the order (the address has none).
    needs_postal_index: bool,
}

/// `GET /api/v1/me/letter`.
async fn api_status(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<Json<LetterStatus>, AppError> {
    let letter = state.identity.letter(&session.account_id, state.clock.now()).await?;
    let (recipient, refusal) = match state.identity.letter_address(&session.account_id).await {
        Ok(r) => (Some(r), None),
        Err(e) if e.is_internal() => return Err(e.into()),
        Err(e) => (None, Some(e.code())),
    };
    let needs_postal_index = recipient.as_ref().is_some_and(|r| r.postal_index.is_none());
    Ok(Json(LetterStatus { letter, recipient, refusal, needs_postal_index }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OrderBody {
    postal_index: Option<String>,
}

/// `POST /api/v1/me/letter`: orders a letter (201).
async fn api_order(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(body): Json<OrderBody>,
) -> Result<Response, AppError> {
    let view = state
        .identity
        .request_letter(
            &session.account_id,
            body.postal_index.as_deref(),
            &origin,
            state.clock.now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `DELETE /api/v1/me/letter`: cancels the active letter (204).
async fn api_cancel(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
) -> Result<StatusCode, AppError> {
    state.identity.cancel_letter(&session.account_id, &origin, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConfirmBody {
    code: String,
}

/// `POST /api/v1/me/letter/confirm` with `{"code": "7KQM-2X9P"}`.
async fn api_confirm(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(body): Json<ConfirmBody>,
) -> Result<Json<serde_json::Value>, AppError> {
    let now = state.clock.now();
    state.identity.confirm_letter(&session.account_id, &body.code, &origin, now).await?;
    let account = state.identity.account(&session.account_id).await?;
    Ok(Json(serde_json::json!({ "level": account.level })))
}
