//! Files attached to applications: upload (multipart from the form, the raw body through
//! the API), list, download, delete; refusals say in Russian what is wrong with the file.
//! These routes accept bodies up to the upload limit; every other route keeps 1 MiB.

use axum::body::{Body, HttpBody as _};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use services::applications::{Actor, ApplicationError, FileInfo};
use store::vault::BlobBuffer;

use crate::AppState;
use crate::account::see_other;
use crate::application_pages::refused_file as refused;
use crate::error::AppError;
use crate::session::SignedIn;
use crate::staff::StaffSignedIn;

/// How much of an upload is read: twice the file limit, so that a file somewhat too
/// large is refused by name and size rather than as a bare «too large» request.
pub(crate) fn body_limit(upload_limit_mb: u32) -> usize {
    upload_limit_mb as usize * 2 * 1024 * 1024 + 256 * 1024
}

/// Routes whose bodies are files, with their own body limit. A body announced or sent
/// past it is refused with the file limit named («Файл больше 5 МБ»), on the page as in
/// the API.
pub fn upload_routes(upload_limit_mb: u32) -> Router<AppState> {
    let limit = body_limit(upload_limit_mb);
    Router::new()
        .route("/cabinet/applications/{id}/files", post(upload_page))
        .route("/api/v1/me/applications/{id}/files", post(upload_api).get(list_api))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(limit))
        .layer(axum::middleware::map_response(move |response: Response| async move {
            let bare = response.status() == StatusCode::PAYLOAD_TOO_LARGE
                && response.extensions().get::<crate::error::ErrorInfo>().is_none();
            if bare { too_large(upload_limit_mb).into_response() } else { response }
        }))
}

/// A body past the upload routes' limit.
fn too_large(upload_limit_mb: u32) -> AppError {
    AppError::Refused {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "too_large",
        message: format!("Файл больше {upload_limit_mb} МБ"),
        fields: Vec::new(),
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cabinet/applications/{id}/files/{file}", get(download))
        .route("/cabinet/applications/{id}/files/{file}/delete", post(delete_page))
        .route("/staff/applications/{id}/files/{file}", get(download_staff))
        .route("/api/v1/me/applications/{id}/files/{file}", get(download).delete(delete_api))
}

fn json(f: &FileInfo) -> serde_json::Value {
    serde_json::json!({
        "id": f.id, "rule": f.rule, "name": f.name, "content_type": f.content_type, "size": f.size,
    })
}

/// The form's upload: `rule` and `file`; back to the form, with the refusal if any.
async fn upload_page(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    let limit = state.applications.upload_limit_mb();
    let expected = announced_length(&headers, limit);
    let unreadable =
        || format!("Файл: не удалось загрузить — он больше {limit} МБ или загрузка прервалась");
    let mut rule = String::new();
    let mut file = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(mut field)) => match field.name() {
                Some("rule") => rule = field.text().await.unwrap_or_default(),
                Some("file") => {
                    let name = field.file_name().unwrap_or("файл").to_owned();
                    // The whole form's length is a close upper bound of the file's.
                    let mut bytes = BlobBuffer::with_capacity(expected.unwrap_or(0));
                    loop {
                        match field.chunk().await {
                            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                            Ok(None) => break,
                            Err(_) => {
                                return refused(&state, &session.account_id, &id, unreadable())
                                    .await;
                            }
                        }
                    }
                    file = Some((name, bytes));
                }
                _ => {}
            },
            Ok(None) => break,
            Err(_) => return refused(&state, &session.account_id, &id, unreadable()).await,
        }
    }
    let Some((name, bytes)) = file.filter(|(_, b)| !b.plaintext().is_empty()) else {
        return refused(
            &state,
            &session.account_id,
            &id,
            "Файл: выберите файл для загрузки".into(),
        )
        .await;
    };
    let now = state.clock.now();
    match state.applications.attach(&session.account_id, &id, &rule, &name, bytes, now).await {
        Ok(_) => Ok(back(&id)),
        Err(ApplicationError::Refused(message)) => {
            refused(&state, &session.account_id, &id, message).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Back to the application's page after a change of its files.
fn back(id: &str) -> Response {
    see_other(&format!("/cabinet/applications/{id}/edit?done=file"))
}

#[derive(Debug, Default, Deserialize)]
struct UploadQuery {
    #[serde(default)]
    rule: String,
    #[serde(default)]
    name: String,
}

/// The body's length as the client announced it, when within the upload routes' limit
/// (a longer one is refused by the limit before anything is read).
fn announced_length(headers: &axum::http::HeaderMap, upload_limit_mb: u32) -> Option<usize> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .filter(|&n| n <= body_limit(upload_limit_mb))
}

/// The body, read straight into the buffer it is sealed in (sized by `Content-Length`
/// when the client sent one); `None` when it broke off or ran past the body limit.
async fn read_upload(mut body: Body, expected: Option<usize>) -> Option<BlobBuffer> {
    let mut buffer = BlobBuffer::with_capacity(expected.unwrap_or(0));
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        if let Ok(data) = frame.ok()?.into_data() {
            buffer.extend_from_slice(&data);
        }
    }
    Some(buffer)
}

/// The API's upload: the file is the body; `rule` and `name` in the query.
async fn upload_api(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<UploadQuery>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let limit = state.applications.upload_limit_mb();
    let expected = announced_length(&headers, limit);
    let body = read_upload(body, expected).await.ok_or_else(|| too_large(limit))?;
    let name = if q.name.trim().is_empty() { "файл" } else { q.name.as_str() };
    let now = state.clock.now();
    let f = state.applications.attach(&session.account_id, &id, &q.rule, name, body, now).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "file": json(&f) }))))
}

async fn list_api(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let files = state.applications.files(&Actor::applicant(&session.account_id), &id).await?;
    Ok(Json(serde_json::json!({ "files": files.iter().map(json).collect::<Vec<_>>() })))
}

fn file_response(name: &str, content_type: &str, bytes: Vec<u8>) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = axum::http::HeaderValue::from_str(content_type) {
        headers.insert(axum::http::header::CONTENT_TYPE, v);
    }
    // RFC 6266 with the UTF-8 name: Cyrillic file names survive.
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    if let Ok(v) =
        axum::http::HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{encoded}"))
    {
        headers.insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    response
}

async fn download(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (name, content_type, bytes) =
        state.applications.file(&Actor::applicant(&session.account_id), &id, &file).await?;
    Ok(file_response(&name, &content_type, bytes))
}

async fn download_staff(
    staff: StaffSignedIn,
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let actor = crate::back_office::actor_of(&state, &staff.0)?;
    let (name, content_type, bytes) = state.applications.file(&actor, &id, &file).await?;
    Ok(file_response(&name, &content_type, bytes))
}

async fn delete_page(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, AppError> {
    match state.applications.detach(&session.account_id, &id, &file).await {
        Ok(()) => Ok(back(&id)),
        Err(ApplicationError::Refused(message)) => {
            refused(&state, &session.account_id, &id, message).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn delete_api(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    state.applications.detach(&session.account_id, &id, &file).await?;
    Ok(StatusCode::NO_CONTENT)
}
