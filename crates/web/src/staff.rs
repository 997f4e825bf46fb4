//! The staff side of the portal: sign-in at `/staff/login` with its own cookie, the
//! forced change of a one-time password, role extractors, and the operator's workstation
//! (`/staff`: find a person, view, confirm; enter documents; register on the spot).
//!
//! Handlers for staff take one of the extractors: [`StaffSignedIn`] (any role, password
//! already changed) or [`StaffWithRole`] through its aliases [`OperatorSignedIn`],
//! [`OfficerSignedIn`], [`AdminSignedIn`]. Without a session they redirect to the
//! sign-in page, with a one-time password to `/staff/password`, and a wrong role gets a
//! 403 page in Russian.

use std::collections::HashMap;
use std::marker::PhantomData;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use identity::IdentityError;
use identity::documents::DocumentsForm;
use identity::staff::{OnTheSpotForm, PersonCard, PersonLookup, StaffRole, StaffSession};

use crate::error::sentence;
use crate::session::ClientOrigin;
use crate::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/login", get(login_form).post(login_submit))
        .route("/staff/logout", post(logout))
        .route("/staff/password", get(password_page).post(password_submit))
        .route("/staff/me", get(me))
        .route("/staff", get(workstation))
        .route("/staff/search", post(search))
        .route("/staff/persons/{id}", get(person))
        .route("/staff/persons/{id}/confirm", post(confirm))
        .route("/staff/persons/{id}/temporary-password", post(temporary_password))
        .route("/staff/persons/{id}/documents", get(documents_form).post(documents_submit))
        .route("/staff/register", get(register_form).post(register_submit))
}

// --- the cookie and the extractors -------------------------------------------------------

/// The staff cookie's name, apart from citizens' (`__Host-` under TLS).
fn cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-uslugi_staff" } else { "uslugi_staff" }
}

pub(crate) fn staff_token(parts: &Parts, secure: bool) -> Option<String> {
    let name = cookie_name(secure);
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// `Set-Cookie` for a staff session (HttpOnly, SameSite=Strict: staff never arrive by a
/// link from another site).
fn staff_cookie(state: &AppState, token: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let value = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}",
        cookie_name(state.secure_cookies)
    );
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
}

async fn staff_session_of(
    parts: &Parts,
    state: &AppState,
) -> Result<Option<StaffSession>, AppError> {
    let Some(token) = staff_token(parts, state.secure_cookies) else {
        return Ok(None);
    };
    Ok(state.identity.staff_session(&token, state.clock.now()).await?)
}

/// A signed-in staff member, possibly still with a one-time password (only the password
/// page and sign-out take this one).
#[derive(Debug, Clone)]
pub struct StaffAny(pub StaffSession);

impl FromRequestParts<AppState> for StaffAny {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match staff_session_of(parts, state).await {
            Ok(Some(s)) => Ok(Self(s)),
            Ok(None) => Err(Redirect::to("/staff/login").into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// A signed-in staff member of any role who has replaced the one-time password.
#[derive(Debug, Clone)]
pub struct StaffSignedIn(pub StaffSession);

impl FromRequestParts<AppState> for StaffSignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let StaffAny(session) = StaffAny::from_request_parts(parts, state).await?;
        if session.staff.must_change_password {
            return Err(Redirect::to("/staff/password").into_response());
        }
        Ok(Self(session))
    }
}

impl StaffSignedIn {
    /// A 403 (Russian page) unless the member has one of `roles`.
    pub fn require(&self, roles: &[StaffRole]) -> Result<&StaffSession, AppError> {
        self.0.staff.require(roles).map_err(AppError::from)?;
        Ok(&self.0)
    }
}

/// The roles a [`StaffWithRole`] extractor lets through.
pub trait RequiredRoles {
    const ROLES: &'static [StaffRole];
}

/// Operators of service centres.
#[derive(Debug)]
pub struct Operators;
impl RequiredRoles for Operators {
    const ROLES: &'static [StaffRole] = &[StaffRole::Operator];
}

/// Officers of agencies and their heads of department.
#[derive(Debug)]
pub struct Officers;
impl RequiredRoles for Officers {
    const ROLES: &'static [StaffRole] = &[StaffRole::Officer, StaffRole::Head];
}

/// Heads of department only.
#[derive(Debug)]
pub struct Heads;
impl RequiredRoles for Heads {
    const ROLES: &'static [StaffRole] = &[StaffRole::Head];
}

/// Administrators.
#[derive(Debug)]
pub struct Admins;
impl RequiredRoles for Admins {
    const ROLES: &'static [StaffRole] = &[StaffRole::Admin];
}

/// A signed-in staff member with one of `R::ROLES`; another role gets a 403 page.
#[derive(Debug)]
pub struct StaffWithRole<R: RequiredRoles>(pub StaffSession, PhantomData<R>);

impl<R: RequiredRoles> StaffWithRole<R> {
    pub fn session(&self) -> &StaffSession {
        &self.0
    }
}

impl<R: RequiredRoles + Send + Sync> FromRequestParts<AppState> for StaffWithRole<R> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let signed_in = StaffSignedIn::from_request_parts(parts, state).await?;
        signed_in.require(R::ROLES).map_err(IntoResponse::into_response)?;
        Ok(Self(signed_in.0, PhantomData))
    }
}

pub type OperatorSignedIn = StaffWithRole<Operators>;
pub type OfficerSignedIn = StaffWithRole<Officers>;
pub type HeadSignedIn = StaffWithRole<Heads>;
pub type AdminSignedIn = StaffWithRole<Admins>;

// --- page chrome -------------------------------------------------------------------------

/// The staff layout's header: who is signed in and which menu item is current.
#[derive(Debug, Clone, Default)]
pub struct StaffChrome {
    pub nav: &'static str,
    /// «Смирнова О. П.», when signed in.
    pub name: Option<String>,
    pub role: &'static str,
    pub operator: bool,
    /// Administrators see the pages of the platform's settings (OIDC clients).
    pub admin: bool,
    /// Officers, heads and administrators process applications.
    pub back_office: bool,
}

impl StaffChrome {
    pub fn of(session: &StaffSession, nav: &'static str) -> Self {
        Self {
            nav,
            name: Some(session.staff.short_name()),
            role: session.staff.role.label(),
            operator: session.staff.role == StaffRole::Operator,
            admin: session.staff.role == StaffRole::Admin,
            back_office: session.staff.role != StaffRole::Operator,
        }
    }
}

type Values = HashMap<String, String>;

fn value(values: &Values, name: &str) -> String {
    values.get(name).cloned().unwrap_or_default()
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Field errors by field name, plus a refusal of the whole form.
#[derive(Debug, Default)]
struct FormErrors {
    fields: Vec<(&'static str, String)>,
    general: Option<String>,
}

impl FormErrors {
    /// Internal failures become the 500/503 page; refusals stay on the form.
    fn of(e: IdentityError) -> Result<Self, AppError> {
        if e.is_internal() {
            return Err(e.into());
        }
        Ok(match e {
            IdentityError::Fields(list) => Self {
                fields: list.iter().map(|(f, err)| (*f, err.to_string())).collect(),
                general: None,
            },
            other => Self { fields: Vec::new(), general: Some(sentence(&other.to_string())) },
        })
    }

    fn get(&self, field: &str) -> Option<&String> {
        self.fields.iter().find(|(f, _)| *f == field).map(|(_, m)| m)
    }

    fn any(&self) -> bool {
        !self.fields.is_empty() || self.general.is_some()
    }

    fn summary(&self) -> Vec<(&'static str, &'static str, &String)> {
        self.fields.iter().map(|(f, m)| (*f, label(f), m)).collect()
    }
}

fn label(field: &str) -> &'static str {
    match field {
        "surname" => "Фамилия",
        "given_name" => "Имя",
        "patronymic" => "Отчество",
        "birth_date" => "Дата рождения",
        "birth_place" => "Место рождения",
        "passport" => "Паспорт",
        "passport_series" => "Серия паспорта",
        "passport_number" => "Номер паспорта",
        "passport_issued_on" => "Дата выдачи",
        "passport_issued_by" => "Кем выдан",
        "passport_division" => "Код подразделения",
        "snils" => "СНИЛС",
        "inn" => "ИНН",
        "address" => "Адрес регистрации",
        "contact" => "Телефон или электронная почта",
        "passport_shown" => "Паспорт предъявлен",
        "consent" => "Согласие гражданина",
        "q" => "Что искать",
        _ => "Поле",
    }
}

/// The documents form's fields: (name, label, hint, value, validation kind for app.js).
fn document_fields(
    f: &DocumentsForm,
) -> Vec<(&'static str, &'static str, &'static str, &str, &'static str)> {
    vec![
        ("surname", "Фамилия", "Как в паспорте", &f.surname, "name"),
        ("given_name", "Имя", "Как в паспорте", &f.given_name, "name"),
        ("patronymic", "Отчество", "Если есть", &f.patronymic, "name"),
        ("birth_date", "Дата рождения", "ДД.ММ.ГГГГ", &f.birth_date, "birth-date"),
        ("birth_place", "Место рождения", "Как в паспорте", &f.birth_place, ""),
        ("passport_series", "Серия паспорта", "4 цифры", &f.passport_series, ""),
        ("passport_number", "Номер паспорта", "6 цифр", &f.passport_number, ""),
        ("passport_issued_on", "Дата выдачи", "ДД.ММ.ГГГГ", &f.passport_issued_on, ""),
        ("passport_issued_by", "Кем выдан", "Как в паспорте", &f.passport_issued_by, ""),
        (
            "passport_division",
            "Код подразделения",
            "NNN-NNN",
            &f.passport_division,
            "division-code",
        ),
        ("snils", "СНИЛС", "11 цифр", &f.snils, "snils"),
        ("inn", "ИНН", "Необязательно", &f.inn, "inn"),
        ("address", "Адрес регистрации", "Полностью, с индексом", &f.address, ""),
    ]
}

/// The documents typed into a form (unknown names are ignored).
fn documents_of(values: &Values) -> DocumentsForm {
    serde_json::to_value(values)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

// --- sign-in, sign-out, password ---------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "staff_login.html")]
struct LoginPage {
    chrome: StaffChrome,
    login: String,
    error: Option<String>,
}

async fn login_form() -> LoginPage {
    LoginPage {
        chrome: StaffChrome { nav: "login", ..Default::default() },
        login: String::new(),
        error: None,
    }
}

async fn login_submit(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let login = value(&values, "login");
    match state.identity.staff_sign_in(&login, &value(&values, "password"), &origin, now).await {
        Ok(session) => {
            let to = if session.must_change_password {
                "/staff/password"
            } else if session.role == StaffRole::Operator {
                "/staff"
            } else {
                "/staff/me"
            };
            let mut response = see_other(to);
            let max_age = (session.expires_at - now).num_seconds().max(0);
            response
                .headers_mut()
                .insert(header::SET_COOKIE, staff_cookie(&state, &session.token, max_age));
            Ok(response)
        }
        Err(e) => {
            let status = crate::error::refusal_status(&e);
            let error = FormErrors::of(e)?.general;
            let chrome = StaffChrome { nav: "login", ..Default::default() };
            Ok((status, LoginPage { chrome, login, error }).into_response())
        }
    }
}

async fn logout(
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    session: Option<StaffAny>,
) -> Result<Response, AppError> {
    if let Some(StaffAny(session)) = session {
        state.identity.staff_sign_out(&session, &origin, state.clock.now()).await?;
    }
    let mut response = see_other("/staff/login");
    response.headers_mut().insert(header::SET_COOKIE, staff_cookie(&state, "", 0));
    Ok(response)
}

impl axum::extract::OptionalFromRequestParts<AppState> for StaffAny {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, AppError> {
        Ok(staff_session_of(parts, state).await?.map(Self))
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_password.html")]
struct PasswordPage {
    chrome: StaffChrome,
    first: bool,
    rules: Vec<String>,
    unmet: Vec<String>,
    error: Option<String>,
}

fn password_rules(state: &AppState) -> Vec<String> {
    let p = &state.identity.policy().password;
    let mut rules = vec![format!("от {} до {} символов", p.min_len, p.max_len)];
    if p.upper && p.lower {
        rules.push("заглавные и строчные буквы".into());
    }
    if p.digit {
        rules.push("хотя бы одна цифра".into());
    }
    if !p.specials.is_empty() {
        let list: Vec<String> = p.specials.chars().map(String::from).collect();
        rules.push(format!("хотя бы один из символов {}", list.join(" ")));
    }
    rules.push("не совпадает с выданным и не простой для подбора".into());
    rules
}

impl PasswordPage {
    fn new(state: &AppState, session: &StaffSession) -> Self {
        Self {
            chrome: StaffChrome::of(session, "password"),
            first: session.staff.must_change_password,
            rules: password_rules(state),
            unmet: Vec::new(),
            error: None,
        }
    }
}

async fn password_page(StaffAny(session): StaffAny, State(state): State<AppState>) -> PasswordPage {
    PasswordPage::new(&state, &session)
}

async fn password_submit(
    StaffAny(session): StaffAny,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let (current, password, repeat) =
        (value(&values, "current"), value(&values, "password"), value(&values, "repeat"));
    match state
        .identity
        .change_staff_password(&session, &current, &password, &repeat, &origin, state.clock.now())
        .await
    {
        Ok(()) => Ok(see_other(if session.staff.role == StaffRole::Operator {
            "/staff?done=password"
        } else {
            "/staff/me?done=password"
        })),
        Err(e) => {
            let status = crate::error::refusal_status(&e);
            let mut page = PasswordPage::new(&state, &session);
            match e {
                IdentityError::WeakPassword(unmet) => page.unmet = unmet,
                other => page.error = FormErrors::of(other)?.general,
            }
            Ok((status, page).into_response())
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_me.html")]
struct MePage {
    chrome: StaffChrome,
    notice: Option<&'static str>,
    full_name: String,
    login: String,
    role: &'static str,
    center: Option<String>,
    agency: Option<String>,
    last_sign_in: String,
}

#[derive(Debug, serde::Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

fn done_notice(q: &DoneQuery) -> Option<&'static str> {
    q.done.as_deref().map(|d| match d {
        "password" => "Пароль изменён. Другие сеансы завершены.",
        "confirmed" => "Учётная запись подтверждена. Гражданину отправлено уведомление.",
        "documents" => {
            "Документы отправлены на проверку в ведомства. Когда их подтвердят, учётная запись \
             станет подтверждённой автоматически: паспорт вы проверили."
        }
        _ => "Готово.",
    })
}

async fn me(
    StaffSignedIn(session): StaffSignedIn,
    State(state): State<AppState>,
    Query(q): Query<DoneQuery>,
) -> Result<MePage, AppError> {
    let staff = &session.staff;
    let center = match &staff.center_id {
        Some(id) => identity::centers::get(&mut *state.db.conn().await?, id)
            .await?
            .map(|c| format!("{} ({})", c.name, c.address)),
        None => None,
    };
    Ok(MePage {
        chrome: StaffChrome::of(&session, "me"),
        notice: done_notice(&q),
        full_name: staff.full_name.clone(),
        login: staff.login.clone(),
        role: staff.role.label(),
        center,
        agency: staff.agency.clone(),
        last_sign_in: staff.last_sign_in_at.map(crate::account::msk).unwrap_or_default(),
    })
}

// --- the operator's workstation ----------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "staff_search.html")]
struct SearchPage {
    chrome: StaffChrome,
    notice: Option<&'static str>,
    by: String,
    q: String,
    errors: FormErrors,
    /// Several accounts share the passport searched for: their ids.
    several: Vec<String>,
    nobody: bool,
}

impl SearchPage {
    fn new(session: &StaffSession) -> Self {
        Self {
            chrome: StaffChrome::of(session, "search"),
            notice: None,
            by: "snils".into(),
            q: String::new(),
            errors: FormErrors::default(),
            several: Vec::new(),
            nobody: false,
        }
    }

    fn kinds(&self) -> [(&'static str, &'static str); 3] {
        [
            ("snils", "СНИЛС"),
            ("passport", "Паспорт (серия и номер)"),
            ("contact", "Телефон или почта"),
        ]
    }
}

/// The staff home: operators search for a person; officers, heads and administrators
/// go to the applications of their agencies.
async fn workstation(staff: StaffSignedIn, Query(q): Query<DoneQuery>) -> Response {
    if staff.0.staff.role != StaffRole::Operator {
        return Redirect::to("/staff/applications").into_response();
    }
    let mut page = SearchPage::new(&staff.0);
    page.notice = done_notice(&q);
    page.into_response()
}

async fn search(
    operator: OperatorSignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let session = operator.session();
    let (by, q) = (value(&values, "by"), value(&values, "q"));
    let lookup = match by.as_str() {
        "passport" => PersonLookup::Passport(q.clone()),
        "contact" => PersonLookup::Contact(q.clone()),
        _ => PersonLookup::Snils(q.clone()),
    };
    let mut page = SearchPage::new(session);
    page.by = by;
    page.q = q;
    match state.identity.operator_find(&session.staff, &lookup, &origin, state.clock.now()).await {
        Ok(found) if found.len() == 1 => Ok(see_other(&format!("/staff/persons/{}", found[0]))),
        Ok(found) => {
            page.nobody = found.is_empty();
            page.several = found;
            Ok(page.into_response())
        }
        Err(e) => {
            let mut errors = FormErrors::of(e)?;
            // The lookup names its own field; on this form it is the one box.
            for (field, _) in &mut errors.fields {
                *field = "q";
            }
            page.errors = errors;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_person.html")]
struct PersonPage {
    chrome: StaffChrome,
    notice: Option<&'static str>,
    /// A temporary password just issued: shown to the operator once, to hand over.
    temporary: Option<String>,
    card: PersonCard,
    level_label: &'static str,
    documents_label: &'static str,
    birth_date: String,
    refused: Vec<&'static str>,
    errors: FormErrors,
}

async fn person_page(
    state: &AppState,
    session: &StaffSession,
    origin: &journal::Origin,
    id: &str,
    notice: Option<&'static str>,
    errors: FormErrors,
) -> Result<PersonPage, AppError> {
    let card = state.identity.operator_view(&session.staff, id, origin, state.clock.now()).await?;
    Ok(PersonPage {
        chrome: StaffChrome::of(session, "search"),
        notice,
        temporary: None,
        level_label: crate::account::level_label(&card.level),
        documents_label: card.documents.map_or("Не указаны", |s| s.label()),
        birth_date: card.birth_date.map(|d| d.format("%d.%m.%Y").to_string()).unwrap_or_default(),
        refused: card.refused_fields.iter().map(|f| label(f)).collect(),
        card,
        errors,
    })
}

async fn person(
    operator: OperatorSignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<PersonPage, AppError> {
    person_page(&state, operator.session(), &origin, &id, done_notice(&q), FormErrors::default())
        .await
}

async fn confirm(
    operator: OperatorSignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let session = operator.session();
    let shown = values.contains_key("passport_shown");
    match state
        .identity
        .operator_confirm(&session.staff, &id, shown, &origin, state.clock.now())
        .await
    {
        Ok(()) => Ok(see_other(&format!("/staff/persons/{id}?done=confirmed"))),
        Err(e) => {
            let status = crate::error::refusal_status(&e);
            let errors = FormErrors::of(e)?;
            let page = person_page(&state, session, &origin, &id, None, errors).await?;
            Ok((status, page).into_response())
        }
    }
}

async fn temporary_password(
    operator: OperatorSignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let session = operator.session();
    let shown = values.contains_key("passport_shown");
    let now = state.clock.now();
    match state.identity.operator_temporary_password(&session.staff, &id, shown, &origin, now).await
    {
        Ok(password) => {
            let mut page =
                person_page(&state, session, &origin, &id, None, FormErrors::default()).await?;
            page.temporary = Some(password);
            let mut response = page.into_response();
            response.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            Ok(response)
        }
        Err(e) => {
            let status = crate::error::refusal_status(&e);
            let errors = FormErrors::of(e)?;
            let page = person_page(&state, session, &origin, &id, None, errors).await?;
            Ok((status, page).into_response())
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_documents.html")]
struct DocumentsPage {
    chrome: StaffChrome,
    /// `None` on the registration form.
    account_id: Option<String>,
    form: DocumentsForm,
    contact: String,
    passport_shown: bool,
    consent: bool,
    errors: FormErrors,
}

impl DocumentsPage {
    fn fields(&self) -> Vec<(&'static str, &'static str, &'static str, &str, &'static str)> {
        document_fields(&self.form)
    }

    fn action(&self) -> String {
        match &self.account_id {
            Some(id) => format!("/staff/persons/{id}/documents"),
            None => "/staff/register".into(),
        }
    }
}

async fn documents_form(
    operator: OperatorSignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<DocumentsPage, AppError> {
    let session = operator.session();
    // The names the person registered with start the form.
    let account = match state.identity.account(&id).await {
        Ok(a) => a,
        Err(IdentityError::RegistrationGone) => return Err(IdentityError::PersonNotFound.into()),
        Err(e) => return Err(e.into()),
    };
    Ok(DocumentsPage {
        chrome: StaffChrome::of(session, "search"),
        account_id: Some(id),
        form: DocumentsForm {
            surname: account.surname,
            given_name: account.given_name,
            patronymic: account.patronymic.unwrap_or_default(),
            ..Default::default()
        },
        contact: String::new(),
        passport_shown: false,
        consent: false,
        errors: FormErrors::default(),
    })
}

async fn documents_submit(
    operator: OperatorSignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let session = operator.session();
    let form = documents_of(&values);
    let shown = values.contains_key("passport_shown");
    match state
        .identity
        .operator_submit_documents(&session.staff, &id, &form, shown, &origin, state.clock.now())
        .await
    {
        Ok(()) => Ok(see_other(&format!("/staff/persons/{id}?done=documents"))),
        Err(e) => {
            let status = crate::error::refusal_status(&e);
            let page = DocumentsPage {
                chrome: StaffChrome::of(session, "search"),
                account_id: Some(id),
                form,
                contact: String::new(),
                passport_shown: shown,
                consent: false,
                errors: FormErrors::of(e)?,
            };
            Ok((status, page).into_response())
        }
    }
}

async fn register_form(operator: OperatorSignedIn) -> DocumentsPage {
    DocumentsPage {
        chrome: StaffChrome::of(operator.session(), "register"),
        account_id: None,
        form: DocumentsForm::default(),
        contact: String::new(),
        passport_shown: false,
        consent: false,
        errors: FormErrors::default(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_registered.html")]
struct RegisteredPage {
    chrome: StaffChrome,
    code: String,
    masked_contact: String,
    expires: String,
    activate_url: String,
}

async fn register_submit(
    operator: OperatorSignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let session = operator.session();
    let form = OnTheSpotForm {
        documents: documents_of(&values),
        contact: value(&values, "contact"),
        passport_shown: values.contains_key("passport_shown"),
        consent: values.contains_key("consent"),
    };
    match state.identity.operator_register(&session.staff, &form, &origin, state.clock.now()).await
    {
        Ok(activation) => Ok(RegisteredPage {
            chrome: StaffChrome::of(session, "register"),
            code: activation.code,
            masked_contact: activation.masked_contact,
            expires: crate::account::msk(activation.expires_at),
            activate_url: "/activate".into(),
        }
        .into_response()),
        Err(e) => {
            let status = crate::error::refusal_status(&e);
            let page = DocumentsPage {
                chrome: StaffChrome::of(session, "register"),
                account_id: None,
                form: form.documents,
                contact: form.contact,
                passport_shown: form.passport_shown,
                consent: form.consent,
                errors: FormErrors::of(e)?,
            };
            Ok((status, page).into_response())
        }
    }
}

// --- naming staff in a person's journal --------------------------------------------------

/// Who acted, for each journal row of a person: «Вы», «Система», or the staff member
/// («Оператор Смирнова О. П., МФЦ …») — so the person sees who accessed their data.
pub(crate) async fn actor_names(
    state: &AppState,
    rows: &[store::journal::JournalRow],
) -> Result<Vec<String>, AppError> {
    let mut ids: Vec<&str> = rows
        .iter()
        .filter(|r| matches!(r.actor_kind.as_str(), "operator" | "officer" | "admin"))
        .filter_map(|r| r.actor_id.as_deref())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let staff = state.identity.staff_by_ids(&ids).await?;
    let mut names = HashMap::new();
    for member in staff {
        let place = match &member.center_id {
            Some(id) => identity::centers::get(&mut *state.db.conn().await?, id)
                .await?
                .map(|c| format!(", {}", c.name))
                .unwrap_or_default(),
            None => member.agency.as_deref().map(|a| format!(", {a}")).unwrap_or_default(),
        };
        let role = sentence(member.role.label());
        names.insert(member.id.clone(), format!("{role} {}{place}", member.short_name()));
    }
    Ok(rows
        .iter()
        .map(|r| match r.actor_kind.as_str() {
            "citizen" => "Вы".to_owned(),
            "system" => "Портал".to_owned(),
            "anonymous" => "—".to_owned(),
            _ => r
                .actor_id
                .as_deref()
                .and_then(|id| names.get(id).cloned())
                .unwrap_or_else(|| "Сотрудник".to_owned()),
        })
        .collect())
}
