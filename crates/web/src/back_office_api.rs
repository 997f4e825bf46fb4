//! The back office through the JSON API, for agencies' own systems and scripts: a staff
//! member signs in (`POST /api/v1/staff/sessions`, the token then goes as
//! `Authorization: Bearer`, or the staff cookie of the browser works too), reads the
//! queue with the same filters as the page, an application with its answers, checks,
//! files, timeline and the steps they may take, takes those steps, answers questions, and
//! reads the dashboard's figures. The rules are those of the pages: the same role and
//! agency checks, the same refusals (409 with the reason), the same journal.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use identity::staff::StaffSession;
use serde::Deserialize;
use services::applications::{Actor, ApplicationError};

use crate::AppState;
use crate::applications::{applicant, entry, view_as};
use crate::back_office::{QueueQuery, actor_of, figures, is_overdue, queue_of, staff_actions};
use crate::error::AppError;
use crate::session::ClientOrigin;

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/staff/sessions", post(sign_in))
        .route("/staff/session", delete(sign_out))
        .route("/staff/applications", get(queue))
        .route("/staff/applications/{id}", get(detail))
        .route("/staff/applications/{id}/actions/{transition}", post(act))
        .route("/staff/applications/{id}/answers", post(answer))
        .route("/staff/dashboard", get(dashboard))
}

/// A staff member signed in through the API (bearer token) or the browser (cookie), who
/// has replaced the one-time password: 401 or 403 in JSON otherwise, never a redirect.
pub struct StaffApi(pub StaffSession);

impl FromRequestParts<AppState> for StaffApi {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned());
        let token = match bearer {
            Some(token) => token,
            None => crate::staff::staff_token(parts, state.secure_cookies)
                .ok_or(AppError::Unauthorized)?,
        };
        let session = state
            .identity
            .staff_session(&token, state.clock.now())
            .await?
            .ok_or(AppError::Unauthorized)?;
        if session.staff.must_change_password {
            return Err(AppError::PasswordChangeRequired);
        }
        Ok(Self(session))
    }
}

#[derive(Debug, Deserialize)]
struct SignIn {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

/// Opens a staff session; the token is shown once. With a one-time password the session
/// can only change it (on `/staff/password`): every other call answers 403.
async fn sign_in(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(body): Json<SignIn>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let now = state.clock.now();
    let session = state.identity.staff_sign_in(&body.login, &body.password, &origin, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "token": session.token,
            "expires_at": session.expires_at.to_rfc3339(),
            "role": session.role.code(),
            "must_change_password": session.must_change_password,
        })),
    ))
}

async fn sign_out(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    StaffApi(session): StaffApi,
) -> Result<StatusCode, AppError> {
    state.identity.staff_sign_out(&session, &origin, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The queue: `service`, `status` (default: those waiting for the agency), `number`,
/// `due=overdue`.
async fn queue(
    StaffApi(session): StaffApi,
    State(state): State<AppState>,
    Query(q): Query<QueueQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let actor = actor_of(&state, &session)?;
    let today = domain::moscow_date(state.clock.now());
    let list = queue_of(&state, &actor, &q).await?;
    let items: Vec<serde_json::Value> = list
        .iter()
        .map(|a| {
            serde_json::json!({
                "application": view_as(&state, a, actor.role),
                "overdue": is_overdue(a, today),
                "claimed_by": a.claimed_by,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "applications": items })))
}

async fn detail(
    StaffApi(session): StaffApi,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let actor = actor_of(&state, &session)?;
    Ok(Json(detail_json(&state, &actor, &id).await?))
}

async fn detail_json(
    state: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<serde_json::Value, AppError> {
    let a = state.applications.get(actor, id).await?;
    let service = state.catalog.service(&a.service_id).ok_or(AppError::NotFound)?;
    let workflow = state.catalog.workflow(&service.workflow).ok_or(AppError::NotFound)?;
    let timeline: Vec<_> =
        state.applications.timeline(actor, id).await?.into_iter().map(entry).collect();
    let done = state.applications.checks(actor, id).await?;
    let checks: Vec<serde_json::Value> = service
        .checks
        .iter()
        .map(|c| match done.iter().find(|r| r.check == *c) {
            Some(r) => serde_json::json!({
                "title": c.title(), "state": if r.passed { "passed" } else { "failed" },
                "detail": r.detail, "checked_at": r.checked_at.to_rfc3339(),
            }),
            None => serde_json::json!({ "title": c.title(), "state": "pending" }),
        })
        .collect();
    let files: Vec<serde_json::Value> = state
        .applications
        .files(actor, id)
        .await?
        .into_iter()
        .map(|f| {
            serde_json::json!({
                "id": f.id, "rule": f.rule, "name": f.name, "size": f.size,
                "download": format!("/staff/applications/{id}/files/{}", f.id),
            })
        })
        .collect();
    let steps: Vec<serde_json::Value> = staff_actions(workflow, &a, actor)
        .into_iter()
        .map(|t| {
            serde_json::json!({ "id": t.id, "title": t.title, "needs_comment": t.needs_comment })
        })
        .collect();
    let answers = services::form::lines(service, &a.answers);
    Ok(serde_json::json!({
        "application": view_as(state, &a, actor.role),
        "claimed_by": a.claimed_by,
        "overdue": is_overdue(&a, domain::moscow_date(state.clock.now())),
        "lines": answers,
        "checks": checks,
        "files": files,
        "actions": steps,
        "timeline": timeline,
    }))
}

#[derive(Debug, Default, Deserialize)]
struct Comment {
    #[serde(default)]
    comment: Option<String>,
}

/// Takes a step; a refusal (not available now, a colleague's application, a missing
/// comment, changed meanwhile) is a 409 with the reason, as on the page.
async fn act(
    StaffApi(session): StaffApi,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path((id, transition)): Path<(String, String)>,
    body: Option<Json<Comment>>,
) -> Result<Json<serde_json::Value>, AppError> {
    let actor = actor_of(&state, &session)?;
    let a = state.applications.get(&actor, &id).await?;
    let (who, _) = applicant(&state, &a.account_id).await?;
    let comment = body.and_then(|Json(c)| c.comment);
    let now = state.clock.now();
    match state
        .applications
        .act(&actor, &id, &transition, comment.as_deref(), &who, &origin, now)
        .await
    {
        Ok(_) => Ok(Json(detail_json(&state, &actor, &id).await?)),
        Err(ApplicationError::Refused(message)) => Err(AppError::Refused {
            status: StatusCode::CONFLICT,
            code: "refused",
            message,
            fields: Vec::new(),
        }),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
struct AnswerBody {
    #[serde(default)]
    text: String,
}

/// The answer to «Спросить о статусе»: on the timeline, and the applicant is told.
async fn answer(
    StaffApi(session): StaffApi,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<AnswerBody>,
) -> Result<Json<serde_json::Value>, AppError> {
    let actor = actor_of(&state, &session)?;
    let a = state.applications.get(&actor, &id).await?;
    let (who, _) = applicant(&state, &a.account_id).await?;
    let now = state.clock.now();
    match state.applications.note(&actor, &id, &body.text, &who, &origin, now).await {
        Ok(_) => Ok(Json(detail_json(&state, &actor, &id).await?)),
        Err(ApplicationError::Refused(message)) => Err(AppError::Refused {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "refused",
            message: message.replace("Вопрос", "Ответ"),
            fields: Vec::new(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// The dashboard's figures: counts by status (submitted applications of the member's
/// agencies), how many wait for the agency and how many of those are overdue.
async fn dashboard(
    StaffApi(session): StaffApi,
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, AppError> {
    let actor = actor_of(&state, &session)?;
    let (counts, open, overdue) = figures(&state, &actor).await?;
    let by_status: serde_json::Map<String, serde_json::Value> =
        counts.into_iter().map(|(s, n)| (s, n.into())).collect();
    Ok(Json(serde_json::json!({
        "by_status": by_status,
        "total": by_status.values().filter_map(serde_json::Value::as_i64).sum::<i64>(),
        "open": open,
        "overdue": overdue,
    })))
}
