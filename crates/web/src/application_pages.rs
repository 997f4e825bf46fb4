//! Applications in the browser: «Получить услугу» on a service page starts a draft; the
//! form is rendered from the service's definition, pre-filled, saved automatically (htmx,
//! on every change) and on «Сохранить черновик», checked on «Отправить» with an error
//! summary that links to each field; the submitted application shows its number, status,
//! deadline bar, timeline and the applicant's steps; «Мои заявки» lists them with
//! filters. Everything works without JavaScript.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use services::applications::{Actor, Application, ApplicationError};
use services::definition::DRAFT;
use services::form::{Answer, Answers, CHECKED, Problem};
use services::{FieldKind, IdentifierKind, Role, Service, deadline};

use crate::AppState;
use crate::account::{msk, see_other};
use crate::applications::{MineQuery, applicant, mine_filter};
use crate::error::AppError;
use crate::session::{Chrome, ClientOrigin, SignedIn};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/services/{id}/apply", post(start))
        .route("/cabinet/applications", get(mine_page))
        .route("/cabinet/notifications", get(notices_page).post(channels_submit))
        .route("/cabinet/results", get(results_page))
        .route("/cabinet/applications/{id}/send", post(send_result))
        .route("/cabinet/applications/{id}", get(page).post(post_form))
        .route("/cabinet/applications/{id}/edit", get(edit_page))
        .route("/cabinet/applications/{id}/autosave", post(autosave))
        .route("/cabinet/applications/{id}/act", post(act))
        .route("/cabinet/applications/{id}/ask", post(ask))
}

/// One field as the form shows it.
#[derive(Debug)]
pub(crate) struct FieldView {
    /// The input's name and id suffix: `field` or `group.row.field`.
    name: String,
    label: String,
    /// text, textarea, number, date, select, checkbox, address, identifier
    input: &'static str,
    value: String,
    options: Vec<String>,
    required: bool,
    hint: String,
    error: Option<String>,
    /// The kind for live validation (`/api/v1/validate/{kind}`).
    validate: &'static str,
    max_len: u32,
    /// A checkbox that is ticked.
    checked: bool,
    /// «Заполните, если …», for a conditional field.
    when_text: String,
    /// `data-when-field` / `data-when-equals`: shown only when that field has that value.
    when: Option<(String, String)>,
}

/// A repeating group: its rows of fields.
#[derive(Debug)]
pub(crate) struct GroupView {
    id: String,
    label: String,
    hint: String,
    rows: Vec<Vec<FieldView>>,
    can_add: bool,
    can_remove: bool,
    error: Option<String>,
    when: Option<(String, String)>,
    when_text: String,
}

#[derive(Debug)]
pub(crate) enum Item {
    Field(FieldView),
    Group(GroupView),
}

fn slug(kind: IdentifierKind) -> &'static str {
    match kind {
        IdentifierKind::Snils => "snils",
        IdentifierKind::InnPerson | IdentifierKind::InnOrganization => "inn",
        IdentifierKind::Ogrn => "ogrn",
        IdentifierKind::Ogrnip => "ogrnip",
        IdentifierKind::Kpp => "kpp",
        IdentifierKind::Bik => "bik",
        IdentifierKind::Passport => "passport",
        IdentifierKind::Phone => "phone",
        IdentifierKind::Email => "email",
        IdentifierKind::Cadastral => "cadastral",
    }
}

fn field_view(
    f: &services::Field,
    name: String,
    value: &str,
    problems: &BTreeMap<String, String>,
) -> FieldView {
    let (input, options, validate, max_len) = match &f.kind {
        FieldKind::Text { multiline: true, max_len } => ("textarea", Vec::new(), "", *max_len),
        FieldKind::Text { max_len, .. } => ("text", Vec::new(), "", *max_len),
        FieldKind::Number { .. } => ("number", Vec::new(), "", 20),
        FieldKind::Date { .. } => ("date", Vec::new(), "", 10),
        FieldKind::Select { options } => ("select", options.clone(), "", 0),
        FieldKind::Checkbox => ("checkbox", Vec::new(), "", 0),
        FieldKind::Identifier { kind } => ("identifier", Vec::new(), slug(*kind), 100),
        FieldKind::Address => ("address", Vec::new(), "", 500),
        FieldKind::Group { .. } => ("text", Vec::new(), "", 0),
    };
    let mut hint = f.hint.clone().unwrap_or_default();
    if let FieldKind::Identifier { kind } = &f.kind
        && hint.is_empty()
    {
        hint = services::words::upper_first(kind.title());
    }
    if let FieldKind::Date { .. } = &f.kind
        && hint.is_empty()
    {
        hint = "ДД.ММ.ГГГГ".into();
    }
    if f.prefill.is_some() && !value.is_empty() {
        hint = if hint.is_empty() {
            "Заполнено из профиля".into()
        } else {
            format!("{hint}. Заполнено из профиля")
        };
    }
    FieldView {
        error: problems.get(&name).cloned(),
        name,
        label: f.label.clone(),
        input,
        value: value.to_owned(),
        options,
        required: f.required,
        hint,
        validate,
        max_len,
        checked: value == CHECKED,
        when_text: String::new(),
        when: f.when.as_ref().map(|c| (c.field.clone(), c.equals.clone())),
    }
}

/// The form of a service with the answers and problems.
pub(crate) fn items(service: &Service, answers: &Answers, problems: &[Problem]) -> Vec<Item> {
    let by_path: BTreeMap<String, String> =
        problems.iter().map(|p| (p.path.clone(), p.message.clone())).collect();
    service
        .form
        .iter()
        .map(|f| match &f.kind {
            FieldKind::Group { fields, min, max } => {
                let mut rows: Vec<BTreeMap<String, String>> = match answers.get(&f.id) {
                    Some(Answer::Rows(rows)) => rows.clone(),
                    _ => Vec::new(),
                };
                while rows.len() < (*min).max(1) as usize {
                    rows.push(BTreeMap::new());
                }
                let views = rows
                    .iter()
                    .enumerate()
                    .map(|(n, row)| {
                        fields
                            .iter()
                            .map(|inner| {
                                let v = row.get(&inner.id).map_or("", String::as_str);
                                let mut view = field_view(
                                    inner,
                                    format!("{}.{n}.{}", f.id, inner.id),
                                    v,
                                    &by_path,
                                );
                                view.label = format!("{} № {}", inner.label, n + 1);
                                view
                            })
                            .collect()
                    })
                    .collect::<Vec<_>>();
                Item::Group(GroupView {
                    id: f.id.clone(),
                    label: f.label.clone(),
                    hint: f.hint.clone().unwrap_or_default(),
                    can_add: (views.len() as u32) < *max,
                    can_remove: views.len() > 1,
                    rows: views,
                    error: by_path.get(&f.id).cloned(),
                    when: f.when.as_ref().map(|c| (c.field.clone(), c.equals.clone())),
                    when_text: when_text(service, f),
                })
            }
            _ => {
                let v = match answers.get(&f.id) {
                    Some(Answer::Value(v)) => v.as_str(),
                    _ => "",
                };
                let mut view = field_view(f, f.id.clone(), v, &by_path);
                view.when_text = when_text(service, f);
                Item::Field(view)
            }
        })
        .collect()
}

/// «Заполните, если …» for a field shown only under a condition.
fn when_text(service: &Service, f: &services::Field) -> String {
    let Some(c) = &f.when else { return String::new() };
    let label = service
        .form
        .iter()
        .find(|x| x.id == c.field)
        .map_or(c.field.as_str(), |x| x.label.as_str());
    match c.equals.as_str() {
        CHECKED => format!("Заполните, если отмечено «{label}»."),
        "нет" => format!("Заполните, если не отмечено «{label}»."),
        value => format!("Заполните, если «{label}» — «{value}»."),
    }
}

/// The posted form as answers: `name` → a value, `group.row.field` → rows.
fn answers_of(pairs: &[(String, String)]) -> Answers {
    let mut answers = Answers::new();
    let mut groups: BTreeMap<String, BTreeMap<usize, BTreeMap<String, String>>> = BTreeMap::new();
    for (name, value) in pairs {
        if matches!(name.as_str(), "action" | "csrf") {
            continue;
        }
        let parts: Vec<&str> = name.splitn(3, '.').collect();
        if let [group, row, field] = parts.as_slice()
            && let Ok(row) = row.parse::<usize>()
            && row < 100
        {
            groups
                .entry((*group).to_owned())
                .or_default()
                .entry(row)
                .or_default()
                .insert((*field).to_owned(), value.clone());
        } else if parts.len() == 1 {
            answers.insert(name.clone(), Answer::Value(value.clone()));
        }
    }
    for (group, rows) in groups {
        answers.insert(group, Answer::Rows(rows.into_values().collect()));
    }
    answers
}

async fn start(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(service): Path<String>,
) -> Result<Response, AppError> {
    let (who, profile) = applicant(&state, &session.account_id).await?;
    match state.applications.start(&who, &service, &profile, &origin, state.clock.now()).await {
        Ok(a) => Ok(see_other(&format!("/cabinet/applications/{}", a.id))),
        Err(services::applications::ApplicationError::Refused(_)) => {
            Ok(see_other(&format!("/services/{service}?refused=level")))
        }
        Err(e) => Err(e.into()),
    }
}

/// One attachment rule with the files given for it.
#[derive(Debug)]
pub(crate) struct RuleFiles {
    id: String,
    label: String,
    hint: String,
    /// «PDF, JPG, PNG, до 2 МБ».
    accepts: String,
    /// The `accept` attribute of the file input.
    accept: String,
    required: bool,
    files: Vec<(String, String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "application_form.html")]
struct FormPage {
    chrome: Chrome,
    id: String,
    service: Service,
    agency: String,
    items: Vec<Item>,
    problems: Vec<Problem>,
    notice: Option<String>,
    rules: Vec<RuleFiles>,
    file_error: Option<String>,
    /// The agency asked for corrections: the form sends them.
    correcting: bool,
    /// What the agency asked for.
    request: Option<String>,
}

/// «1,2 МБ», «340 КБ».
fn size_text(bytes: i64) -> String {
    if bytes >= 1024 * 1024 {
        let tenths = (bytes as f64 / 1024.0 / 1024.0 * 10.0).round() as i64;
        format!("{},{} МБ", tenths / 10, tenths % 10)
    } else {
        format!("{} КБ", (bytes + 1023) / 1024)
    }
}

async fn rule_files(
    state: &AppState,
    actor: &Actor,
    a: &Application,
    service: &Service,
) -> Result<Vec<RuleFiles>, AppError> {
    let files = state.applications.files(actor, &a.id).await?;
    let limit = state.applications.upload_limit_mb();
    Ok(service
        .attachments
        .iter()
        .map(|r| {
            let formats: Vec<&str> = r.formats.iter().map(|f| f.title()).collect();
            let mb = r.max_size_mb.map_or(limit, |m| m.min(limit));
            RuleFiles {
                id: r.id.clone(),
                label: r.label.clone(),
                hint: r.hint.clone().unwrap_or_default(),
                accepts: format!("{}, до {mb} МБ", formats.join(", ")),
                accept: r
                    .formats
                    .iter()
                    .map(|f| format!(".{}", f.title().to_lowercase()))
                    .collect::<Vec<_>>()
                    .join(","),
                required: r.required,
                files: files
                    .iter()
                    .filter(|f| f.rule == r.id)
                    .map(|f| (f.id.clone(), f.name.clone(), size_text(f.size)))
                    .collect(),
            }
        })
        .collect())
}

/// One entry of a timeline as pages show it.
#[derive(Debug)]
pub(crate) struct Step {
    pub(crate) at: String,
    pub(crate) status: String,
    pub(crate) actor: &'static str,
    pub(crate) comment: Option<String>,
}

/// The timeline of an application, each step with its state's title.
pub(crate) async fn steps(
    state: &AppState,
    actor: &Actor,
    a: &Application,
    workflow: &services::Workflow,
) -> Result<Vec<Step>, AppError> {
    let title_of = |id: &str| {
        if id == DRAFT {
            "Черновик".to_owned()
        } else {
            workflow.state(id).map_or(id.to_owned(), |s| s.title.clone())
        }
    };
    Ok(state
        .applications
        .timeline(actor, &a.id)
        .await?
        .into_iter()
        .map(|e| Step {
            at: msk(e.at),
            status: match e.transition.as_str() {
                "question" => "Вопрос о статусе".to_owned(),
                "answer" => "Ответ ведомства".to_owned(),
                _ => title_of(&e.to),
            },
            actor: e.actor.title(),
            comment: e.comment,
        })
        .collect())
}

#[derive(Debug)]
struct Action {
    id: String,
    title: String,
    needs_comment: bool,
    /// Cancelling asks to confirm.
    confirm: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "application.html")]
struct StatusPage {
    chrome: Chrome,
    a: Application,
    service_title: String,
    agency: String,
    status_title: String,
    final_state: bool,
    submitted: String,
    due: String,
    act_by: String,
    progress: Option<deadline::Progress>,
    paused: bool,
    steps: Vec<Step>,
    actions: Vec<Action>,
    copy: Vec<(String, String)>,
    notice: Option<String>,
    error: Option<String>,
    /// The applicant may edit the answers (a clarification was asked).
    editable: bool,
    /// The result document is issued.
    has_result: bool,
    /// A GOST-signed result: its detached signature can be downloaded too.
    signature_file: bool,
    /// The attached files: (rule label, id, name, size).
    files: Vec<(String, String, String, String)>,
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    #[serde(default)]
    done: Option<String>,
}

fn notice_of(done: Option<&str>) -> Option<String> {
    done.map(|d| {
        match d {
            "saved" => "Черновик сохранён.",
            "submitted" => {
                "Заявление отправлено. Уведомление о каждом изменении статуса придёт вам."
            }
            "cancel" => "Заявление отменено.",
            "correct" => "Уточнения отправлены в ведомство.",
            "appeal" => "Жалоба подана. Её рассмотрят в течение 3 рабочих дней.",
            "file" => "Файлы обновлены.",
            "sent" => {
                "Документ отправлен на вашу подтверждённую электронную почту. Письмо придёт \
                 в течение нескольких минут."
            }
            "question" => {
                "Вопрос отправлен в ведомство. Ответ придёт уведомлением и появится в истории."
            }
            _ => "Готово.",
        }
        .to_owned()
    })
}

async fn page(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let actor = Actor::applicant(&session.account_id);
    let a = state.applications.get(&actor, &id).await?;
    let notice = notice_of(q.done.as_deref());
    if a.status == DRAFT {
        return Ok(form_page(&state, &actor, a, Vec::new(), notice).await?.into_response());
    }
    Ok(status_page(&state, &actor, a, notice, None).await?.into_response())
}

/// The form of a draft, or of an application whose agency asked for corrections: the
/// answers and documents to change, and «Отправить уточнения».
async fn edit_page(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let actor = Actor::applicant(&session.account_id);
    let a = state.applications.get(&actor, &id).await?;
    if a.status != DRAFT && correction(&state, &a).is_none() {
        return Ok(see_other(&format!("/cabinet/applications/{id}")));
    }
    let notice = notice_of(q.done.as_deref());
    Ok(form_page(&state, &actor, a, Vec::new(), notice).await?.into_response())
}

/// The applicant's step that sends corrections, when the application waits for them.
fn correction(state: &AppState, a: &Application) -> Option<String> {
    let service = state.catalog.service(&a.service_id)?;
    let workflow = state.catalog.workflow(&service.workflow)?;
    if !workflow.state(&a.status).is_some_and(|s| s.pauses_deadline) {
        return None;
    }
    workflow
        .available(&a.status, Role::Applicant)
        .find(|t| !workflow.state(&t.to).is_some_and(|s| s.r#final))
        .map(|t| t.id.clone())
}

/// The draft's form again with why a file was refused (422), rendered in place: the
/// text is never carried in a URL, where a crafted link could put any words there.
pub(crate) async fn refused_file(
    state: &AppState,
    account_id: &str,
    id: &str,
    message: String,
) -> Result<Response, AppError> {
    let actor = Actor::applicant(account_id);
    let a = state.applications.get(&actor, id).await?;
    if a.status != DRAFT && correction(state, &a).is_none() {
        let page = status_page(state, &actor, a, None, Some(message)).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let mut page = form_page(state, &actor, a, Vec::new(), None).await?;
    page.file_error = Some(message);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

async fn form_page(
    state: &AppState,
    actor: &Actor,
    a: Application,
    problems: Vec<Problem>,
    notice: Option<String>,
) -> Result<FormPage, AppError> {
    let service = state.catalog.service(&a.service_id).ok_or(AppError::NotFound)?.clone();
    let agency = state.catalog.agency(&service.agency).map(|a| a.name.clone()).unwrap_or_default();
    let rules = rule_files(state, actor, &a, &service).await?;
    let correcting = correction(state, &a).is_some();
    // What the agency asked for: the comment of the step that asked.
    let request = match correcting {
        true => state
            .applications
            .timeline(actor, &a.id)
            .await?
            .into_iter()
            .rev()
            .find(|e| e.to == a.status && e.from != e.to)
            .and_then(|e| e.comment),
        false => None,
    };
    Ok(FormPage {
        correcting,
        request,
        chrome: Chrome { nav: "cabinet", signed_in: true },
        items: items(&service, &a.answers, &problems),
        id: a.id,
        agency,
        service,
        problems,
        notice,
        rules,
        file_error: None,
    })
}

async fn status_page(
    state: &AppState,
    actor: &Actor,
    a: Application,
    notice: Option<String>,
    error: Option<String>,
) -> Result<StatusPage, AppError> {
    let service = state.catalog.service(&a.service_id).ok_or(AppError::NotFound)?;
    let workflow = state.catalog.workflow(&service.workflow).ok_or(AppError::NotFound)?;
    let state_of = |id: &str| workflow.state(id);
    let title_of = |id: &str| {
        if id == DRAFT {
            "Черновик".to_owned()
        } else {
            state_of(id).map_or(id.to_owned(), |s| s.title.clone())
        }
    };
    let today = domain::moscow_date(state.clock.now());
    let progress = match (a.submitted_at, a.due_on) {
        (Some(at), Some(due)) => {
            deadline::progress(&state.calendar, domain::moscow_date(at), due, today).ok()
        }
        _ => None,
    };
    let steps = steps(state, actor, &a, workflow).await?;
    let actions = workflow
        .available(&a.status, Role::Applicant)
        .map(|t| Action {
            id: t.id.clone(),
            title: t.title.clone(),
            needs_comment: t.needs_comment,
            confirm: t.id == "cancel",
        })
        .collect();
    let copy = services::form::lines(service, &a.answers);
    let current = state_of(&a.status);
    let files = state
        .applications
        .files(actor, &a.id)
        .await?
        .into_iter()
        .map(|f| {
            let label = service
                .attachments
                .iter()
                .find(|r| r.id == f.rule)
                .map_or(f.rule.clone(), |r| r.label.clone());
            (label, f.id, f.name, size_text(f.size))
        })
        .collect();
    let date = |d: Option<chrono::NaiveDate>| {
        d.map(|d| d.format("%d.%m.%Y").to_string()).unwrap_or_default()
    };
    let has_result = current.is_some_and(|s| s.issues_result);
    let signature_file =
        has_result && state.applications.result_signature(actor, &a.id).await?.is_some();
    Ok(StatusPage {
        signature_file,
        chrome: Chrome { nav: "cabinet", signed_in: true },
        service_title: service.title.clone(),
        agency: state.catalog.agency(&service.agency).map(|x| x.name.clone()).unwrap_or_default(),
        status_title: title_of(&a.status),
        final_state: current.is_some_and(|s| s.r#final),
        paused: current.is_some_and(|s| s.pauses_deadline),
        editable: current.is_some_and(|s| s.pauses_deadline),
        has_result,
        files,
        submitted: a.submitted_at.map(msk).unwrap_or_default(),
        due: date(a.due_on),
        act_by: date(a.act_by),
        progress,
        steps,
        actions,
        copy,
        notice,
        error,
        a,
    })
}

async fn post_form(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let action =
        pairs.iter().find(|(k, _)| k == "action").map_or("save", |(_, v)| v.as_str()).to_owned();
    let mut answers = answers_of(&pairs);
    // Rows added or removed without JavaScript.
    if let Some(group) = action.strip_prefix("add_row:") {
        match answers.get_mut(group) {
            Some(Answer::Rows(rows)) => rows.push(BTreeMap::new()),
            _ => {
                answers.insert(group.to_owned(), Answer::Rows(vec![BTreeMap::new()]));
            }
        }
    }
    if let Some(rest) = action.strip_prefix("remove_row:")
        && let Some((group, n)) = rest.rsplit_once(':')
        && let Ok(n) = n.parse::<usize>()
        && let Some(Answer::Rows(rows)) = answers.get_mut(group)
        && n < rows.len()
    {
        rows.remove(n);
    }
    let now = state.clock.now();
    let today = domain::moscow_date(now);
    let (a, problems) =
        state.applications.save(&session.account_id, &id, answers, today, now).await?;
    if action != "submit" {
        if action.starts_with("add_row:") || action.starts_with("remove_row:") {
            let actor = Actor::applicant(&session.account_id);
            return Ok(form_page(&state, &actor, a, problems, None).await?.into_response());
        }
        let back = if a.status == DRAFT { "" } else { "/edit" };
        return Ok(see_other(&format!("/cabinet/applications/{id}{back}?done=saved")));
    }
    let (who, _) = applicant(&state, &session.account_id).await?;
    if let Some(step) = correction(&state, &a) {
        let actor = Actor::applicant(&session.account_id);
        return match state.applications.act(&actor, &id, &step, None, &who, &origin, now).await {
            Ok(_) => Ok(see_other(&format!("/cabinet/applications/{id}?done={step}"))),
            Err(ApplicationError::Refused(message)) => {
                let mut page = form_page(&state, &actor, a, problems, None).await?;
                page.file_error = Some(message);
                Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
            }
            Err(e) => Err(e.into()),
        };
    }
    match state.applications.submit(&who, &id, &origin, now).await? {
        Ok(_) => Ok(see_other(&format!("/cabinet/applications/{id}?done=submitted"))),
        Err(problems) => {
            let actor = Actor::applicant(&session.account_id);
            let page = form_page(&state, &actor, a, problems, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// Autosave (htmx, on every change): saves the answers as typed and says so.
async fn autosave(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let answers = answers_of(&pairs);
    let today = domain::moscow_date(now);
    state.applications.save(&session.account_id, &id, answers, today, now).await?;
    let at = msk(now);
    let time = at.split(' ').nth(1).unwrap_or_default();
    Ok(format!("Черновик сохранён в {time}").into_response())
}

#[derive(Debug, Deserialize)]
struct ActForm {
    transition: String,
    #[serde(default)]
    comment: Option<String>,
}

async fn act(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<ActForm>,
) -> Result<Response, AppError> {
    let (who, _) = applicant(&state, &session.account_id).await?;
    let actor = Actor::applicant(&session.account_id);
    let result = state
        .applications
        .act(&actor, &id, &f.transition, f.comment.as_deref(), &who, &origin, state.clock.now())
        .await;
    match result {
        Ok(_) => Ok(see_other(&format!("/cabinet/applications/{id}?done={}", f.transition))),
        Err(ApplicationError::Refused(message)) => refused_step(&state, &actor, &id, message).await,
        Err(e) => Err(e.into()),
    }
}

/// The status page again with why a step was refused (422).
async fn refused_step(
    state: &AppState,
    actor: &Actor,
    id: &str,
    message: String,
) -> Result<Response, AppError> {
    let a = state.applications.get(actor, id).await?;
    let page = status_page(state, actor, a, None, Some(message)).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

#[derive(Debug, Deserialize)]
struct AskForm {
    #[serde(default)]
    question: String,
}

/// «Спросить о статусе»: the question goes to the agency, on the timeline.
async fn ask(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<AskForm>,
) -> Result<Response, AppError> {
    let (who, _) = applicant(&state, &session.account_id).await?;
    let actor = Actor::applicant(&session.account_id);
    match state.applications.note(&actor, &id, &f.question, &who, &origin, state.clock.now()).await
    {
        Ok(_) => Ok(see_other(&format!("/cabinet/applications/{id}?done=question"))),
        Err(ApplicationError::Refused(message)) => refused_step(&state, &actor, &id, message).await,
        Err(e) => Err(e.into()),
    }
}

/// «Отправить на почту»: the result document goes to the confirmed e-mail, attached.
async fn send_result(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let (who, _) = applicant(&state, &session.account_id).await?;
    let actor = Actor::applicant(&session.account_id);
    match state.applications.send_result(&actor, &id, &who, &origin, state.clock.now()).await {
        Ok(_) => Ok(see_other(&format!("/cabinet/applications/{id}?done=sent"))),
        Err(ApplicationError::Refused(message)) => refused_step(&state, &actor, &id, message).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "results.html")]
struct ResultsPage {
    chrome: Chrome,
    documents: Vec<services::applications::Issued>,
}

impl ResultsPage {
    fn issued(&self, d: &services::applications::Issued) -> String {
        msk(d.issued_at)
    }
}

/// «Полученные документы»: every result document issued to the person.
async fn results_page(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<ResultsPage, AppError> {
    let documents = state.applications.issued(&session.account_id).await?;
    Ok(ResultsPage { chrome: Chrome { nav: "cabinet", signed_in: true }, documents })
}

// --- «Мои заявки» --------------------------------------------------------------------------

#[derive(Debug)]
struct Line {
    id: String,
    number: String,
    service: String,
    status: String,
    draft: bool,
    updated: String,
    due: String,
    overdue: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "applications.html")]
struct MinePage {
    chrome: Chrome,
    q: MineQuery,
    lines: Vec<Line>,
    services: Vec<(String, String)>,
    statuses: Vec<(String, String)>,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "notifications.html")]
struct NoticesPage {
    chrome: Chrome,
    /// (when, application id, number, service, text, comment)
    notices: Vec<(String, String, String, String, String, String)>,
    channels: crate::applications::Channels,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ChannelsForm {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    sms: Option<String>,
}

/// The choice of channels for copies of notices (the form on «Уведомления»).
async fn channels_submit(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(f): Form<ChannelsForm>,
) -> Result<Response, AppError> {
    let (email, sms) = (f.email.is_some(), f.sms.is_some());
    match crate::applications::set_channels(&state, &session.account_id, email, sms, &origin).await
    {
        Ok(()) => Ok(see_other("/cabinet/notifications?done=channels")),
        Err(AppError::Refused { message, .. }) => {
            let page = notices(&state, &session.account_id, None, Some(message)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

/// «Уведомления»: the newest steps on the person's applications (in-app, always).
async fn notices_page(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<NoticesPage, AppError> {
    let notice =
        q.done.filter(|d| d == "channels").map(|_| "Настройки уведомлений сохранены.".to_owned());
    notices(&state, &session.account_id, notice, None).await
}

async fn notices(
    state: &AppState,
    account_id: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Result<NoticesPage, AppError> {
    let notices = state
        .applications
        .notices(account_id, 100)
        .await?
        .into_iter()
        .map(|n| {
            (
                msk(n.at),
                n.application_id,
                n.number,
                n.service,
                n.text,
                n.comment.unwrap_or_default(),
            )
        })
        .collect();
    Ok(NoticesPage {
        chrome: Chrome { nav: "cabinet", signed_in: true },
        notices,
        channels: crate::applications::channels(state, account_id).await?,
        notice,
        error,
    })
}

async fn mine_page(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Query(q): Query<MineQuery>,
) -> Result<Response, AppError> {
    let mut q = q;
    q.limit = Some(200);
    let (list, error) = match mine_filter(&q) {
        Ok(filter) => (state.applications.mine(&session.account_id, &filter).await?, None),
        Err(AppError::Refused { message, .. }) => (Vec::new(), Some(message)),
        Err(e) => return Err(e),
    };
    let today = domain::moscow_date(state.clock.now());
    let lines = list
        .iter()
        .map(|a| {
            let service = state.catalog.service(&a.service_id);
            let workflow = service.and_then(|s| state.catalog.workflow(&s.workflow));
            let current = workflow.and_then(|w| w.state(&a.status));
            Line {
                id: a.id.clone(),
                number: a.number.clone().unwrap_or_else(|| "—".into()),
                service: service.map(|s| s.title.clone()).unwrap_or_else(|| a.service_id.clone()),
                status: if a.status == DRAFT {
                    "Черновик".into()
                } else {
                    current.map_or(a.status.clone(), |s| s.title.clone())
                },
                draft: a.status == DRAFT,
                updated: msk(a.updated_at),
                due: a.due_on.map(|d| d.format("%d.%m.%Y").to_string()).unwrap_or_default(),
                overdue: a.due_on.is_some_and(|d| d < today)
                    && !current.is_some_and(|s| s.r#final || s.pauses_deadline),
            }
        })
        .collect();
    let services =
        state.catalog.services().iter().map(|s| (s.id.clone(), s.title.clone())).collect();
    let statuses = [
        ("draft", "Черновик"),
        ("submitted", "Принята"),
        ("in_review", "В проверке"),
        ("clarification", "Требуется уточнение"),
        ("approved", "Одобрена"),
        ("rejected", "Отклонена"),
        ("appeal", "Жалоба на рассмотрении"),
        ("cancelled", "Отменена"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = MinePage {
        chrome: Chrome { nav: "cabinet", signed_in: true },
        q,
        lines,
        services,
        statuses,
        error,
    };
    Ok((status, page).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posted_names_become_answers() {
        let pairs = vec![
            ("action".to_owned(), "save".to_owned()),
            ("purpose".to_owned(), "Для суда".to_owned()),
            ("kids.1.name".to_owned(), "Оля".to_owned()),
            ("kids.0.name".to_owned(), "Петя".to_owned()),
            ("kids.0.born".to_owned(), "01.01.2020".to_owned()),
        ];
        let a = answers_of(&pairs);
        assert_eq!(a["purpose"], Answer::Value("Для суда".into()));
        let Answer::Rows(rows) = &a["kids"] else { panic!("rows") };
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["name"], "Петя");
        assert_eq!(rows[1]["name"], "Оля");
        assert!(!a.contains_key("action"));
    }
}
