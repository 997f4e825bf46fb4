//! Development tools: the dev outbox, where messages of the dev sink can be read.
//! Served only in dev mode without a public URL; otherwise these paths do not exist.

use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::ident::{Email, Phone};
use notify::{Channel, Message};
use serde::Deserialize;

use crate::session::{Chrome, Viewer};
use crate::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dev/outbox", get(outbox_page))
        .route("/dev/outbox/{id}/attachment", get(attachment))
        .route("/api/v1/dev/outbox", get(outbox_json))
}

#[derive(Debug, Deserialize)]
struct Filter {
    /// A phone number or an e-mail address, in any form the parsers accept.
    to: Option<String>,
}

/// How many messages the dev outbox shows.
const LIMIT: i64 = 100;

async fn messages(state: &AppState, filter: &Filter) -> Result<Vec<Message>, AppError> {
    if !state.dev_outbox {
        return Err(AppError::NotFound);
    }
    let to = filter.to.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let recipient = match to {
        None => None,
        Some(to) => Some(match (Phone::parse(to), Email::parse(to)) {
            (Ok(phone), _) => (Channel::Sms, phone.to_string()),
            (_, Ok(email)) => (Channel::Email, email.to_string()),
            _ => {
                return Err(AppError::BadRequest {
                    code: "to",
                    message: "to: ожидается номер телефона или адрес электронной почты".into(),
                });
            }
        }),
    };
    let recipient = recipient.as_ref().map(|(c, r)| (*c, r.as_str()));
    state.outbox.latest(recipient, LIMIT).await.map_err(|e| AppError::Internal(e.to_string()))
}

#[derive(Template, WebTemplate)]
#[template(path = "dev_outbox.html")]
struct OutboxPage {
    chrome: Chrome,
    to: String,
    messages: Vec<MessageView>,
}

struct MessageView {
    at: String,
    channel: &'static str,
    m: Message,
}

async fn outbox_page(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> Result<OutboxPage, AppError> {
    let messages = messages(&state, &filter).await?;
    Ok(OutboxPage {
        chrome: viewer.chrome(""),
        to: filter.to.unwrap_or_default(),
        messages: messages
            .into_iter()
            .map(|m| MessageView {
                at: m
                    .created_at
                    .with_timezone(&domain::clock::moscow())
                    .format("%d.%m.%Y %H:%M:%S")
                    .to_string(),
                channel: match m.channel {
                    Channel::Sms => "СМС",
                    Channel::Email => "Эл. почта",
                },
                m,
            })
            .collect(),
    })
}

async fn outbox_json(
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> Result<Json<Vec<Message>>, AppError> {
    Ok(Json(messages(&state, &filter).await?))
}

/// The file a dev-sink e-mail carries, as the recipient would open it.
async fn attachment(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    if !state.dev_outbox {
        return Err(AppError::NotFound);
    }
    let file = state
        .outbox
        .attachment(&id)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .ok_or(AppError::NotFound)?;
    let disposition = format!("attachment; filename=\"{}\"", file.name.replace(['"', '\\'], "_"));
    Ok((
        [(header::CONTENT_TYPE, file.content_type), (header::CONTENT_DISPOSITION, disposition)],
        file.bytes,
    )
        .into_response())
}
