//! Applications through the JSON API (seed 000 «Проверка и отправка заявки», «Статус
//! регистрации»; seed 002 «Получение государственных услуг»): start a draft from a
//! service, save answers as typed, submit, «Мои заявки» with filters, the timeline, and
//! the applicant's own steps (cancel, send corrections, appeal).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use services::applications::{
    Actor, Applicant, Application, ApplicationError, MineFilter, Profile, TimelineEntry,
};
use services::form::{Answers, Problem, Stage};
use services::{Level, Role, words};

use crate::AppState;
use crate::error::{AppError, FieldProblem};
use crate::session::{ClientOrigin, SignedIn};

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/services/{id}/applications", post(api_start))
        .route("/me/applications", get(api_mine))
        .route("/me/notifications", get(api_notices))
        .route("/me/results", get(api_results))
        .route("/me/notification-channels", get(api_channels).put(api_set_channels))
        .route("/me/applications/{id}/result/send", post(api_send_result))
        .route("/me/applications/{id}", get(api_get).delete(api_delete))
        .route("/me/applications/{id}/answers", put(api_save))
        .route("/me/applications/{id}/submit", post(api_submit))
        .route("/me/applications/{id}/actions/{transition}", post(api_act))
        .route("/me/applications/{id}/questions", post(api_ask))
}

impl From<ApplicationError> for AppError {
    fn from(e: ApplicationError) -> Self {
        match e {
            ApplicationError::NotFound => Self::Missing {
                code: "unknown_application",
                message: "Заявление не найдено".into(),
            },
            ApplicationError::UnknownService(id) => Self::Missing {
                code: "unknown_service",
                message: format!("Услуги «{id}» нет в каталоге"),
            },
            ApplicationError::Refused(message) => Self::Refused {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "refused",
                message,
                fields: Vec::new(),
            },
            ApplicationError::Conflict => Self::Refused {
                status: StatusCode::CONFLICT,
                code: "conflict",
                message: e.to_string(),
                fields: Vec::new(),
            },
            ApplicationError::Store(s) => s.into(),
            // An operator's matter (the next year's decree file), not the person's.
            ApplicationError::Calendar(e) => {
                tracing::error!(error = %e, "production calendar does not cover a deadline");
                Self::Refused {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    code: "calendar",
                    message: "Срок по заявлению сейчас не рассчитать: в производственном \
                              календаре нет нужного года. Черновик сохранён — попробуйте \
                              отправить позже."
                        .into(),
                    fields: Vec::new(),
                }
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

/// The problems of a form as a refusal that names each field.
fn invalid(problems: Vec<Problem>) -> AppError {
    AppError::Refused {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "invalid_answers",
        message: "Исправьте ошибки в заявлении".into(),
        fields: problems
            .into_iter()
            .map(|p| FieldProblem { field: p.path, code: p.code, message: p.message })
            .collect(),
    }
}

/// The person's channels for copies of notices, as the cabinet shows them.
#[derive(Debug, Serialize)]
pub(crate) struct Channels {
    pub(crate) email: bool,
    pub(crate) sms: bool,
    /// Whether the person chose (else the default: e-mail if confirmed, else SMS).
    pub(crate) chosen: bool,
    /// The confirmed contacts, masked.
    pub(crate) email_address: Option<String>,
    pub(crate) phone: Option<String>,
}

pub(crate) async fn channels(state: &AppState, account_id: &str) -> Result<Channels, AppError> {
    let account = state.identity.account(account_id).await?;
    let confirmed = |kind: &str| account.contacts.iter().find(|c| c.confirmed && c.kind == kind);
    let (email, phone) = (confirmed("email"), confirmed("phone"));
    let chosen = state.identity.notification_channels(account_id).await?;
    let (by_email, by_sms) = chosen.unwrap_or((email.is_some(), email.is_none()));
    Ok(Channels {
        email: by_email,
        sms: by_sms,
        chosen: chosen.is_some(),
        email_address: email.map(|c| c.masked.clone()),
        phone: phone.map(|c| c.masked.clone()),
    })
}

/// Records the person's choice; a channel without a confirmed contact is refused by name.
pub(crate) async fn set_channels(
    state: &AppState,
    account_id: &str,
    by_email: bool,
    by_sms: bool,
    origin: &journal::Origin,
) -> Result<(), AppError> {
    let current = channels(state, account_id).await?;
    let refuse = |field: &str, message: &str| AppError::Refused {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "no_confirmed_contact",
        message: message.to_owned(),
        fields: vec![FieldProblem {
            field: field.to_owned(),
            code: "no_confirmed_contact".into(),
            message: message.to_owned(),
        }],
    };
    if by_email && current.email_address.is_none() {
        return Err(refuse(
            "email",
            "По электронной почте: сначала добавьте и подтвердите адрес в разделе «Контакты».",
        ));
    }
    if by_sms && current.phone.is_none() {
        return Err(refuse(
            "sms",
            "По SMS: сначала добавьте и подтвердите номер телефона в разделе «Контакты».",
        ));
    }
    let now = state.clock.now();
    state.identity.set_notification_channels(account_id, by_email, by_sms, origin, now).await?;
    Ok(())
}

async fn api_channels(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<Json<Channels>, AppError> {
    Ok(Json(channels(&state, &session.account_id).await?))
}

#[derive(Debug, Deserialize)]
struct ChannelsBody {
    #[serde(default)]
    email: bool,
    #[serde(default)]
    sms: bool,
}

async fn api_set_channels(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Json(body): Json<ChannelsBody>,
) -> Result<Json<Channels>, AppError> {
    set_channels(&state, &session.account_id, body.email, body.sms, &origin).await?;
    Ok(Json(channels(&state, &session.account_id).await?))
}

/// Where copies of notices go: the channels the person chose, each to its confirmed
/// contact; without a choice, e-mail when an address is confirmed, else SMS.
pub(crate) fn notice_contacts(
    chosen: Option<(bool, bool)>,
    email: Option<String>,
    phone: Option<String>,
) -> Vec<(notify::Channel, String)> {
    let (by_email, by_sms) = chosen.unwrap_or((email.is_some(), email.is_none()));
    let mut out = Vec::new();
    if let Some(email) = email.filter(|_| by_email) {
        out.push((notify::Channel::Email, email));
    }
    if let Some(phone) = phone.filter(|_| by_sms) {
        out.push((notify::Channel::Sms, phone));
    }
    out
}

/// The signed-in person as an applicant: level, confirmed contacts, and the verified
/// data that pre-fills forms.
pub async fn applicant(
    state: &AppState,
    account_id: &str,
) -> Result<(Applicant, Profile), AppError> {
    let account = state.identity.account(account_id).await?;
    let level = match account.level.as_str() {
        "confirmed" => Level::Confirmed,
        "standard" => Level::Standard,
        _ => Level::Simplified,
    };
    let confirmed = |kind: &str| {
        account.contacts.iter().find(|c| c.confirmed && c.kind == kind).map(|c| c.value.clone())
    };
    let contacts = notice_contacts(
        state.identity.notification_channels(account_id).await?,
        confirmed("email"),
        confirmed("phone"),
    );
    let documents = state.identity.documents(account_id).await?;
    let mut profile = Profile {
        surname: Some(account.surname.clone()),
        given_name: Some(account.given_name.clone()),
        patronymic: account.patronymic.clone(),
        phone: confirmed("phone"),
        email: confirmed("email"),
        ..Profile::default()
    };
    if let Some(d) = documents.verified {
        profile.surname = Some(d.surname);
        profile.given_name = Some(d.given_name);
        profile.patronymic = d.patronymic;
        profile.birthdate = Some(d.birth_date);
        profile.snils = Some(d.snils.to_string());
        profile.inn = d.inn.map(|i| i.to_string());
        profile.passport = Some(d.passport.to_string());
        profile.registration_address = Some(d.address);
    }
    let name =
        [profile.surname.as_deref(), profile.given_name.as_deref(), profile.patronymic.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
    let email = confirmed("email");
    Ok((Applicant { account_id: account_id.to_owned(), name, level, contacts, email }, profile))
}

/// An application as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct View {
    id: String,
    number: Option<String>,
    service_id: String,
    service_title: String,
    status: String,
    status_title: String,
    answers: Answers,
    created_at: String,
    updated_at: String,
    submitted_at: Option<String>,
    due_on: Option<NaiveDate>,
    act_by: Option<NaiveDate>,
    /// «3 рабочих дня».
    term: String,
    /// What the applicant may do now: (transition, button title).
    actions: Vec<(String, String)>,
}

pub(crate) fn view(state: &AppState, a: &Application) -> View {
    view_as(state, a, Role::Applicant)
}

/// The application with the steps `role` may take on it.
pub(crate) fn view_as(state: &AppState, a: &Application, role: Role) -> View {
    let service = state.catalog.service(&a.service_id);
    let workflow = service.and_then(|s| state.catalog.workflow(&s.workflow));
    let status_title = if a.status == services::definition::DRAFT {
        "Черновик".to_owned()
    } else {
        workflow.and_then(|w| w.state(&a.status)).map_or(a.status.clone(), |s| s.title.clone())
    };
    let actions = workflow
        .map(|w| w.available(&a.status, role).map(|t| (t.id.clone(), t.title.clone())).collect())
        .unwrap_or_default();
    View {
        id: a.id.clone(),
        number: a.number.clone(),
        service_id: a.service_id.clone(),
        service_title: service.map(|s| s.title.clone()).unwrap_or_default(),
        status: a.status.clone(),
        status_title,
        answers: a.answers.clone(),
        created_at: a.created_at.to_rfc3339(),
        updated_at: a.updated_at.to_rfc3339(),
        submitted_at: a.submitted_at.map(|t| t.to_rfc3339()),
        due_on: a.due_on,
        act_by: a.act_by,
        term: service.map(|s| words::working_days(s.deadline.working_days)).unwrap_or_default(),
        actions,
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Entry {
    at: String,
    actor: &'static str,
    transition: String,
    from: String,
    to: String,
    comment: Option<String>,
}

pub(crate) fn entry(e: TimelineEntry) -> Entry {
    Entry {
        at: e.at.to_rfc3339(),
        actor: e.actor.title(),
        transition: e.transition,
        from: e.from,
        to: e.to,
        comment: e.comment,
    }
}

async fn api_start(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(service): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let (who, profile) = applicant(&state, &session.account_id).await?;
    let now = state.clock.now();
    let a = state.applications.start(&who, &service, &profile, &origin, now).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "application": view(&state, &a) }))))
}

/// The filters of «Мои заявки» as typed (the API and the page).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct MineQuery {
    #[serde(default)]
    pub(crate) number: String,
    #[serde(default)]
    pub(crate) service: String,
    #[serde(default)]
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) from: String,
    #[serde(default)]
    pub(crate) to: String,
    #[serde(default)]
    pub(crate) limit: Option<i64>,
    #[serde(default)]
    pub(crate) offset: Option<i64>,
}

fn date_param(name: &'static str, label: &str, value: &str) -> Result<Option<NaiveDate>, AppError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    domain::ident::parse_date(value).map(Some).map_err(|e| AppError::Refused {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "invalid_filter",
        message: format!("{label}: {e}"),
        fields: vec![FieldProblem {
            field: name.into(),
            code: e.code().into(),
            message: format!("{label}: {e}"),
        }],
    })
}

pub(crate) fn mine_filter(q: &MineQuery) -> Result<MineFilter, AppError> {
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    Ok(MineFilter {
        number: text(&q.number),
        service_id: text(&q.service),
        status: text(&q.status),
        from: date_param("from", "Дата с", &q.from)?,
        to: date_param("to", "Дата по", &q.to)?,
        limit: q.limit.unwrap_or(50),
        offset: q.offset.unwrap_or(0),
    })
}

/// The applicant's in-app notices, newest first (100).
async fn api_notices(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, AppError> {
    let notices = state.applications.notices(&session.account_id, 100).await?;
    Ok(Json(serde_json::json!({ "notifications": notices })))
}

/// «Полученные документы»: the result documents issued to the person, newest first.
async fn api_results(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, AppError> {
    let documents = state.applications.issued(&session.account_id).await?;
    Ok(Json(serde_json::json!({ "documents": documents })))
}

/// Queues the result document to the person's confirmed e-mail (202: it goes out through
/// the outbox).
async fn api_send_result(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let (who, _) = applicant(&state, &session.account_id).await?;
    let actor = Actor::applicant(&session.account_id);
    let to = state.applications.send_result(&actor, &id, &who, &origin, state.clock.now()).await?;
    let to = identity::mask("email", &to);
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "queued": true, "to": to }))))
}

async fn api_mine(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Query(q): Query<MineQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let filter = mine_filter(&q)?;
    let list = state.applications.mine(&session.account_id, &filter).await?;
    let views: Vec<View> = list.iter().map(|a| view(&state, a)).collect();
    Ok(Json(serde_json::json!({ "applications": views })))
}

async fn api_get(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let actor = Actor::applicant(&session.account_id);
    let a = state.applications.get(&actor, &id).await?;
    let timeline: Vec<Entry> =
        state.applications.timeline(&actor, &id).await?.into_iter().map(entry).collect();
    let problems = state
        .catalog
        .service(&a.service_id)
        .filter(|_| a.status == services::definition::DRAFT)
        .map(|s| {
            services::form::check(
                s,
                &a.answers,
                domain::moscow_date(state.clock.now()),
                Stage::Draft,
            )
            .problems
        })
        .unwrap_or_default();
    Ok(Json(serde_json::json!({
        "application": view(&state, &a),
        "timeline": timeline,
        "problems": problems,
    })))
}

#[derive(Debug, Deserialize)]
struct AnswersBody {
    answers: Answers,
}

async fn api_save(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<AnswersBody>,
) -> Result<Json<serde_json::Value>, AppError> {
    let now = state.clock.now();
    let (a, problems) = state
        .applications
        .save(&session.account_id, &id, body.answers, domain::moscow_date(now), now)
        .await?;
    Ok(Json(serde_json::json!({ "application": view(&state, &a), "problems": problems })))
}

async fn api_submit(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let (who, _) = applicant(&state, &session.account_id).await?;
    match state.applications.submit(&who, &id, &origin, state.clock.now()).await? {
        Ok(a) => Ok(Json(serde_json::json!({ "application": view(&state, &a) }))),
        Err(problems) => Err(invalid(problems)),
    }
}

#[derive(Debug, Default, Deserialize)]
struct ActBody {
    #[serde(default)]
    comment: Option<String>,
}

async fn api_act(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path((id, transition)): Path<(String, String)>,
    body: Option<Json<ActBody>>,
) -> Result<Json<serde_json::Value>, AppError> {
    let (who, _) = applicant(&state, &session.account_id).await?;
    let actor = Actor::applicant(&session.account_id);
    let comment = body.and_then(|Json(b)| b.comment);
    let a = state
        .applications
        .act(&actor, &id, &transition, comment.as_deref(), &who, &origin, state.clock.now())
        .await?;
    Ok(Json(serde_json::json!({ "application": view(&state, &a) })))
}

#[derive(Debug, Deserialize)]
struct AskBody {
    text: String,
}

/// «Спросить о статусе».
async fn api_ask(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<AskBody>,
) -> Result<StatusCode, AppError> {
    let (who, _) = applicant(&state, &session.account_id).await?;
    let actor = Actor::applicant(&session.account_id);
    state.applications.note(&actor, &id, &body.text, &who, &origin, state.clock.now()).await?;
    Ok(StatusCode::CREATED)
}

async fn api_delete(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    state.applications.delete_draft(&session.account_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
