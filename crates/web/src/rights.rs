//! Personal-data rights and the last-resort recovery: «Мои данные» (JSON and PDF, with
//! the journal of accesses), blocking and closing the account, and recovery by passport
//! data with a temporary password shown once.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use identity::IdentityError;
use identity::rights::{DataExport, PassportRecoveryForm};

use crate::AppState;
use crate::account::{FormErrors, Values, refusal, see_other, value};
use crate::error::AppError;
use crate::session::{Chrome, ClientOrigin, SignedIn, Viewer, clear_cookie};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/recovery/passport", get(passport_form).post(passport_submit))
        .route("/cabinet/data", get(data_page))
        .route("/cabinet/data/export.json", get(export_json))
        .route("/cabinet/data/export.pdf", get(export_pdf))
        .route("/cabinet/block", post(block_submit))
        .route("/cabinet/close", post(close_submit))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/recoveries/passport", post(api_passport))
        .route("/me/export", get(export_json))
        .route("/me/export.pdf", get(export_pdf))
        .route("/me/block", post(api_block))
        .route("/me/close", post(api_close))
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

// --- recovery by passport ----------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "recovery_passport.html")]
struct PassportPage {
    chrome: Chrome,
    form: PassportRecoveryForm,
    errors: FormErrors,
    /// The temporary password, shown this once.
    password: Option<String>,
}

impl PassportPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

async fn passport_form(viewer: Viewer) -> PassportPage {
    PassportPage {
        chrome: viewer.chrome("login"),
        form: PassportRecoveryForm::default(),
        errors: FormErrors::default(),
        password: None,
    }
}

async fn passport_submit(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(form): Form<PassportRecoveryForm>,
) -> Result<Response, AppError> {
    match state.identity.recover_by_passport(&form, &origin, state.clock.now()).await {
        Ok(password) => {
            let page = PassportPage {
                chrome: viewer.chrome("login"),
                form: PassportRecoveryForm::default(),
                errors: FormErrors::default(),
                password: Some(password),
            };
            Ok(no_store(page.into_response()))
        }
        Err(e) => {
            let status = crate::error::refusal_status(&e);
            let errors = refusal(e)?;
            let page =
                PassportPage { chrome: viewer.chrome("login"), form, errors, password: None };
            Ok((status, page).into_response())
        }
    }
}

async fn api_passport(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(form): Json<PassportRecoveryForm>,
) -> Result<Response, AppError> {
    let password = state.identity.recover_by_passport(&form, &origin, state.clock.now()).await?;
    let body = Json(serde_json::json!({
        "temporary_password": password,
        "must_change": true,
    }));
    Ok(no_store((StatusCode::CREATED, body).into_response()))
}

// --- «Мои данные», block, close ----------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "my_data.html")]
struct DataPage {
    chrome: Chrome,
    error: Option<String>,
    grace_days: i64,
}

async fn data_page(SignedIn(_): SignedIn) -> DataPage {
    DataPage {
        chrome: Chrome { nav: "cabinet", signed_in: true },
        error: None,
        grace_days: identity::rights::CLOSING_GRACE_DAYS,
    }
}

pub(crate) fn attachment(content_type: &'static str, name: &str, body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    no_store(response)
}

fn file_name(export: &DataExport, ext: &str) -> String {
    format!("uslugi-my-data-{}.{ext}", export.generated_at.format("%Y-%m-%d"))
}

/// `GET /cabinet/data/export.json` and `GET /api/v1/me/export`.
async fn export_json(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    let export =
        state.identity.export_data(&session.account_id, &origin, state.clock.now()).await?;
    let body = serde_json::to_vec_pretty(&export.to_json())
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(attachment("application/json", &file_name(&export, "json"), body))
}

/// `GET /cabinet/data/export.pdf` and `GET /api/v1/me/export.pdf`.
async fn export_pdf(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    let export =
        state.identity.export_data(&session.account_id, &origin, state.clock.now()).await?;
    let report = printing::Report {
        title: "Мои данные на портале «Услуги»".into(),
        generated_at: export
            .generated_at
            .with_timezone(&domain::clock::moscow())
            .format("%d.%m.%Y %H:%M (МСК)")
            .to_string(),
        subject_line: export.full_name.clone(),
        sections: export
            .sections
            .iter()
            .map(|s| printing::Section {
                title: s.title.into(),
                rows: s.rows.iter().map(|(_, label, v)| ((*label).into(), v.clone())).collect(),
                table: s.table.as_ref().map(|t| printing::Table {
                    columns: t.columns.iter().map(|(_, label)| (*label).into()).collect(),
                    rows: t.rows.clone(),
                }),
            })
            .collect(),
        letterhead: None,
        qr: None,
    };
    // Rendering is CPU work of tens of milliseconds for a long journal.
    let pdf = tokio::task::spawn_blocking(move || printing::personal_data_report(&report))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(attachment("application/pdf", &file_name(&export, "pdf"), pdf))
}

async fn data_refused(e: IdentityError) -> Result<Response, AppError> {
    let status = crate::error::refusal_status(&e);
    let errors = refusal(e)?;
    let page = DataPage {
        chrome: Chrome { nav: "cabinet", signed_in: true },
        error: errors.general,
        grace_days: identity::rights::CLOSING_GRACE_DAYS,
    };
    Ok((status, page).into_response())
}

fn signed_out(to: &str, state: &AppState) -> Response {
    let mut response = see_other(to);
    response.headers_mut().insert(header::SET_COOKIE, clear_cookie(state));
    response
}

async fn block_submit(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let password = value(&values, "password");
    match state
        .identity
        .block_account(&session.account_id, &password, &origin, state.clock.now())
        .await
    {
        Ok(()) => Ok(signed_out("/login?blocked=1", &state)),
        Err(e) => data_refused(e).await,
    }
}

async fn close_submit(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    if value(&values, "confirm") != "on" {
        return data_refused(IdentityError::Fields(vec![(
            "confirm",
            domain::FieldError::Invalid {
                reason: "отметьте, что понимаете: данные будут удалены"
            },
        )]))
        .await;
    }
    let password = value(&values, "password");
    match state
        .identity
        .close_account(&session.account_id, &password, &origin, state.clock.now())
        .await
    {
        Ok(_) => Ok(signed_out("/login?closing=1", &state)),
        Err(e) => data_refused(e).await,
    }
}

#[derive(Debug, serde::Deserialize)]
struct PasswordBody {
    password: String,
}

async fn api_block(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(b): Json<PasswordBody>,
) -> Result<StatusCode, AppError> {
    state
        .identity
        .block_account(&session.account_id, &b.password, &origin, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn api_close(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(b): Json<PasswordBody>,
) -> Result<Json<serde_json::Value>, AppError> {
    let on = state
        .identity
        .close_account(&session.account_id, &b.password, &origin, state.clock.now())
        .await?;
    Ok(Json(serde_json::json!({ "erase_on": on })))
}
