//! The one place where errors become HTTP responses.
//!
//! A handler returns [`AppError`]; its response carries an [`ErrorInfo`] and no body.
//! The outer `render_errors` layer then writes the body as JSON under `/api` and
//! `/healthz`-style endpoints, and as a Russian HTML page everywhere else. The same layer
//! gives the framework's own bare errors (405, 413, timeouts, rejected extractors) our
//! format, so a person never sees an English text or an empty page.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error a handler gives up with. Internal details go to the log, never to the client.
#[derive(Debug)]
pub enum AppError {
    /// No such page or resource.
    NotFound,
    /// A named thing is not there: `code` for programs, `message` in Russian.
    Missing { code: &'static str, message: String },
    /// The request itself is wrong: `code` for programs, `message` in Russian for people.
    BadRequest { code: &'static str, message: String },
    /// The request needs a signed-in person.
    Unauthorized,
    /// The session was opened with a temporary password, which must be changed first.
    PasswordChangeRequired,
    /// A flow refused the request for a reason the person can act on.
    Refused { status: StatusCode, code: &'static str, message: String, fields: Vec<FieldProblem> },
    /// A dependency (the database) is unreachable; try again later.
    Unavailable(String),
    /// A bug or an unexpected failure.
    Internal(String),
}

impl From<store::StoreError> for AppError {
    fn from(e: store::StoreError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(e.to_string())
        } else {
            Self::Internal(e.to_string())
        }
    }
}

/// One wrong form field, for API clients to put the message beside the field.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub code: String,
    pub message: String,
}

/// What the rendering layer needs to write an error body.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorInfo {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldProblem>,
    /// What went wrong inside, for the log only; never serialized to the client.
    #[serde(skip)]
    pub detail: Option<String>,
}

impl ErrorInfo {
    fn for_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("not_found", "Страница не найдена"),
            StatusCode::FORBIDDEN => ("forbidden", "Доступ запрещён"),
            StatusCode::METHOD_NOT_ALLOWED => {
                ("method_not_allowed", "Такой запрос к этому адресу не поддерживается")
            }
            StatusCode::PAYLOAD_TOO_LARGE => ("too_large", "Слишком большой запрос"),
            StatusCode::REQUEST_TIMEOUT => {
                ("timeout", "Запрос выполнялся слишком долго, попробуйте ещё раз")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported_media_type", "Неподдерживаемый формат запроса")
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                ("unavailable", "Сервис временно недоступен, попробуйте позже")
            }
            s if s.is_server_error() => {
                ("internal", "Внутренняя ошибка сервиса. Мы уже разбираемся")
            }
            _ => ("bad_request", "Неверный запрос"),
        };
        Self { code, message: message.to_owned(), fields: Vec::new(), detail: None }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, info) = match self {
            Self::NotFound => (StatusCode::NOT_FOUND, ErrorInfo::for_status(StatusCode::NOT_FOUND)),
            Self::Missing { code, message } => (
                StatusCode::NOT_FOUND,
                ErrorInfo { code, message, fields: Vec::new(), detail: None },
            ),
            Self::BadRequest { code, message } => (
                StatusCode::BAD_REQUEST,
                ErrorInfo { code, message, fields: Vec::new(), detail: None },
            ),
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                ErrorInfo {
                    code: "unauthorized",
                    message: "Войдите на портал".into(),
                    fields: Vec::new(),
                    detail: None,
                },
            ),
            Self::PasswordChangeRequired => (
                StatusCode::FORBIDDEN,
                ErrorInfo {
                    code: "password_change_required",
                    message: "Вход выполнен по временному паролю. Сначала задайте новый пароль"
                        .into(),
                    fields: Vec::new(),
                    detail: None,
                },
            ),
            Self::Refused { status, code, message, fields } => {
                (status, ErrorInfo { code, message, fields, detail: None })
            }
            Self::Unavailable(detail) => {
                let status = StatusCode::SERVICE_UNAVAILABLE;
                (status, ErrorInfo { detail: Some(detail), ..ErrorInfo::for_status(status) })
            }
            Self::Internal(detail) => {
                let status = StatusCode::INTERNAL_SERVER_ERROR;
                (status, ErrorInfo { detail: Some(detail), ..ErrorInfo::for_status(status) })
            }
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(info);
        response
    }
}

impl From<identity::IdentityError> for AppError {
    fn from(e: identity::IdentityError) -> Self {
        use identity::IdentityError as E;
        if e.is_internal() {
            return match e {
                E::Store(store) => store.into(),
                other => Self::Internal(other.to_string()),
            };
        }
        let status = refusal_status(&e);
        let fields = match &e {
            E::Fields(list) => list
                .iter()
                .map(|(field, err)| FieldProblem {
                    field: (*field).to_owned(),
                    code: err.code().to_owned(),
                    message: err.to_string(),
                })
                .collect(),
            _ => Vec::new(),
        };
        Self::Refused { status, code: e.code(), message: sentence(&e.to_string()), fields }
    }
}

/// The HTTP status of an identity flow's answer.
pub fn refusal_status(e: &identity::IdentityError) -> StatusCode {
    use identity::IdentityError as E;
    match e {
        E::Fields(_)
        | E::CodeWrong { .. }
        | E::CodeExhausted
        | E::WeakPassword(_)
        | E::PasswordMismatch
        | E::WrongCurrentPassword
        | E::AddressUnprintable
        | E::ActivationWrong { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        E::CaptchaRequired => StatusCode::PRECONDITION_REQUIRED,
        E::CaptchaWrong | E::SecondFactorGone | E::FactorUnavailable => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        E::AccountBlocked | E::AccountClosing { .. } => StatusCode::FORBIDDEN,
        E::PassportMismatch => StatusCode::UNPROCESSABLE_ENTITY,
        E::WrongRole { .. } | E::StaffBlocked => StatusCode::FORBIDDEN,
        E::StaffNotFound | E::PersonNotFound => StatusCode::NOT_FOUND,
        E::NotStandardYet => StatusCode::CONFLICT,
        E::ActivationGone => StatusCode::GONE,
        E::ContactTaken { .. } | E::NotConfirmed | E::NotStandard | E::AlreadyConfirmed => {
            StatusCode::CONFLICT
        }
        E::LetterActive | E::LetterNone | E::LetterNotSent => StatusCode::CONFLICT,
        E::ContactBlocked { .. }
        | E::ResendTooSoon { .. }
        | E::TooManyAttempts { .. }
        | E::TooManyCodes { .. }
        | E::TooManyLetters => StatusCode::TOO_MANY_REQUESTS,
        E::CodeExpired | E::LetterExpired | E::LetterExhausted => StatusCode::GONE,
        E::RegistrationGone | E::FlowGone => StatusCode::NOT_FOUND,
        E::BadCredentials => StatusCode::UNAUTHORIZED,
        E::BankUnknown => StatusCode::NOT_FOUND,
        E::BankUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        E::BankFailed { .. } => StatusCode::BAD_GATEWAY,
        E::BankDenied { .. } => StatusCode::FORBIDDEN,
        E::BankFlowGone => StatusCode::BAD_REQUEST,
        E::Locked { .. } => StatusCode::LOCKED,
        E::Signature(s) => crate::signature::status(s),
        E::Internal(_) | E::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A message as a sentence: capital first letter.
pub fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// The fallback for unknown paths.
pub async fn not_found() -> AppError {
    AppError::NotFound
}

#[derive(Serialize)]
struct JsonError<'a> {
    error: &'a ErrorInfo,
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: crate::session::Chrome,
    status: u16,
    info: &'a ErrorInfo,
    request_id: &'a str,
}

fn wants_json(path: &str) -> bool {
    path.starts_with("/api/") || matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Writes the body of every error response (see the module docs), and logs server
/// errors with their request id and route (never the URI: it may hold personal data).
pub async fn render_errors(request: Request, next: Next) -> Response {
    let json = wants_json(request.uri().path());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let info = match response.extensions().get::<ErrorInfo>() {
        Some(info) => info.clone(),
        None => {
            // Bodies written on purpose (a form shown again with its errors, the
            // validation API's 404) have their own content type; leave them alone.
            let ours = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| !ct.starts_with("text/plain"));
            if ours {
                return response;
            }
            ErrorInfo::for_status(status)
        }
    };
    if status.is_server_error() {
        let detail = info.detail.as_deref().unwrap_or_default();
        tracing::error!(status = status.as_u16(), %route, request_id, detail, "request failed");
    }
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = if json {
        parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Body::from(serde_json::to_vec(&JsonError { error: &info }).unwrap_or_default())
    } else {
        let page = ErrorPage {
            chrome: crate::session::Chrome::default(),
            status: status.as_u16(),
            info: &info,
            request_id: &request_id,
        };
        match page.render() {
            Ok(html) => {
                parts.headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                Body::from(html)
            }
            Err(e) => {
                tracing::error!(error = %e, "error page failed to render");
                parts.headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                Body::from(info.message.clone())
            }
        }
    };
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_its_status_and_russian_text() {
        let cases = [
            (AppError::NotFound, 404, "not_found"),
            (AppError::BadRequest { code: "x", message: "плохо".into() }, 400, "x"),
            (AppError::Unavailable("db down".into()), 503, "unavailable"),
            (AppError::Internal("secret detail".into()), 500, "internal"),
        ];
        for (error, status, code) in cases {
            let response = error.into_response();
            assert_eq!(response.status().as_u16(), status);
            let info = response.extensions().get::<ErrorInfo>().unwrap();
            assert_eq!(info.code, code);
            assert!(!info.message.contains("secret"), "internal details must not leak");
            let json = serde_json::to_string(info).unwrap();
            assert!(!json.contains("secret") && !json.contains("db down"), "{json}");
            assert!(info.message.chars().any(|c| matches!(c, 'а'..='я')), "Russian text");
        }
    }
}
