//! «Подтвердить электронной подписью»: the page with the challenge to sign, its download
//! (`challenge.txt`), the upload of the certificate and the detached signature
//! (multipart), and the same as JSON under `/api/v1/me/signature`. The checks live in
//! `identity::signature`; this module only reads requests and renders answers.

use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::Router;
use axum::extract::{Multipart, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use domain::FieldError;
use identity::IdentityError;
use identity::signature::{Challenge, SignatureError, SignedChallenge};
use serde::{Deserialize, Serialize};

use crate::account::{level_label, msk};
use crate::error::{refusal_status, sentence};
use crate::session::{Chrome, ClientOrigin, SignedIn};
use crate::{AppError, AppState};

const PAGE: &str = "/cabinet/confirm/signature";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(page).post(submit))
        .route("/cabinet/confirm/signature/challenge.txt", get(challenge_file))
        .route("/api/v1/me/signature/challenge", get(api_challenge))
        .route("/api/v1/me/signature", axum::routing::post(api_submit))
}

/// The HTTP status of a refused confirmation by signature.
pub fn status(e: &SignatureError) -> StatusCode {
    match e {
        SignatureError::NotConfigured => StatusCode::SERVICE_UNAVAILABLE,
        SignatureError::ChallengeGone => StatusCode::GONE,
        SignatureError::ChallengeExhausted => StatusCode::TOO_MANY_REQUESTS,
        SignatureError::Invalid(_) | SignatureError::Mismatch(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }
}

fn label(field: &str) -> &'static str {
    match field {
        "certificate" => "Файл сертификата",
        "signature" => "Файл подписи",
        _ => "Поле",
    }
}

/// The challenge as the page shows it.
#[derive(Debug)]
struct ChallengeView {
    id: String,
    text: String,
    expires: String,
    attempts_left: i64,
}

impl From<Challenge> for ChallengeView {
    fn from(c: Challenge) -> Self {
        Self { expires: msk(c.expires_at), id: c.id, text: c.text, attempts_left: c.attempts_left }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "signature.html")]
struct SignaturePage {
    chrome: Chrome,
    /// simplified | standard | confirmed
    level: String,
    level_label: &'static str,
    /// The server has trusted roots.
    configured: bool,
    challenge: Option<ChallengeView>,
    /// Field → message, after a refusal.
    fields: Vec<(&'static str, String)>,
    /// A refusal about the whole upload.
    general: Option<String>,
}

impl SignaturePage {
    fn error(&self, field: &str) -> Option<&String> {
        self.fields.iter().find(|(f, _)| *f == field).map(|(_, m)| m)
    }

    fn summary(&self) -> Vec<(&'static str, &'static str, &String)> {
        self.fields.iter().map(|(f, m)| (*f, label(f), m)).collect()
    }

    fn has_errors(&self) -> bool {
        self.general.is_some() || !self.fields.is_empty()
    }
}

async fn render(
    state: &AppState,
    account_id: &str,
    refusal: Option<&IdentityError>,
) -> Result<SignaturePage, AppError> {
    let account = state.identity.account(account_id).await?;
    let configured = state.qes_trust.is_some();
    let challenge = if configured && account.level == "standard" {
        Some(state.identity.signature_challenge(account_id, state.clock.now()).await?.into())
    } else {
        None
    };
    let (fields, general) = match refusal {
        Some(IdentityError::Fields(list)) => {
            (list.iter().map(|(f, e)| (*f, e.to_string())).collect(), None)
        }
        Some(other) => (Vec::new(), Some(sentence(&other.to_string()))),
        None => (Vec::new(), None),
    };
    Ok(SignaturePage {
        chrome: Chrome { nav: "cabinet", signed_in: true },
        level_label: level_label(&account.level),
        level: account.level,
        configured,
        challenge,
        fields,
        general,
    })
}

/// `GET /cabinet/confirm/signature`.
async fn page(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<SignaturePage, AppError> {
    render(&state, &session.account_id, None).await
}

fn require_roots(state: &AppState) -> Result<(), AppError> {
    match state.qes_trust {
        Some(_) => Ok(()),
        None => Err(IdentityError::from(SignatureError::NotConfigured).into()),
    }
}

/// `GET /cabinet/confirm/signature/challenge.txt`: the text to sign, as a file (its bytes
/// are exactly what must be signed).
async fn challenge_file(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    require_roots(&state)?;
    let challenge =
        state.identity.signature_challenge(&session.account_id, state.clock.now()).await?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"challenge.txt\""),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        challenge.text,
    )
        .into_response())
}

/// `POST /cabinet/confirm/signature` (multipart): `challenge_id`, `certificate` (may be
/// empty when the signature embeds it), `signature`.
async fn submit(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    let mut challenge_id = String::new();
    let mut certificate = Vec::new();
    let mut signature = Vec::new();
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::Refused {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "too_large",
                message: "Файлы слишком большие: сертификат и подпись — не больше 64 КБ каждый"
                    .into(),
                fields: Vec::new(),
            }
        } else {
            AppError::BadRequest {
                code: "multipart",
                message: "Не удалось прочитать загруженные файлы, отправьте форму ещё раз".into(),
            }
        }
    };
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("challenge_id") => challenge_id = field.text().await.map_err(unreadable)?,
            Some("certificate") => certificate = field.bytes().await.map_err(unreadable)?.to_vec(),
            Some("signature") => signature = field.bytes().await.map_err(unreadable)?.to_vec(),
            _ => {}
        }
    }
    let signed = SignedChallenge {
        challenge_id: challenge_id.trim(),
        certificate: (!certificate.is_empty()).then_some(certificate.as_slice()),
        signature: &signature,
    };
    let result = state
        .identity
        .confirm_by_signature(
            state.qes_trust.as_ref(),
            &session.account_id,
            signed,
            &origin,
            state.clock.now(),
        )
        .await;
    match result {
        Ok(_) => Ok(Redirect::to(PAGE).into_response()),
        Err(e) if e.is_internal() => Err(e.into()),
        Err(e) => {
            let status = refusal_status(&e);
            let page = render(&state, &session.account_id, Some(&e)).await?;
            Ok((status, page).into_response())
        }
    }
}

#[derive(Debug, Serialize)]
struct ChallengeBody {
    id: String,
    text: String,
    expires_at: DateTime<Utc>,
    attempts_left: i64,
}

/// `GET /api/v1/me/signature/challenge`: the text to sign (the live challenge or a new one).
async fn api_challenge(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<Json<ChallengeBody>, AppError> {
    require_roots(&state)?;
    let c = state.identity.signature_challenge(&session.account_id, state.clock.now()).await?;
    Ok(Json(ChallengeBody {
        id: c.id,
        text: c.text,
        expires_at: c.expires_at,
        attempts_left: c.attempts_left,
    }))
}

#[derive(Debug, Deserialize)]
struct SubmitBody {
    challenge_id: String,
    /// Base64 of the certificate file (DER or PEM); optional.
    #[serde(default)]
    certificate: Option<String>,
    /// Base64 of the signature file (DER, or PEM).
    signature: String,
}

#[derive(Debug, Serialize)]
struct ConfirmedBody {
    level: &'static str,
    algorithm: &'static str,
    issuer: String,
    serial: String,
}

/// Base64 (standard alphabet, whitespace ignored) of a file field.
fn decode(field: &'static str, text: &str) -> Result<Vec<u8>, (&'static str, FieldError)> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| (field, FieldError::Format { expected: "base64" }))
}

/// `POST /api/v1/me/signature`: confirms the account with the signed challenge.
async fn api_submit(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(b): Json<SubmitBody>,
) -> Result<Json<ConfirmedBody>, AppError> {
    let certificate = b.certificate.as_deref().filter(|c| !c.trim().is_empty());
    let (certificate, signature) = match (
        certificate.map(|c| decode("certificate", c)).transpose(),
        decode("signature", &b.signature),
    ) {
        (Ok(c), Ok(s)) => (c, s),
        (c, s) => {
            let fields = [s.err(), c.err()].into_iter().flatten().collect();
            return Err(IdentityError::Fields(fields).into());
        }
    };
    let signed = SignedChallenge {
        challenge_id: b.challenge_id.trim(),
        certificate: certificate.as_deref(),
        signature: &signature,
    };
    let done = state
        .identity
        .confirm_by_signature(
            state.qes_trust.as_ref(),
            &session.account_id,
            signed,
            &origin,
            state.clock.now(),
        )
        .await?;
    Ok(Json(ConfirmedBody {
        level: "confirmed",
        algorithm: done.algorithm,
        issuer: done.issuer,
        serial: done.serial,
    }))
}
