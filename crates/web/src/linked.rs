//! «Привязанные сервисы» (seed 002 «Привязка и отвязка учетных записей»): the services the
//! person signed in to through the portal, with the attributes given and the last use;
//! «Отвязать» (password required) revokes the consent and every token.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use journal::{ActorKind, Event, Origin, Outcome};
use oidc::flow::LinkedService;

use crate::AppState;
use crate::account::{Values, msk, refusal, see_other, value};
use crate::error::AppError;
use crate::session::{Chrome, ClientOrigin, SignedIn};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cabinet/services", get(page))
        .route("/cabinet/services/{client}/unlink", post(unlink_submit))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/me/services", get(api_list))
        .route("/me/services/{client}/unlink", post(api_unlink))
}

/// Records an event of the provider about a person, in its own transaction.
pub(crate) async fn record(
    state: &AppState,
    action: &str,
    account_id: &str,
    origin: &Origin,
    details: serde_json::Value,
) -> Result<(), AppError> {
    let mut tx = state.db.begin().await?;
    let event = Event {
        at: state.clock.now(),
        actor: ActorKind::Citizen,
        actor_id: Some(account_id),
        subject_id: Some(account_id),
        action,
        outcome: Outcome::Ok,
        origin,
        details,
    };
    journal::record(&mut tx, &event).await.map_err(|e| AppError::Internal(e.to_string()))?;
    tx.commit().await.map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(())
}

struct Line {
    s: LinkedService,
    granted: String,
    used: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "services.html")]
struct ServicesPage {
    chrome: Chrome,
    lines: Vec<Line>,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn render(
    state: &AppState,
    account_id: &str,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Result<ServicesPage, AppError> {
    let lines = state
        .oidc
        .linked_services(account_id)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .into_iter()
        .map(|s| Line { granted: msk(s.granted_at), used: msk(s.last_used_at), s })
        .collect();
    Ok(ServicesPage { chrome: Chrome { nav: "cabinet", signed_in: true }, lines, notice, error })
}

async fn page(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Query(q): Query<DoneQuery>,
) -> Result<ServicesPage, AppError> {
    let notice = q.done.map(|_| "Сервис отвязан: доступ к данным прекращён, при следующем входе он снова спросит согласие.");
    render(&state, &session.account_id, notice, None).await
}

async fn unlink(
    state: &AppState,
    account_id: &str,
    client: &str,
    password: &str,
    origin: &Origin,
) -> Result<(), identity::IdentityError> {
    let now = state.clock.now();
    state.identity.reauthenticate(account_id, password, "oidc.unlink_failed", origin, now).await?;
    state
        .oidc
        .unlink(account_id, client, now)
        .await
        .map_err(|e| identity::IdentityError::Internal(e.to_string()))?;
    Ok(())
}

async fn unlink_submit(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(client): Path<String>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    match unlink(&state, &session.account_id, &client, &value(&values, "password"), &origin).await {
        Ok(()) => {
            record(
                &state,
                "oidc.unlinked",
                &session.account_id,
                &origin,
                serde_json::json!({"client": client}),
            )
            .await?;
            Ok(see_other("/cabinet/services?done=1"))
        }
        Err(e) => {
            let status = crate::error::refusal_status(&e);
            let error = refusal(e)?.general;
            let page = render(&state, &session.account_id, None, error).await?;
            Ok((status, page).into_response())
        }
    }
}

async fn api_list(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, AppError> {
    let list = state
        .oidc
        .linked_services(&session.account_id)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(Json(serde_json::json!(
        list.iter()
            .map(|s| serde_json::json!({
                "client_id": s.client_id,
                "name": s.name,
                "attributes": s.attributes,
                "granted_at": s.granted_at,
                "last_used_at": s.last_used_at,
            }))
            .collect::<Vec<_>>()
    )))
}

#[derive(Debug, serde::Deserialize)]
struct PasswordBody {
    password: String,
}

async fn api_unlink(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(client): Path<String>,
    Json(b): Json<PasswordBody>,
) -> Result<StatusCode, AppError> {
    unlink(&state, &session.account_id, &client, &b.password, &origin).await?;
    record(
        &state,
        "oidc.unlinked",
        &session.account_id,
        &origin,
        serde_json::json!({"client": client}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
