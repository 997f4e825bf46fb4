//! Account pages: registration (form → code → password), sign-in, sign-out, the cabinet.
//! Each page works without JavaScript; on a refusal the page comes back with what was
//! typed (passwords excepted) and the reason in Russian.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use identity::{
    AccountView, IdentityError, Proof, RegistrationForm, RegistrationState, SessionView,
};

use crate::error::sentence;
use crate::session::{Chrome, ClientOrigin, SignedIn, Viewer, clear_cookie, session_cookie};
use crate::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/register", get(register_form).post(register_submit))
        .route("/register/{token}", get(confirm_page).post(confirm_submit))
        .route("/register/{token}/resend", post(resend))
        .route("/register/{token}/link/{link}", get(confirm_link))
        .route("/register/{token}/password", get(password_page).post(password_submit))
        .route("/login", get(login_form).post(login_submit))
        .route("/logout", post(logout))
        .route("/cabinet", get(cabinet))
        .route("/cabinet/password", get(change_password_page).post(change_password_submit))
        .route("/cabinet/sessions/end-others", post(end_other_sessions))
        .route("/cabinet/documents", get(documents_page).post(documents_submit))
        .route("/cabinet/contacts", post(contact_start))
        .route("/cabinet/contacts/{token}", get(contact_code_page).post(contact_code_submit))
        .route("/cabinet/contacts/{token}/resend", post(contact_resend))
        .route("/recovery", get(recovery_form).post(recovery_submit))
        .route("/recovery/{token}", get(recovery_code_page).post(recovery_code_submit))
        .route("/recovery/{token}/resend", post(recovery_resend))
        .route(
            "/recovery/{token}/password",
            get(recovery_password_page).post(recovery_password_submit),
        )
}

pub(crate) type Values = HashMap<String, String>;

pub(crate) fn value(values: &Values, name: &str) -> String {
    values.get(name).cloned().unwrap_or_default()
}

/// Field errors by field name, plus refusals that concern the whole form.
#[derive(Debug, Default)]
pub(crate) struct FormErrors {
    pub(crate) fields: Vec<(&'static str, String)>,
    pub(crate) general: Option<String>,
}

impl FormErrors {
    fn from(e: &IdentityError) -> Self {
        match e {
            IdentityError::Fields(list) => Self {
                fields: list.iter().map(|(f, err)| (*f, err.to_string())).collect(),
                general: None,
            },
            other => Self { fields: Vec::new(), general: Some(sentence(&other.to_string())) },
        }
    }

    pub(crate) fn get(&self, field: &str) -> Option<&String> {
        self.fields.iter().find(|(f, _)| *f == field).map(|(_, m)| m)
    }

    /// The refusal as one line: the general reason, or `label: what is wrong` of `field`.
    fn message(&self, field: &str, label: &str) -> Option<String> {
        self.general.clone().or_else(|| self.get(field).map(|m| format!("{label}: {m}")))
    }

    pub(crate) fn any(&self) -> bool {
        !self.fields.is_empty() || self.general.is_some()
    }
}

/// Internal failures become the 500/503 page; refusals stay on the form.
pub(crate) fn refusal(e: IdentityError) -> Result<FormErrors, AppError> {
    if e.is_internal() { Err(e.into()) } else { Ok(FormErrors::from(&e)) }
}

fn label(field: &str) -> &'static str {
    match field {
        "surname" => "Фамилия",
        "given_name" => "Имя",
        "patronymic" => "Отчество",
        "contact" => "Телефон или электронная почта",
        "accept_terms" => "Условия использования",
        "accept_pd" => "Персональные данные",
        _ => "Поле",
    }
}

pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

// --- registration, step 1 ----------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "register.html")]
struct RegisterPage {
    chrome: Chrome,
    surname: String,
    given_name: String,
    patronymic: String,
    contact: String,
    accept_terms: bool,
    accept_pd: bool,
    errors: FormErrors,
    terms_version: String,
    pd_version: String,
}

impl RegisterPage {
    fn new(viewer: &Viewer, state: &AppState, values: &Values, errors: FormErrors) -> Self {
        Self {
            chrome: viewer.chrome("register"),
            surname: value(values, "surname"),
            given_name: value(values, "given_name"),
            patronymic: value(values, "patronymic"),
            contact: value(values, "contact"),
            accept_terms: values.contains_key("accept_terms"),
            accept_pd: values.contains_key("accept_pd"),
            errors,
            terms_version: state.identity.policy().terms_version.clone(),
            pd_version: state.identity.policy().pd_version.clone(),
        }
    }

    /// The three name fields: (name, label, hint, value, autocomplete).
    fn name_fields(&self) -> [(&'static str, &'static str, &'static str, &str, &'static str); 3] {
        [
            (
                "surname",
                "Фамилия",
                "Как в паспорте, русскими буквами",
                &self.surname,
                "family-name",
            ),
            ("given_name", "Имя", "Русскими буквами", &self.given_name, "given-name"),
            ("patronymic", "Отчество", "Если есть", &self.patronymic, "additional-name"),
        ]
    }

    fn summary(&self) -> Vec<(&'static str, &'static str, &String)> {
        self.errors.fields.iter().map(|(f, m)| (*f, label(f), m)).collect()
    }
}

async fn register_form(viewer: Viewer, State(state): State<AppState>) -> RegisterPage {
    RegisterPage::new(&viewer, &state, &Values::new(), FormErrors::default())
}

async fn register_submit(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let form = RegistrationForm {
        surname: value(&values, "surname"),
        given_name: value(&values, "given_name"),
        patronymic: value(&values, "patronymic"),
        contact: value(&values, "contact"),
        accept_terms: values.contains_key("accept_terms"),
        accept_pd: values.contains_key("accept_pd"),
    };
    match state.identity.start_registration(&form, &origin, state.clock.now()).await {
        Ok(token) => Ok(see_other(&format!("/register/{token}"))),
        Err(e) => {
            let errors = refusal(e)?;
            let page = RegisterPage::new(&viewer, &state, &values, errors);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

// --- registration, step 2: the code ------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "register_confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    token: String,
    masked: String,
    by_email: bool,
    resend_in: i64,
    minutes: i64,
    error: Option<String>,
    sent_again: bool,
}

fn confirm_view(
    viewer: &Viewer,
    state: &AppState,
    token: String,
    reg: &RegistrationState,
    error: Option<String>,
    sent_again: bool,
) -> ConfirmPage {
    let now = state.clock.now();
    ConfirmPage {
        chrome: viewer.chrome("register"),
        token,
        masked: reg.masked_contact.clone(),
        by_email: reg.contact_kind == "email",
        resend_in: (reg.resend_at - now).num_seconds().max(0),
        minutes: state.identity.policy().code_ttl.num_minutes(),
        error,
        sent_again,
    }
}

/// The code page again, with why the code or the resend was refused.
async fn confirm_refused(
    viewer: &Viewer,
    state: &AppState,
    token: String,
    e: IdentityError,
    status: StatusCode,
) -> Result<Response, AppError> {
    let message = refusal(e)?.general;
    let reg = state.identity.registration(&token, state.clock.now()).await?;
    Ok((status, confirm_view(viewer, state, token, &reg, message, false)).into_response())
}

#[derive(Debug, serde::Deserialize)]
struct SentQuery {
    sent: Option<String>,
}

async fn confirm_page(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<SentQuery>,
) -> Result<Response, AppError> {
    let reg = state.identity.registration(&token, state.clock.now()).await?;
    if reg.completed {
        return Ok(see_other("/login"));
    }
    if reg.confirmed {
        return Ok(see_other(&format!("/register/{token}/password")));
    }
    Ok(confirm_view(&viewer, &state, token, &reg, None, q.sent.is_some()).into_response())
}

async fn confirm_submit(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let code = value(&values, "code");
    match state.identity.confirm_registration(&token, Proof::Code(&code), &origin, now).await {
        Ok(()) => Ok(see_other(&format!("/register/{token}/password"))),
        Err(e) => {
            confirm_refused(&viewer, &state, token, e, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn resend(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    match state.identity.resend_registration_code(&token, &origin, now).await {
        Ok(()) => Ok(see_other(&format!("/register/{token}?sent=1"))),
        Err(e) => confirm_refused(&viewer, &state, token, e, StatusCode::TOO_MANY_REQUESTS).await,
    }
}

async fn confirm_link(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path((token, link)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    match state.identity.confirm_registration(&token, Proof::Link(&link), &origin, now).await {
        Ok(()) => Ok(see_other(&format!("/register/{token}/password"))),
        Err(e) => {
            confirm_refused(&viewer, &state, token, e, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

// --- registration, step 3: the password --------------------------------------------------

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
    rules.push("не распространённый и не простой для подбора".into());
    rules
}

async fn password_page(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let reg = state.identity.registration(&token, state.clock.now()).await?;
    if !reg.confirmed {
        return Ok(see_other(&format!("/register/{token}")));
    }
    if reg.completed {
        return Ok(see_other("/login"));
    }
    Ok(NewPasswordPage::registration(
        &state,
        viewer.chrome("register"),
        &token,
        &reg.masked_contact,
    )
    .into_response())
}

async fn password_submit(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let password = value(&values, "password");
    let repeat = value(&values, "repeat");
    match state.identity.complete_registration(&token, &password, &repeat, &origin, now).await {
        Ok(session) => Ok(signed_in_redirect(&state, &session.token, session.expires_at, now)),
        Err(e) => {
            let reg = state.identity.registration(&token, now).await?;
            if reg.completed {
                // A second submit of a finished registration: the account exists.
                return Ok(see_other("/login"));
            }
            NewPasswordPage::registration(
                &state,
                viewer.chrome("register"),
                &token,
                &reg.masked_contact,
            )
            .refused(e)
        }
    }
}

fn signed_in_redirect(
    state: &AppState,
    token: &str,
    expires: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Response {
    signed_in_to(state, "/cabinet", token, expires, now)
}

/// The answer to a completed sign-in: the session cookie and a redirect to `to`, or to a
/// relying party's authorization request that was waiting for the sign-in.
pub(crate) fn signed_in_to(
    state: &AppState,
    to: &str,
    token: &str,
    expires: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Response {
    let mut response = see_other(to);
    let max_age = (expires - now).num_seconds().max(0);
    response.headers_mut().insert(header::SET_COOKIE, session_cookie(state, token, max_age));
    response
}

// --- sign-in and sign-out ----------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub(crate) struct LoginPage {
    pub(crate) chrome: Chrome,
    pub(crate) login: String,
    pub(crate) error: Option<String>,
    pub(crate) notice: Option<String>,
    /// Shown after three failed sign-ins from the address or for the login.
    pub(crate) captcha: Option<identity::security::Captcha>,
}

#[derive(Debug, serde::Deserialize)]
struct LoginQuery {
    recovered: Option<String>,
    blocked: Option<String>,
    closing: Option<String>,
    expired: Option<String>,
    /// `spoken`: the accessible alternative to the captcha image.
    captcha: Option<String>,
}

async fn login_form(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Result<Response, AppError> {
    if viewer.0.is_some() {
        return Ok(see_other("/cabinet"));
    }
    let now = state.clock.now();
    let notice = if q.recovered.is_some() {
        Some("Пароль изменён, все сеансы завершены. Войдите с новым паролем.")
    } else if q.blocked.is_some() {
        Some("Учётная запись заблокирована, все сеансы завершены. Чтобы разблокировать её, восстановите доступ.")
    } else if q.closing.is_some() {
        Some("Учётная запись будет удалена через 30 дней. До этого удаление можно отменить, восстановив доступ.")
    } else if q.expired.is_some() {
        Some("Время для подтверждения входа истекло. Войдите снова.")
    } else {
        None
    }
    .map(str::to_owned);
    let spoken = q.captcha.as_deref() == Some("spoken");
    let captcha = if spoken || state.identity.captcha_needed_for("", &origin, now).await? {
        Some(state.identity.new_captcha(spoken, now).await?)
    } else {
        None
    };
    // A relying party may name who signs in (`login_hint`): it only pre-fills the field.
    let (csp, hint) = crate::oidc_routes::sign_in_page_context(&state, &headers).await;
    let page = LoginPage {
        chrome: viewer.chrome("login"),
        login: hint.unwrap_or_default(),
        error: None,
        notice,
        captcha,
    };
    Ok((csp, page).into_response())
}

async fn login_submit(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let login = value(&values, "login");
    let password = value(&values, "password");
    let (captcha_id, captcha_answer) =
        (value(&values, "captcha_id"), value(&values, "captcha_answer"));
    let device = crate::session::device_token(&headers, state.secure_cookies);
    let attempt = identity::SignInAttempt {
        login: &login,
        password: &password,
        captcha: (!captcha_id.is_empty()).then_some((captcha_id.as_str(), captcha_answer.as_str())),
        device_token: device.as_deref(),
    };
    match state.identity.sign_in(&attempt, &origin, now).await {
        Ok(identity::SignIn::Session(session)) => {
            let to = crate::session::return_to(&headers, state.secure_cookies);
            let mut response = signed_in_to(
                &state,
                to.as_deref().unwrap_or("/cabinet"),
                &session.token,
                session.expires_at,
                now,
            );
            if to.is_some() {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, crate::session::clear_return_cookie(&state));
            }
            Ok(response)
        }
        Ok(identity::SignIn::SecondFactor(challenge)) => {
            Ok(see_other(&format!("/login/factor/{}", challenge.token)))
        }
        Err(e) => {
            let status = crate::error::refusal_status(&e);
            let error = refusal(e)?.general;
            let spoken = value(&values, "captcha_kind") == "spoken";
            let captcha = if state.identity.captcha_needed_for(&login, &origin, now).await? {
                Some(state.identity.new_captcha(spoken, now).await?)
            } else {
                None
            };
            let page =
                LoginPage { chrome: viewer.chrome("login"), login, error, notice: None, captcha };
            let csp = crate::oidc_routes::sign_in_csp(&state, &headers).await;
            Ok((status, csp, page).into_response())
        }
    }
}

async fn logout(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    if let Some(session) = &viewer.0 {
        state.identity.sign_out(session, &origin, state.clock.now()).await?;
    }
    let mut response = see_other("/");
    response.headers_mut().insert(header::SET_COOKIE, clear_cookie(&state));
    Ok(response)
}

// --- the cabinet -------------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "cabinet.html")]
struct CabinetPage {
    chrome: Chrome,
    notice: Option<String>,
    contact: ContactForm,
    password_changed: String,
    account: AccountView,
    level: &'static str,
    sessions: Vec<SessionLine>,
    journal: Vec<JournalLine>,
}

struct SessionLine {
    s: SessionView,
    started: String,
    seen: String,
    current: bool,
}

struct JournalLine {
    at: String,
    what: &'static str,
    /// Who acted: «Вы», «Портал» or the staff member who accessed the data.
    who: String,
    ok: bool,
    ip: String,
    device: String,
}

/// Moscow time as pages show it.
pub fn msk(at: DateTime<Utc>) -> String {
    at.with_timezone(&domain::clock::moscow()).format("%d.%m.%Y %H:%M").to_string()
}

pub(crate) fn level_label(level: &str) -> &'static str {
    match level {
        "standard" => "Стандартная",
        "confirmed" => "Подтверждённая",
        _ => "Упрощённая",
    }
}

fn action_label(action: &str) -> &'static str {
    match action {
        "account.registered" => "Регистрация учётной записи",
        "signin.ok" => "Вход",
        "signin.failed" => "Неудачная попытка входа",
        "signin.refused" => "Вход отклонён: учётная запись заблокирована",
        "account.locked" => "Вход заблокирован после неверных паролей",
        "session.ended" => "Выход",
        "code.failed" => "Неверный код подтверждения",
        "contact.confirmed" => "Контакт подтверждён",
        "password.changed" => "Пароль изменён",
        "documents.submitted" => "Документы отправлены на проверку",
        "documents.waiting" => "Проверка документов ждёт ответа ведомств",
        "documents.verified" => "Документы проверены",
        "documents.refused" => "Документы не подтверждены",
        "account.confirmed" => "Учётная запись подтверждена",
        "oidc.consent" => "Разрешён доступ к данным для сервиса",
        "oidc.signin" => "Вход в сервис через портал",
        "oidc.unlinked" => "Сервис отвязан",
        "signature.refused" => "Подтверждение электронной подписью отклонено",
        "letter.requested" => "Заказано письмо с кодом подтверждения",
        "letter.printed" => "Письмо с кодом отправлено",
        "letter.used" => "Код из письма принят",
        "letter.code_failed" => "Неверный код из письма",
        "letter.cancelled" => "Письмо с кодом отменено",
        "letter.expired" => "Срок кода из письма истёк",
        "staff.person_found" => "Оператор центра обслуживания нашёл вашу учётную запись",
        "staff.person_viewed" => "Оператор центра обслуживания просмотрел ваши данные",
        "staff.confirm_refused" => "Оператор не подтвердил учётную запись: она упрощённая",
        "account.activated" => "Учётная запись активирована",
        "activation.started" => "Активация учётной записи начата",
        "activation.failed" => "Неверный код активации",
        "bank.started" => "Подтверждение через банк начато",
        "bank.refused" => "Подтверждение через банк: данные не совпали",
        "bank.failed" => "Подтверждение через банк не завершено",
        _ => "Действие",
    }
}

#[derive(Debug, serde::Deserialize)]
struct CabinetQuery {
    done: Option<String>,
}

async fn cabinet(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Query(q): Query<CabinetQuery>,
) -> Result<CabinetPage, AppError> {
    let notice = q.done.as_deref().map(|done| {
        match done {
            "password" => "Пароль изменён. Другие сеансы завершены.",
            "sessions" => "Другие сеансы завершены.",
            "contact" => "Контакт подтверждён и привязан к учётной записи.",
            _ => "Готово.",
        }
        .to_owned()
    });
    cabinet_page(&session, &state, notice, ContactForm::default()).await
}

/// The cabinet's contact form as typed, with why it was refused.
#[derive(Debug, Default)]
struct ContactForm {
    value: String,
    error: Option<String>,
}

async fn cabinet_page(
    session: &identity::SessionInfo,
    state: &AppState,
    notice: Option<String>,
    contact: ContactForm,
) -> Result<CabinetPage, AppError> {
    let now = state.clock.now();
    let account = state.identity.account(&session.account_id).await?;
    let sessions = state
        .identity
        .sessions(&session.account_id, now)
        .await?
        .into_iter()
        .map(|s| SessionLine {
            started: msk(s.created_at),
            seen: msk(s.last_seen_at),
            current: s.id == session.id,
            s,
        })
        .collect();
    let rows = journal::Journal::new(state.db.clone()).for_subject(&session.account_id, 30).await?;
    let who = crate::staff::actor_names(state, &rows).await?;
    let journal = rows
        .into_iter()
        .zip(who)
        .map(|(r, who)| JournalLine {
            at: msk(store::from_micros(r.at)),
            who,
            what: action_label(&r.action),
            ok: r.outcome == "ok",
            ip: r.ip.unwrap_or_default(),
            device: identity::device_of(r.user_agent.as_deref()),
        })
        .collect();
    Ok(CabinetPage {
        chrome: Chrome { nav: "cabinet", signed_in: true },
        notice,
        contact,
        password_changed: msk(account.password_changed_at),
        level: level_label(&account.level),
        account,
        sessions,
        journal,
    })
}

// --- documents: the standard account --------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "documents.html")]
struct DocumentsPage {
    chrome: Chrome,
    level: &'static str,
    status: Option<identity::documents::CheckStatus>,
    status_label: &'static str,
    verified_at: String,
    checked_at: String,
    reasons: Vec<(&'static str, String)>,
    form: identity::documents::DocumentsForm,
    errors: FormErrors,
    in_force: Option<identity::documents::PersonalData>,
}

fn documents_label(field: &str) -> &'static str {
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
        _ => "Поле",
    }
}

impl DocumentsPage {
    /// The form's fields: (name, label, hint, value, validation kind for app.js).
    fn fields(&self) -> Vec<(&'static str, &'static str, &'static str, &str, &'static str)> {
        let f = &self.form;
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
                "NNN-NNN, например 770-001",
                &f.passport_division,
                "division-code",
            ),
            ("snils", "СНИЛС", "11 цифр, например 123-456-789 64", &f.snils, "snils"),
            ("inn", "ИНН", "Необязательно: найдём в ФНС сами", &f.inn, "inn"),
            (
                "address",
                "Адрес регистрации",
                "Полностью, с индексом, как в паспорте",
                &f.address,
                "",
            ),
        ]
    }

    fn summary(&self) -> Vec<(&'static str, &'static str, &String)> {
        self.errors.fields.iter().map(|(f, m)| (*f, documents_label(f), m)).collect()
    }
}

async fn render_documents(
    session: &identity::SessionInfo,
    state: &AppState,
    typed: Option<identity::documents::DocumentsForm>,
    errors: FormErrors,
) -> Result<DocumentsPage, AppError> {
    // The check's state first, then the level: a verification that commits in between
    // raises the level in the same commit, so the page never shows «Проверено» beside
    // the old level.
    let view = state.identity.documents(&session.account_id).await?;
    let account = state.identity.account(&session.account_id).await?;
    let form = typed.unwrap_or_else(|| {
        view.pending
            .as_ref()
            .or(view.verified.as_ref())
            .map(identity::documents::PersonalData::to_form)
            .unwrap_or_else(|| identity::documents::DocumentsForm {
                surname: account.surname.clone(),
                given_name: account.given_name.clone(),
                patronymic: account.patronymic.clone().unwrap_or_default(),
                ..Default::default()
            })
    });
    Ok(DocumentsPage {
        chrome: Chrome { nav: "cabinet", signed_in: true },
        level: level_label(&account.level),
        status: view.status,
        status_label: view.status.map_or("", |s| s.label()),
        verified_at: view.verified_at.map(msk).unwrap_or_default(),
        checked_at: view.checked_at.map(msk).unwrap_or_default(),
        reasons: view.reasons.into_iter().map(|(f, r)| (documents_label(&f), r)).collect(),
        form,
        errors,
        in_force: view.verified,
    })
}

async fn documents_page(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<DocumentsPage, AppError> {
    render_documents(&session, &state, None, FormErrors::default()).await
}

async fn documents_submit(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(form): Form<identity::documents::DocumentsForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    match state.identity.submit_documents(&session.account_id, &form, &origin, now).await {
        Ok(_) => Ok(see_other("/cabinet/documents")),
        Err(e) => {
            let errors = refusal(e)?;
            let page = render_documents(&session, &state, Some(form), errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

// --- codes of recovery and contact change ------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "code.html")]
struct CodePage {
    chrome: Chrome,
    title: &'static str,
    lead: &'static str,
    action: String,
    masked: String,
    resend_in: i64,
    minutes: i64,
    error: Option<String>,
    sent_again: bool,
}

async fn code_page(
    state: &AppState,
    chrome: Chrome,
    recovery: bool,
    token: &str,
    error: Option<String>,
    sent_again: bool,
) -> Result<CodePage, AppError> {
    let now = state.clock.now();
    let flow = state.identity.flow(recovery, token, now).await?;
    let (title, lead, action) = if recovery {
        (
            "Восстановление доступа",
            "Если контакт привязан к учётной записи, мы отправили код на",
            format!("/recovery/{token}"),
        )
    } else {
        ("Подтверждение контакта", "Мы отправили код на", format!("/cabinet/contacts/{token}"))
    };
    Ok(CodePage {
        chrome,
        title,
        lead,
        action,
        masked: flow.masked_contact,
        resend_in: (flow.resend_at - now).num_seconds().max(0),
        minutes: state.identity.policy().code_ttl.num_minutes(),
        error,
        sent_again,
    })
}

// --- recovery ----------------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "recovery.html")]
struct RecoveryPage {
    chrome: Chrome,
    login: String,
    error: Option<String>,
}

async fn recovery_form(viewer: Viewer) -> RecoveryPage {
    RecoveryPage { chrome: viewer.chrome("login"), login: String::new(), error: None }
}

async fn recovery_submit(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let login = value(&values, "login");
    match state.identity.start_recovery(&login, &origin, state.clock.now()).await {
        Ok(token) => Ok(see_other(&format!("/recovery/{token}"))),
        Err(e) => {
            let errors = refusal(e)?;
            let error = errors.message("login", "Телефон или почта");
            let page = RecoveryPage { chrome: viewer.chrome("login"), login, error };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

async fn recovery_code_page(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<SentQuery>,
) -> Result<Response, AppError> {
    let flow = state.identity.flow(true, &token, state.clock.now()).await?;
    if flow.confirmed {
        return Ok(see_other(&format!("/recovery/{token}/password")));
    }
    Ok(code_page(&state, viewer.chrome("login"), true, &token, None, q.sent.is_some())
        .await?
        .into_response())
}

async fn recovery_code_submit(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let code = value(&values, "code");
    match state.identity.confirm_flow(true, &token, &code, None, &origin, state.clock.now()).await {
        Ok(()) => Ok(see_other(&format!("/recovery/{token}/password"))),
        Err(e) => {
            let error = refusal(e)?.general;
            let page =
                code_page(&state, viewer.chrome("login"), true, &token, error, false).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

async fn recovery_resend(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    match state.identity.resend_flow_code(true, &token, &origin, state.clock.now()).await {
        Ok(()) => Ok(see_other(&format!("/recovery/{token}?sent=1"))),
        Err(e) => {
            let error = refusal(e)?.general;
            let page =
                code_page(&state, viewer.chrome("login"), true, &token, error, false).await?;
            Ok((StatusCode::TOO_MANY_REQUESTS, page).into_response())
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "new_password.html")]
struct NewPasswordPage {
    chrome: Chrome,
    title: &'static str,
    /// Registration shows its steps and the confirmed contact.
    registration: Option<String>,
    action: String,
    ask_current: bool,
    /// Signed in with a temporary password that must be replaced now.
    temporary: bool,
    rules: Vec<String>,
    unmet: Vec<String>,
    error: Option<String>,
}

impl NewPasswordPage {
    fn registration(state: &AppState, chrome: Chrome, token: &str, masked: &str) -> Self {
        Self {
            chrome,
            title: "Придумайте пароль",
            registration: Some(masked.to_owned()),
            action: format!("/register/{token}/password"),
            ask_current: false,
            temporary: false,
            rules: password_rules(state),
            unmet: Vec::new(),
            error: None,
        }
    }

    fn recovery(state: &AppState, chrome: Chrome, token: &str) -> Self {
        Self {
            chrome,
            title: "Новый пароль",
            registration: None,
            action: format!("/recovery/{token}/password"),
            ask_current: false,
            temporary: false,
            rules: password_rules(state),
            unmet: Vec::new(),
            error: None,
        }
    }

    fn change(state: &AppState, temporary: bool) -> Self {
        Self {
            chrome: Chrome { nav: "cabinet", signed_in: true },
            title: if temporary {
                "Смените временный пароль"
            } else {
                "Изменение пароля"
            },
            registration: None,
            action: "/cabinet/password".into(),
            ask_current: true,
            temporary,
            rules: password_rules(state),
            unmet: Vec::new(),
            error: None,
        }
    }

    /// The page again with the reason a password was refused.
    fn refused(mut self, e: IdentityError) -> Result<Response, AppError> {
        match e {
            IdentityError::WeakPassword(unmet) => self.unmet = unmet,
            other => self.error = refusal(other)?.general,
        }
        Ok((StatusCode::UNPROCESSABLE_ENTITY, self).into_response())
    }
}

async fn recovery_password_page(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let flow = state.identity.flow(true, &token, state.clock.now()).await?;
    if !flow.confirmed {
        return Ok(see_other(&format!("/recovery/{token}")));
    }
    Ok(NewPasswordPage::recovery(&state, viewer.chrome("login"), &token).into_response())
}

async fn recovery_password_submit(
    viewer: Viewer,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let (password, repeat) = (value(&values, "password"), value(&values, "repeat"));
    match state
        .identity
        .complete_recovery(&token, &password, &repeat, &origin, state.clock.now())
        .await
    {
        Ok(()) => {
            let mut response = see_other("/login?recovered=1");
            response.headers_mut().insert(header::SET_COOKIE, clear_cookie(&state));
            Ok(response)
        }
        Err(e) => NewPasswordPage::recovery(&state, viewer.chrome("login"), &token).refused(e),
    }
}

// --- the cabinet's settings --------------------------------------------------------------

async fn change_password_page(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> NewPasswordPage {
    NewPasswordPage::change(&state, session.must_change)
}

async fn change_password_submit(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let (current, password, repeat) =
        (value(&values, "current"), value(&values, "password"), value(&values, "repeat"));
    match state
        .identity
        .change_password(&session, &current, &password, &repeat, &origin, state.clock.now())
        .await
    {
        Ok(()) => Ok(see_other("/cabinet?done=password")),
        Err(e) => NewPasswordPage::change(&state, session.must_change).refused(e),
    }
}

async fn end_other_sessions(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    state.identity.end_other_sessions(&session, &origin, state.clock.now()).await?;
    Ok(see_other("/cabinet?done=sessions"))
}

async fn contact_start(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let contact = value(&values, "contact");
    match state.identity.start_contact_change(&session, &contact, &origin, state.clock.now()).await
    {
        Ok(token) => Ok(see_other(&format!("/cabinet/contacts/{token}"))),
        Err(e) => {
            // Shown in place, beside the field, with what was typed.
            let status = crate::error::refusal_status(&e);
            let error = refusal(e)?.message("contact", "Телефон или почта");
            let form = ContactForm { value: contact, error };
            let page = cabinet_page(&session, &state, None, form).await?;
            Ok((status, page).into_response())
        }
    }
}

async fn contact_code_page(
    SignedIn(_): SignedIn,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<SentQuery>,
) -> Result<CodePage, AppError> {
    code_page(
        &state,
        Chrome { nav: "cabinet", signed_in: true },
        false,
        &token,
        None,
        q.sent.is_some(),
    )
    .await
}

async fn contact_code_submit(
    SignedIn(session): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(values): Form<Values>,
) -> Result<Response, AppError> {
    let code = value(&values, "code");
    match state
        .identity
        .confirm_flow(false, &token, &code, Some(&session), &origin, state.clock.now())
        .await
    {
        Ok(()) => Ok(see_other("/cabinet?done=contact")),
        Err(e) => {
            let error = refusal(e)?.general;
            let chrome = Chrome { nav: "cabinet", signed_in: true };
            let page = code_page(&state, chrome, false, &token, error, false).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

async fn contact_resend(
    SignedIn(_): SignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    match state.identity.resend_flow_code(false, &token, &origin, state.clock.now()).await {
        Ok(()) => Ok(see_other(&format!("/cabinet/contacts/{token}?sent=1"))),
        Err(e) => {
            let error = refusal(e)?.general;
            let chrome = Chrome { nav: "cabinet", signed_in: true };
            let page = code_page(&state, chrome, false, &token, error, false).await?;
            Ok((StatusCode::TOO_MANY_REQUESTS, page).into_response())
        }
    }
}
