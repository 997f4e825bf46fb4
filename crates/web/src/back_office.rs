//! The back office (seed 000 «Модерация заявки»): officers of an agency see their
//! agency's queue, take an application (of two officers taking it at once exactly one
//! wins), request a clarification with the list of what is needed, approve or reject
//! with a reason; heads of department decide appeals; a dashboard shows counts by status
//! and the overdue share as a chart. Administrators see every agency.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use identity::staff::{StaffRole, StaffSession};
use serde::Deserialize;
use services::applications::{Actor, Application, ApplicationError};
use services::definition::DRAFT;
use services::{Role, deadline};

use crate::AppState;
use crate::account::{msk, see_other};
use crate::application_pages::Step;
use crate::applications::applicant;
use crate::error::AppError;
use crate::session::ClientOrigin;
use crate::staff::{StaffChrome, StaffSignedIn};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/applications", get(queue_page))
        .route("/staff/applications/{id}", get(detail_page))
        .route("/staff/applications/{id}/act", post(act))
        .route("/staff/applications/{id}/answer", post(answer))
        .route("/staff/dashboard", get(dashboard))
}

/// The states still waiting for the agency.
const OPEN: [&str; 3] = ["submitted", "in_review", "appeal"];

/// The staff member as an actor on applications: officers and heads of their agency,
/// administrators of every agency.
pub(crate) fn actor_of(state: &AppState, session: &StaffSession) -> Result<Actor, AppError> {
    let staff = &session.staff;
    let role = match staff.role {
        StaffRole::Officer => Role::Officer,
        StaffRole::Head | StaffRole::Admin => Role::Head,
        StaffRole::Operator => {
            return Err(AppError::Refused {
                status: StatusCode::FORBIDDEN,
                code: "forbidden",
                message: "Заявления обрабатывают сотрудники ведомств".into(),
                fields: Vec::new(),
            });
        }
    };
    let agencies = if staff.role == StaffRole::Admin {
        state
            .catalog
            .services()
            .iter()
            .map(|s| s.agency.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    } else {
        staff.agency.iter().map(|a| a.to_lowercase()).collect()
    };
    Ok(Actor { role, id: Some(staff.id.clone()), agencies })
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct QueueQuery {
    #[serde(default)]
    service: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    number: String,
    /// `overdue` to show only overdue ones.
    #[serde(default)]
    due: String,
}

#[derive(Debug)]
struct Row {
    id: String,
    number: String,
    service: String,
    status: String,
    submitted: String,
    due: String,
    overdue: bool,
    claimed: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_applications.html")]
struct QueuePage {
    chrome: StaffChrome,
    q: QueueQuery,
    rows: Vec<Row>,
    services: Vec<(String, String)>,
    statuses: Vec<(String, String)>,
}

fn status_title(state: &AppState, a: &Application) -> String {
    state
        .catalog
        .service(&a.service_id)
        .and_then(|s| state.catalog.workflow(&s.workflow))
        .and_then(|w| w.state(&a.status))
        .map_or(a.status.clone(), |s| s.title.clone())
}

pub(crate) fn is_overdue(a: &Application, today: chrono::NaiveDate) -> bool {
    OPEN.contains(&a.status.as_str()) && a.due_on.is_some_and(|d| d < today)
}

/// The queue by its filters: the open applications unless a status is asked for, the
/// nearest due date first; only overdue ones with `due=overdue`.
pub(crate) async fn queue_of(
    state: &AppState,
    actor: &Actor,
    q: &QueueQuery,
) -> Result<Vec<Application>, AppError> {
    let statuses: Vec<String> = if q.status.trim().is_empty() {
        OPEN.iter().map(|s| (*s).to_owned()).collect()
    } else {
        vec![q.status.trim().to_owned()]
    };
    fn text(s: &str) -> Option<&str> {
        Some(s.trim()).filter(|s| !s.is_empty())
    }
    let list =
        state.applications.queue(actor, text(&q.service), &statuses, text(&q.number), 500).await?;
    let today = domain::moscow_date(state.clock.now());
    Ok(list.into_iter().filter(|a| q.due != "overdue" || is_overdue(a, today)).collect())
}

/// The steps a staff member may take now: those of their role, and for an officer not
/// while a colleague has the application (except taking it over is refused in `act`).
pub(crate) fn staff_actions<'w>(
    workflow: &'w services::definition::Workflow,
    a: &Application,
    actor: &Actor,
) -> Vec<&'w services::definition::Transition> {
    let claimed_by_other = a.claimed_by.is_some() && a.claimed_by.as_deref() != actor.id.as_deref();
    workflow
        .available(&a.status, actor.role)
        .filter(|t| !(actor.role == Role::Officer && claimed_by_other && t.id != "take"))
        .collect()
}

/// The dashboard's figures: counts by status, open and overdue.
pub(crate) async fn figures(
    state: &AppState,
    actor: &Actor,
) -> Result<(Vec<(String, i64)>, i64, i64), AppError> {
    let counts = state.applications.counts(&actor.agencies).await?;
    let open_list = state
        .applications
        .queue(actor, None, &OPEN.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(), None, 1000)
        .await?;
    let today = domain::moscow_date(state.clock.now());
    let overdue = open_list.iter().filter(|a| is_overdue(a, today)).count() as i64;
    Ok((counts, open_list.len() as i64, overdue))
}

async fn queue_page(
    staff: StaffSignedIn,
    State(state): State<AppState>,
    Query(q): Query<QueueQuery>,
) -> Result<QueuePage, AppError> {
    let session = &staff.0;
    let actor = actor_of(&state, session)?;
    let list = queue_of(&state, &actor, &q).await?;
    let today = domain::moscow_date(state.clock.now());
    let rows = list
        .iter()
        .map(|a| Row {
            id: a.id.clone(),
            number: a.number.clone().unwrap_or_default(),
            service: state
                .catalog
                .service(&a.service_id)
                .map_or(a.service_id.clone(), |s| s.title.clone()),
            status: status_title(&state, a),
            submitted: a.submitted_at.map(msk).unwrap_or_default(),
            due: a.due_on.map(|d| d.format("%d.%m.%Y").to_string()).unwrap_or_default(),
            overdue: is_overdue(a, today),
            claimed: a.claimed_by.is_some(),
        })
        .collect();
    let services = state
        .catalog
        .services()
        .iter()
        .filter(|s| actor.agencies.contains(&s.agency))
        .map(|s| (s.id.clone(), s.title.clone()))
        .collect();
    let statuses = [
        ("", "Ожидают решения"),
        ("submitted", "Принята"),
        ("in_review", "В проверке"),
        ("clarification", "Требуется уточнение"),
        ("appeal", "Жалоба на рассмотрении"),
        ("approved", "Одобрена"),
        ("rejected", "Отклонена"),
        ("cancelled", "Отменена"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    Ok(QueuePage { chrome: StaffChrome::of(session, "applications"), q, rows, services, statuses })
}

#[derive(Debug)]
struct ActionView {
    id: String,
    title: String,
    needs_comment: bool,
    /// What the comment is called on this step.
    comment_label: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_application.html")]
struct DetailPage {
    chrome: StaffChrome,
    a: Application,
    service_title: String,
    status_title: String,
    submitted: String,
    due: String,
    left: String,
    overdue: bool,
    claimed_by_me: bool,
    claimed_by_other: bool,
    answers: Vec<(String, String)>,
    steps: Vec<Step>,
    actions: Vec<ActionView>,
    checks: Vec<CheckView>,
    /// (rule label, id, name)
    files: Vec<(String, String, String)>,
    notice: Option<String>,
    error: Option<String>,
}

/// An automatic check on the officer's page.
struct CheckView {
    title: &'static str,
    /// `passed`, `failed`, or `pending` (not run yet, or waiting for a registry).
    state: &'static str,
    detail: String,
    at: String,
}

#[derive(Debug, Default, Deserialize)]
struct DetailQuery {
    #[serde(default)]
    done: Option<String>,
}

async fn detail(
    state: &AppState,
    session: &StaffSession,
    id: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Result<DetailPage, AppError> {
    let actor = actor_of(state, session)?;
    let a = state.applications.get(&actor, id).await?;
    let service = state.catalog.service(&a.service_id).ok_or(AppError::NotFound)?;
    let workflow = state.catalog.workflow(&service.workflow).ok_or(AppError::NotFound)?;
    let title_of = |id: &str| {
        if id == DRAFT {
            "Черновик".to_owned()
        } else {
            workflow.state(id).map_or(id.to_owned(), |s| s.title.clone())
        }
    };
    let today = domain::moscow_date(state.clock.now());
    let (left, overdue) = match (a.submitted_at, a.due_on) {
        (Some(at), Some(due)) if OPEN.contains(&a.status.as_str()) => {
            match deadline::progress(&state.calendar, domain::moscow_date(at), due, today) {
                Ok(p) if p.overdue() => (
                    format!("просрочено на {}", services::words::working_days((-p.left) as u32)),
                    true,
                ),
                Ok(p) => {
                    (format!("осталось {}", services::words::working_days(p.left as u32)), false)
                }
                Err(_) => (String::new(), false),
            }
        }
        _ => (String::new(), false),
    };
    let answers = services::form::lines(service, &a.answers);
    let steps = crate::application_pages::steps(state, &actor, &a, workflow).await?;
    let files = state
        .applications
        .files(&actor, &a.id)
        .await?
        .into_iter()
        .map(|f| {
            let label = service
                .attachments
                .iter()
                .find(|r| r.id == f.rule)
                .map_or(f.rule.clone(), |r| r.label.clone());
            (label, f.id, f.name)
        })
        .collect();
    let done = state.applications.checks(&actor, &a.id).await?;
    let checks = service
        .checks
        .iter()
        .map(|c| match done.iter().find(|r| r.check == *c) {
            Some(r) => CheckView {
                title: c.title(),
                state: if r.passed { "passed" } else { "failed" },
                detail: r.detail.clone(),
                at: msk(r.checked_at),
            },
            None => CheckView {
                title: c.title(),
                state: "pending",
                detail: "Проверка по реестрам выполняется.".to_owned(),
                at: String::new(),
            },
        })
        .collect();
    let me = actor.id.as_deref();
    let claimed_by_other = a.claimed_by.is_some() && a.claimed_by.as_deref() != me;
    let actions = staff_actions(workflow, &a, &actor)
        .into_iter()
        .map(|t| ActionView {
            id: t.id.clone(),
            title: t.title.clone(),
            needs_comment: t.needs_comment,
            comment_label: match t.id.as_str() {
                "request_clarification" => {
                    "Что нужно уточнить или приложить (каждое с новой строки)"
                }
                "reject" => "Причина отказа (по каждому полю или документу)",
                _ => "Комментарий",
            },
        })
        .collect();
    Ok(DetailPage {
        chrome: StaffChrome::of(session, "applications"),
        service_title: service.title.clone(),
        status_title: title_of(&a.status),
        submitted: a.submitted_at.map(msk).unwrap_or_default(),
        due: a.due_on.map(|d| d.format("%d.%m.%Y").to_string()).unwrap_or_default(),
        left,
        overdue,
        claimed_by_me: a.claimed_by.is_some() && a.claimed_by.as_deref() == me,
        claimed_by_other,
        answers,
        steps,
        actions,
        checks,
        files,
        notice,
        error,
        a,
    })
}

async fn detail_page(
    staff: StaffSignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Result<DetailPage, AppError> {
    let notice = q.done.map(|d| {
        match d.as_str() {
            "take" => "Заявление взято в работу.",
            "request_clarification" => "Запрос уточнения отправлен заявителю.",
            "approve" => "Заявление одобрено.",
            "reject" => "Заявление отклонено, заявитель уведомлён.",
            "appeal_grant" => "Жалоба удовлетворена, заявление одобрено.",
            "appeal_deny" => "В жалобе отказано.",
            "answer" => "Ответ отправлен заявителю.",
            _ => "Готово.",
        }
        .to_owned()
    });
    detail(&state, &staff.0, &id, notice, None).await
}

#[derive(Debug, Deserialize)]
struct ActForm {
    transition: String,
    #[serde(default)]
    comment: Option<String>,
}

async fn act(
    staff: StaffSignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<ActForm>,
) -> Result<Response, AppError> {
    let session = &staff.0;
    let actor = actor_of(&state, session)?;
    let a = state.applications.get(&actor, &id).await?;
    let (who, _) = applicant(&state, &a.account_id).await?;
    let result = state
        .applications
        .act(&actor, &id, &f.transition, f.comment.as_deref(), &who, &origin, state.clock.now())
        .await;
    match result {
        Ok(_) => Ok(see_other(&format!("/staff/applications/{id}?done={}", f.transition))),
        Err(e @ (ApplicationError::Refused(_) | ApplicationError::Conflict)) => {
            let message = match e {
                ApplicationError::Conflict => {
                    "Заявление только что изменил другой сотрудник — посмотрите, что с ним."
                        .to_owned()
                }
                other => other.to_string(),
            };
            let page = detail(&state, session, &id, None, Some(message)).await?;
            Ok((StatusCode::CONFLICT, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
struct AnswerForm {
    #[serde(default)]
    answer: String,
}

/// The answer to «Спросить о статусе»: on the timeline, and the applicant is told.
async fn answer(
    staff: StaffSignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<AnswerForm>,
) -> Result<Response, AppError> {
    let session = &staff.0;
    let actor = actor_of(&state, session)?;
    let a = state.applications.get(&actor, &id).await?;
    let (who, _) = applicant(&state, &a.account_id).await?;
    match state.applications.note(&actor, &id, &f.answer, &who, &origin, state.clock.now()).await {
        Ok(_) => Ok(see_other(&format!("/staff/applications/{id}?done=answer"))),
        Err(ApplicationError::Refused(message)) => {
            let page = detail(&state, session, &id, None, Some(message.replace("Вопрос", "Ответ")))
                .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

// --- the dashboard ---------------------------------------------------------------------------

#[derive(Debug)]
struct Bar {
    label: String,
    count: i64,
    /// Bar geometry in the SVG (pixels).
    y: u32,
    width: u32,
    text_x: u32,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_dashboard.html")]
struct DashboardPage {
    chrome: StaffChrome,
    bars: Vec<Bar>,
    height: u32,
    total: i64,
    open: i64,
    overdue: i64,
    overdue_percent: i64,
    /// The overdue share as an arc of the donut (SVG stroke-dasharray).
    overdue_dash: String,
}

async fn dashboard(
    staff: StaffSignedIn,
    State(state): State<AppState>,
) -> Result<DashboardPage, AppError> {
    let session = &staff.0;
    let actor = actor_of(&state, session)?;
    let (counts, open, overdue) = figures(&state, &actor).await?;
    let titles = [
        ("submitted", "Принята"),
        ("in_review", "В проверке"),
        ("clarification", "Требуется уточнение"),
        ("appeal", "Жалоба"),
        ("approved", "Одобрена"),
        ("rejected", "Отклонена"),
        ("cancelled", "Отменена"),
    ];
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let bars: Vec<Bar> = titles
        .iter()
        .enumerate()
        .map(|(i, (code, title))| {
            let count = counts.iter().find(|(s, _)| s == code).map_or(0, |(_, n)| *n);
            let width = (count * 300 / max) as u32;
            Bar {
                label: (*title).to_owned(),
                count,
                y: i as u32 * 32,
                width,
                text_x: 170 + width + 6,
            }
        })
        .collect();
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let overdue_percent = if open == 0 { 0 } else { overdue * 100 / open };
    // The donut's circumference is 100 (r = 15.915…): the dash is the percent.
    let overdue_dash = format!("{overdue_percent} {}", 100 - overdue_percent);
    Ok(DashboardPage {
        chrome: StaffChrome::of(session, "dashboard"),
        height: bars.len() as u32 * 32,
        bars,
        total,
        open,
        overdue,
        overdue_percent,
        overdue_dash,
    })
}
