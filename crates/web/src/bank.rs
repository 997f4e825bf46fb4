//! «Через банк»: the person picks a trusted bank, signs in there (OpenID Connect), and
//! comes back to the callback, which confirms the account when the bank's verified data
//! matches the documents — or says which data differ. The API starts the same flow for
//! apps: it answers with the bank's URL, and the browser that follows it finishes here.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use identity::IdentityError;
use identity::bank::{BankOutcome, BankView, Callback, Requester, Starter};

use crate::error::{refusal_status, sentence};
use crate::session::{Chrome, ClientOrigin, SignedIn, Viewer};
use crate::{AppError, AppState};

/// Where banks send the browser back; registered at every bank as the redirect URI.
pub const CALLBACK_PATH: &str = "/cabinet/confirm/bank/callback";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cabinet/confirm/bank", get(choose))
        .route(CALLBACK_PATH, get(callback))
        .route("/cabinet/confirm/bank/{bank}", post(start))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/me/bank-confirmation/banks", get(api_banks))
        .route("/me/bank-confirmation/{bank}", post(api_start))
}

#[derive(Template, WebTemplate)]
#[template(path = "bank.html")]
struct ChoosePage {
    chrome: Chrome,
    /// simplified | standard | confirmed
    level: String,
    level_label: &'static str,
    banks: Vec<BankView>,
    error: Option<String>,
}

async fn choose_page(
    session_account: &str,
    state: &AppState,
    error: Option<String>,
) -> Result<ChoosePage, AppError> {
    let account = state.identity.account(session_account).await?;
    Ok(ChoosePage {
        chrome: Chrome { nav: "cabinet", signed_in: true },
        level_label: crate::account::level_label(&account.level),
        level: account.level,
        banks: state.banks.list(),
        error,
    })
}

/// The page's Content Security Policy: ours, with the banks' sign-in pages allowed as
/// form targets (a form's redirect chain is checked against `form-action` too).
async fn csp(state: &AppState) -> Result<HeaderValue, AppError> {
    let origins = state.banks.form_origins(state.clock.now()).await.join(" ");
    let policy =
        crate::layers::CSP.replace("form-action 'self'", &format!("form-action 'self' {origins}"));
    HeaderValue::from_str(&policy).map_err(|e| AppError::Internal(e.to_string()))
}

/// `GET /cabinet/confirm/bank`: the list of trusted banks.
async fn choose(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    let page = choose_page(&session.account_id, &state, None).await?;
    Ok(([(header::CONTENT_SECURITY_POLICY, csp(&state).await?)], page).into_response())
}

/// `POST /cabinet/confirm/bank/{bank}`: off to the bank.
async fn start(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(bank): Path<String>,
) -> Result<Response, AppError> {
    let started = state
        .identity
        .start_bank_confirmation(
            &state.banks,
            Requester {
                account_id: &session.account_id,
                session_id: &session.id,
                starter: Starter::Web,
            },
            &bank,
            &origin,
            state.clock.now(),
        )
        .await;
    match started {
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(e) if !e.is_internal() => {
            let status = refusal_status(&e);
            let page = choose_page(&session.account_id, &state, Some(sentence(&e.to_string())));
            let policy = [(header::CONTENT_SECURITY_POLICY, csp(&state).await?)];
            Ok((status, policy, page.await?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "bank_result.html")]
struct ResultPage {
    chrome: Chrome,
    /// confirmed | mismatch | error
    result: &'static str,
    bank: String,
    differences: Vec<&'static str>,
    message: String,
}

/// `GET /cabinet/confirm/bank/callback`: the bank sent the browser back.
async fn callback(
    Viewer(session): Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Query(callback): Query<Callback>,
) -> Result<Response, AppError> {
    let chrome = Chrome { nav: "cabinet", signed_in: session.is_some() };
    let finished = state
        .identity
        .finish_bank_confirmation(
            &state.banks,
            session.as_ref().map(|s| s.id.as_str()),
            &callback,
            &origin,
            state.clock.now(),
        )
        .await;
    let page = |result, bank, differences, message| ResultPage {
        chrome,
        result,
        bank,
        differences,
        message,
    };
    Ok(match finished {
        Ok(BankOutcome::Confirmed { bank }) => {
            page("confirmed", bank, Vec::new(), String::new()).into_response()
        }
        Ok(BankOutcome::Mismatch { bank, differences }) => {
            (StatusCode::CONFLICT, page("mismatch", bank, differences, String::new()))
                .into_response()
        }
        Err(e) if !e.is_internal() => {
            let status = refusal_status(&e);
            let message = sentence(&e.to_string());
            (status, page("error", String::new(), Vec::new(), message)).into_response()
        }
        Err(e) => return Err(e.into()),
    })
}

/// `GET /api/v1/me/bank-confirmation/banks`.
async fn api_banks(
    SignedIn(_): SignedIn,
    State(state): State<AppState>,
) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "banks": state.banks.list() }))
}

/// `POST /api/v1/me/bank-confirmation/{bank}`: the URL the person's browser must open.
async fn api_start(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(bank): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let url = state
        .identity
        .start_bank_confirmation(
            &state.banks,
            Requester {
                account_id: &session.account_id,
                session_id: &session.id,
                starter: Starter::Api,
            },
            &bank,
            &origin,
            state.clock.now(),
        )
        .await
        .map_err(|e: IdentityError| AppError::from(e))?;
    Ok(Json(serde_json::json!({ "authorize_url": url })))
}
