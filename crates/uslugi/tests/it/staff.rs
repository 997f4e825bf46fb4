//! Staff accounts and the service-centre route: the `uslugi staff` commands, staff
//! sign-in with the forced password change, roles, the operator's search/view/confirm
//! (journaled for the person), registration on the spot with activation, and the
//! directory of service centres.

use std::process::Command;

use chrono::Duration;
use serde_json::{Value, json};

use crate::accounts::PASSWORD;
use crate::support::{TestApp, on_both_backends};

const BIN: &str = env!("CARGO_BIN_EXE_uslugi");
pub const STAFF_PASSWORD: &str = "Рабочий-Стол-2026!";

/// `uslugi staff …` against the app's database and data directory → (exit code, stdout,
/// stderr).
pub fn cli(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(&app.dir).env_remove("RUST_LOG");
    for key in uslugi::settings::KEYS {
        cmd.env_remove(format!("USLUGI_{}", key.to_uppercase()));
    }
    let dir = app.dir.display().to_string();
    let mut all = vec!["staff", args[0], "--data-dir", &dir, "--database-url", &app.database_url];
    all.extend(&args[1..]);
    let out = cmd.args(&all).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The one-time password a CLI command printed.
pub fn printed_password(stdout: &str) -> String {
    stdout
        .split_whitespace()
        .find(|w| w.len() == 14 && w.matches('-').count() == 2)
        .unwrap_or_else(|| panic!("no password in {stdout}"))
        .to_owned()
}

/// A browser without JavaScript, holding the staff cookie by hand.
pub struct StaffClient<'a> {
    app: &'a TestApp,
    cookie: String,
}

/// A page answer: status, `Location`, body.
pub struct Answer {
    pub status: u16,
    pub location: String,
    pub body: String,
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let location =
        r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    Answer { status, location, body: r.text().await.unwrap() }
}

/// Signs in at `/staff/login` → (answer, client holding the cookie).
pub async fn staff_login<'a>(
    app: &'a TestApp,
    login: &str,
    password: &str,
) -> (Answer, StaffClient<'a>) {
    let r = app
        .http
        .post(app.url("/staff/login"))
        .form(&[("login", login), ("password", password)])
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .to_owned();
    (answer(r).await, StaffClient { app, cookie })
}

impl StaffClient<'_> {
    /// The `Cookie` header this client sends.
    pub fn cookie(&self) -> &str {
        &self.cookie
    }

    pub async fn get(&self, path: &str) -> Answer {
        let r = self.app.http.get(self.app.url(path)).header("cookie", &self.cookie).send().await;
        answer(r.unwrap()).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        let r = self
            .app
            .http
            .post(self.app.url(path))
            .header("cookie", &self.cookie)
            .form(form)
            .send()
            .await;
        answer(r.unwrap()).await
    }
}

/// Signs in with a one-time password and replaces it; returns the client.
pub async fn staff_ready<'a>(app: &'a TestApp, login: &str, one_time: &str) -> StaffClient<'a> {
    let (a, client) = staff_login(app, login, one_time).await;
    assert_eq!((a.status, a.location.as_str()), (303, "/staff/password"), "{}", a.body);
    let a = client
        .post(
            "/staff/password",
            &[("current", one_time), ("password", STAFF_PASSWORD), ("repeat", STAFF_PASSWORD)],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    client
}

/// The demo staff member with `login`.
pub fn demo(app: &TestApp, login: &str) -> String {
    app.demo_staff().into_iter().find(|s| s.login == login).unwrap().password
}

async fn api(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = match method {
        "POST" => app.http.post(app.url(path)),
        _ => app.http.get(app.url(path)),
    }
    .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn maria() -> Value {
    json!({
        "surname": "Демидова", "given_name": "Мария", "patronymic": "Ивановна",
        "birth_date": "12.04.1988", "birth_place": "г. Москва",
        "passport_series": "4510", "passport_number": "654321",
        "passport_issued_on": "25.04.2008", "passport_issued_by": "ОВД района Хамовники г. Москвы",
        "passport_division": "770-005", "snils": "12345678964", "inn": "",
        "address": "119021, г. Москва, ул. Льва Толстого, д. 16, кв. 5"
    })
}

/// A documents form (as pairs) from a JSON object of strings.
fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

/// The documents of person `i` of the starter registry (seed 2026), as the form wants.
fn registry_person(i: u64) -> Value {
    let p = registry::demo::persons(2026, i, 1).remove(0);
    json!({
        "surname": p.surname, "given_name": p.given_name,
        "patronymic": p.patronymic.unwrap_or_default(),
        "birth_date": p.birth_date.format("%d.%m.%Y").to_string(), "birth_place": p.birth_place,
        "passport_series": p.passport.series(), "passport_number": p.passport.number(),
        "passport_issued_on": p.passport_issued_on.format("%d.%m.%Y").to_string(),
        "passport_issued_by": p.passport_issued_by,
        "passport_division": p.passport_division.to_string(), "snils": p.snils.to_string(),
        "inn": "", "address": p.address
    })
}

/// `GET /api/v1/me` once `level` is reached (the documents worker is event-driven).
async fn level_when(app: &TestApp, token: &str, level: &str) -> Value {
    for _ in 0..20_000 {
        let (status, me) = app.me(token).await;
        assert_eq!(status, 200, "{me}");
        if me["level"] == json!(level) {
            return me;
        }
        tokio::task::yield_now().await;
    }
    panic!("the account never became {level}");
}

/// The demo citizen signed in and made standard (documents verified).
async fn standard_demo_citizen(app: &TestApp) -> String {
    let (login, password) = app.demo().unwrap();
    let (status, body) = app.sign_in(&login, &password).await;
    assert_eq!(status, 201, "{body}");
    let token = body["session"].as_str().unwrap().to_owned();
    let (status, _) = api(app, "POST", "/api/v1/me/documents", &token, Some(maria())).await;
    assert_eq!(status, 202);
    level_when(app, &token, "standard").await;
    token
}

fn person_id(location: &str) -> String {
    location.strip_prefix("/staff/persons/").unwrap().to_owned()
}

on_both_backends! {
    async fn staff_are_created_by_the_cli_and_must_change_the_one_time_password(app) {
        // Refusals name the option, in Russian.
        let (code, _, err) = cli(&app, &["add", "--login", "ivanova", "--name", "Иванова Анна Сергеевна", "--role", "operator"]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("--center: оператору нужен центр обслуживания"), "{err}");
        let (code, _, err) = cli(&app, &["add", "--login", "ivanova", "--name", "Иванова Анна Сергеевна", "--role", "operator", "--center", "nowhere"]);
        assert_eq!(code, 1);
        assert!(err.contains("такого центра нет в справочнике"), "{err}");

        let (code, out, err) = cli(&app, &["add", "--login", "Ivanova", "--name", "Иванова Анна Сергеевна", "--role", "operator", "--center", "mfc-moskva-tverskoy"]);
        assert_eq!(code, 0, "{err}");
        let one_time = printed_password(&out);
        let (code, _, err) = cli(&app, &["add", "--login", "ivanova", "--name", "Иванова Анна Сергеевна", "--role", "operator", "--center", "mfc-moskva-tverskoy"]);
        assert_eq!(code, 1);
        assert!(err.contains("--login: такой логин уже занят"), "{err}");
        let (_, out, _) = cli(&app, &["list"]);
        assert!(out.contains("ivanova\toperator\tmfc-moskva-tverskoy\tИванова Анна Сергеевна\tактивен, ждёт смены пароля"), "{out}");

        // A wrong password: the same Russian answer as an unknown login.
        let (a, _) = staff_login(&app, "ivanova", "Nope-nope-1!").await;
        assert_eq!(a.status, 401);
        assert!(a.body.contains("Неверный логин или пароль"), "{}", a.body);
        let (a, _) = staff_login(&app, "nobody", "Nope-nope-1!").await;
        assert_eq!(a.status, 401);

        // The one-time password lets in only as far as the password page.
        let (a, client) = staff_login(&app, "ivanova", &one_time).await;
        assert_eq!((a.status, a.location.as_str()), (303, "/staff/password"));
        let a = client.get("/staff").await;
        assert_eq!((a.status, a.location.as_str()), (303, "/staff/password"));
        let a = client.get("/staff/password").await;
        assert!(a.body.contains("Смените одноразовый пароль"), "{}", a.body);
        let a = client.post("/staff/password", &[("current", &one_time), ("password", "ivanova"), ("repeat", "ivanova")]).await;
        assert_eq!(a.status, 422);
        assert!(a.body.contains("Пароль не подходит"), "{}", a.body);
        let a = client.post("/staff/password", &[("current", &one_time), ("password", &one_time), ("repeat", &one_time)]).await;
        assert_eq!(a.status, 422);
        let a = client.post("/staff/password", &[("current", "wrong"), ("password", STAFF_PASSWORD), ("repeat", STAFF_PASSWORD)]).await;
        assert_eq!(a.status, 422);
        assert!(a.body.contains("Неверный текущий пароль"), "{}", a.body);
        let a = client.post("/staff/password", &[("current", &one_time), ("password", STAFF_PASSWORD), ("repeat", STAFF_PASSWORD)]).await;
        assert_eq!((a.status, a.location.as_str()), (303, "/staff?done=password"));
        let a = client.get("/staff").await;
        assert_eq!(a.status, 200);
        assert!(a.body.contains("Поиск гражданина") && a.body.contains("Иванова А. С."), "{}", a.body);
        let (a, _) = staff_login(&app, "ivanova", &one_time).await;
        assert_eq!(a.status, 401, "the one-time password is gone");

        // The session idles out like a citizen's.
        app.clock.advance(Duration::minutes(31));
        let a = client.get("/staff").await;
        assert_eq!((a.status, a.location.as_str()), (303, "/staff/login"));

        // Sign-out ends the session.
        let (_, client) = staff_login(&app, "ivanova", STAFF_PASSWORD).await;
        assert_eq!(client.get("/staff/me").await.status, 200);
        let a = client.post("/staff/logout", &[]).await;
        assert_eq!(a.location, "/staff/login");
        assert_eq!(client.get("/staff/me").await.status, 303);

        // A reset issues a new one-time password; the old password stops working.
        let (code, out, _) = cli(&app, &["reset-password", "ivanova"]);
        assert_eq!(code, 0);
        let again = printed_password(&out);
        let (a, _) = staff_login(&app, "ivanova", STAFF_PASSWORD).await;
        assert_eq!(a.status, 401);
        let (a, _) = staff_login(&app, "ivanova", &again).await;
        assert_eq!(a.location, "/staff/password");

        // Blocked: refused with a reason once the password is right, sessions gone.
        let (code, _, _) = cli(&app, &["block", "ivanova"]);
        assert_eq!(code, 0);
        let (a, _) = staff_login(&app, "ivanova", &again).await;
        assert_eq!(a.status, 403);
        assert!(a.body.contains("заблокирована"), "{}", a.body);
        let (code, _, _) = cli(&app, &["unblock", "ivanova"]);
        assert_eq!(code, 0);

        // Five wrong passwords lock sign-in, as for citizens.
        for _ in 0..4 {
            let (a, _) = staff_login(&app, "ivanova", "Wrong-pass-1!").await;
            assert_eq!(a.status, 401);
        }
        let (a, _) = staff_login(&app, "ivanova", "Wrong-pass-1!").await;
        assert_eq!(a.status, 423);
        assert!(a.body.contains("Вход заблокирован до"), "{}", a.body);
        let (a, _) = staff_login(&app, "ivanova", &again).await;
        assert_eq!(a.status, 423, "locked even with the right password");
        let (code, _, err) = cli(&app, &["block", "nobody"]);
        assert_eq!(code, 1);
        assert!(err.contains("Сотрудник с таким логином не найден"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_role_gets_a_russian_403_sqlite() {
    wrong_role(TestApp::spawn_with(store::Backend::Sqlite, |_, s| s.demo_data = true).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_role_gets_a_russian_403_postgres() {
    wrong_role(TestApp::spawn_with(store::Backend::Postgres, |_, s| s.demo_data = true).await)
        .await;
}

async fn wrong_role(app: TestApp) {
    // Nobody signed in: to the sign-in page.
    let a = answer(app.get("/staff").await).await;
    assert_eq!((a.status, a.location.as_str()), (303, "/staff/login"));
    // A citizen's session is no staff session.
    let (login, password) = app.demo().unwrap();
    let (_, body) = app.sign_in(&login, &password).await;
    let r = app
        .http
        .get(app.url("/staff"))
        .header("cookie", format!("uslugi_session={}", body["session"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);

    let officer = staff_ready(&app, "officer", &demo(&app, "officer")).await;
    let a = officer.get("/staff/me").await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("специалист ведомства") && a.body.contains("SFR"), "{}", a.body);
    // The staff home takes an officer to the applications of the agency.
    let a = officer.get("/staff").await;
    assert_eq!((a.status, a.location.as_str()), (303, "/staff/applications"));
    for path in ["/staff/register"] {
        let a = officer.get(path).await;
        assert_eq!(a.status, 403, "{path}");
        assert!(
            a.body.contains(
                "Недостаточно прав: действие доступно только роли «оператор центра обслуживания»"
            ),
            "{}",
            a.body
        );
        assert!(a.body.contains("<html lang=\"ru\">"));
    }
    let a = officer.post("/staff/search", &[("by", "snils"), ("q", "12345678964")]).await;
    assert_eq!(a.status, 403);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_finds_the_demo_person_by_snils_and_confirms_sqlite() {
    operator_confirms(TestApp::spawn_with(store::Backend::Sqlite, |_, s| s.demo_data = true).await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_finds_the_demo_person_by_snils_and_confirms_postgres() {
    operator_confirms(
        TestApp::spawn_with(store::Backend::Postgres, |_, s| s.demo_data = true).await,
    )
    .await;
}

async fn operator_confirms(app: TestApp) {
    let citizen = standard_demo_citizen(&app).await;
    let operator = staff_ready(&app, "operator", &demo(&app, "operator")).await;

    // A SNILS with a bad check digit is named; an unknown one finds nobody.
    let a = operator.post("/staff/search", &[("by", "snils"), ("q", "123-456-789 65")]).await;
    assert_eq!(a.status, 422);
    assert!(a.body.contains("Что искать: неверное контрольное число"), "{}", a.body);
    let a = operator.post("/staff/search", &[("by", "snils"), ("q", "112-233-445 95")]).await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("Никого не нашли"), "{}", a.body);

    let a = operator.post("/staff/search", &[("by", "snils"), ("q", "123-456-789 64")]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let id = person_id(&a.location);
    let a = operator.post("/staff/search", &[("by", "passport"), ("q", "4510 654321")]).await;
    assert_eq!(a.location, format!("/staff/persons/{id}"), "found by passport too");
    let card = operator.get(&a.location).await;
    assert_eq!(card.status, 200);
    for shown in [
        "Демидова Мария Ивановна",
        "Стандартная",
        "12.04.1988",
        "45** ***321",
        "***-***-*** 64",
        "+7 900 ***-**-01",
    ] {
        assert!(card.body.contains(shown), "{shown}: {}", card.body);
    }
    assert!(!card.body.contains("654321") && !card.body.contains("123-456-789"), "numbers masked");

    // The box must be ticked.
    let a = operator.post(&format!("/staff/persons/{id}/confirm"), &[]).await;
    assert_eq!(a.status, 422);
    assert!(a.body.contains("отметьте, что паспорт предъявлен и данные совпадают"), "{}", a.body);
    let a =
        operator.post(&format!("/staff/persons/{id}/confirm"), &[("passport_shown", "yes")]).await;
    assert_eq!(
        (a.status, a.location.clone()),
        (303, format!("/staff/persons/{id}?done=confirmed"))
    );
    let card = operator.get(&a.location).await;
    assert!(card.body.contains("Учётная запись подтверждена. Гражданину отправлено уведомление."));
    assert!(card.body.contains("data-level=\"confirmed\""), "{}", card.body);
    let (_, me) = app.me(&citizen).await;
    assert_eq!(me["level"], json!("confirmed"));
    let a =
        operator.post(&format!("/staff/persons/{id}/confirm"), &[("passport_shown", "yes")]).await;
    assert_eq!(a.status, 409);
    assert!(a.body.contains("Учётная запись уже подтверждена"));
    app.outbox_when(|m| {
        m.iter().any(|x| {
            x["template"] == json!("account.confirmed") && x["recipient"] == json!("+79000000001")
        })
    })
    .await;

    // The person sees who looked at their data and who confirmed, by name.
    let (status, journal) = api(&app, "GET", "/api/v1/me/journal", &citizen, None).await;
    assert_eq!(status, 200);
    let by_operator: Vec<&Value> = journal
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_kind"] == json!("operator"))
        .collect();
    let actions: Vec<&str> = by_operator.iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["staff.person_found", "staff.person_viewed", "account.confirmed"] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }
    assert!(by_operator.iter().all(|e| e["actor"]
        == json!(
            "Оператор центра обслуживания Смирнова О. П., МФЦ «Мои документы» района Тверской"
        )));
    let cabinet = app
        .http
        .get(app.url("/cabinet"))
        .header("cookie", format!("uslugi_session={citizen}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(cabinet.contains("Оператор центра обслуживания просмотрел ваши данные"), "{cabinet}");
    assert!(cabinet.contains("Смирнова О. П."), "{cabinet}");

    // No personal data in the journal's details; the empty search has no subject.
    let rows = sqlx::query_as::<_, (Option<String>, String, String)>(
        "SELECT subject_id, action, details FROM journal WHERE actor_kind = 'operator'",
    )
    .fetch_all(app.db().pool())
    .await
    .unwrap();
    assert!(
        rows.iter()
            .any(|(s, a, d)| s.is_none() && a == "staff.search" && d.contains("\"found\":0"))
    );
    for (_, _, details) in &rows {
        for secret in ["654321", "4510", "12345678964", "123-456-789", "Демидова"] {
            assert!(!details.contains(secret), "{details}");
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simplified_account_is_refused_then_documents_entered_by_the_operator_confirm_it_sqlite()
{
    simplified(TestApp::spawn_with(store::Backend::Sqlite, |_, s| s.demo_data = true).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simplified_account_is_refused_then_documents_entered_by_the_operator_confirm_it_postgres()
 {
    simplified(TestApp::spawn_with(store::Backend::Postgres, |_, s| s.demo_data = true).await)
        .await;
}

async fn simplified(app: TestApp) {
    let phone = "+79161234567";
    let citizen = app.register(phone).await;
    let operator = staff_ready(&app, "operator", &demo(&app, "operator")).await;
    let a = operator.post("/staff/search", &[("by", "contact"), ("q", "8 916 123-45-67")]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let id = person_id(&a.location);
    let card = operator.get(&a.location).await;
    assert!(card.body.contains("Учётная запись упрощённая"), "{}", card.body);

    // Confirming a simplified account is refused, in Russian, and journaled.
    let a =
        operator.post(&format!("/staff/persons/{id}/confirm"), &[("passport_shown", "yes")]).await;
    assert_eq!(a.status, 409);
    assert!(
        a.body.contains("Учётная запись упрощённая: сначала внесите документы гражданина"),
        "{}",
        a.body
    );
    let (_, me) = app.me(&citizen).await;
    assert_eq!(me["level"], json!("simplified"));

    // The operator enters the documents from the passport shown; the registries verify
    // them and the account becomes confirmed without a second visit.
    let form = pairs(&maria());
    let mut fields: Vec<(&str, &str)> =
        form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let a = operator.post(&format!("/staff/persons/{id}/documents"), &fields).await;
    assert_eq!(a.status, 422, "the box must be ticked");
    assert!(a.body.contains("Паспорт предъявлен: отметьте"), "{}", a.body);
    fields.push(("passport_shown", "yes"));
    let a = operator.post(&format!("/staff/persons/{id}/documents"), &fields).await;
    assert_eq!(
        (a.status, a.location.clone()),
        (303, format!("/staff/persons/{id}?done=documents"))
    );
    let me = level_when(&app, &citizen, "confirmed").await;
    assert_eq!(me["surname"], json!("Демидова"), "the verified names");
    let (_, journal) = api(&app, "GET", "/api/v1/me/journal", &citizen, None).await;
    let entries = journal.as_array().unwrap();
    let confirmed = entries.iter().find(|e| e["action"] == json!("account.confirmed")).unwrap();
    assert_eq!(confirmed["actor_kind"], json!("operator"));
    assert!(entries.iter().any(
        |e| e["action"] == json!("documents.submitted") && e["actor_kind"] == json!("operator")
    ));
    assert!(entries.iter().any(|e| e["action"] == json!("staff.confirm_refused")));
    app.outbox_when(|m| m.iter().any(|x| x["template"] == json!("documents.entered_at_center")))
        .await;
    app.stop().await;
}

on_both_backends! {
    async fn a_person_registered_on_the_spot_activates_the_account(app) {
        // The starter registry holds the generated persons.
        registry::demo::load_starter(&registry::EmbeddedRegistry::new(
            app.db().clone(),
            std::sync::Arc::new(uslugi::server::open_vault(&crate::support::settings_for(&app.dir, app.database_url.clone())).unwrap()),
        ))
        .await
        .unwrap();
        let (code, out, err) = cli(&app, &["add", "--login", "petrov", "--name", "Петров Иван Ильич", "--role", "operator", "--center", "mfc-kazan-vakhitovsky"]);
        assert_eq!(code, 0, "{err}");
        let operator = staff_ready(&app, "petrov", &printed_password(&out)).await;
        let phone = "+79165550001";
        let person = registry_person(0);
        let form = pairs(&person);
        let mut fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

        // Every missing piece is named at once.
        let a = operator.post("/staff/register", &fields).await;
        assert_eq!(a.status, 422);
        for text in ["Телефон или электронная почта: не заполнено", "Паспорт предъявлен: отметьте", "Согласие гражданина: отметьте"] {
            assert!(a.body.contains(text), "{text}: {}", a.body);
        }
        fields.extend([("contact", phone), ("passport_shown", "yes"), ("consent", "yes")]);
        let a = operator.post("/staff/register", &fields).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let code = a.body.split("id=\"activation-code\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
        assert_eq!(code.len(), 14, "{code}");
        let a = operator.post("/staff/register", &fields).await;
        assert_eq!(a.status, 409, "the contact is taken now");

        // The activation code: wrong ones counted, the right one sends a code to the phone.
        let (status, body) = app.post_json("/api/v1/activations", json!({"contact": phone, "code": "0000 0000 0000"})).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], json!("activation_wrong"));
        assert_eq!(body["error"]["message"], json!("Неверный код активации, осталось попыток: 4"));
        let (status, body) = app.post_json("/api/v1/activations", json!({"contact": phone, "code": "12"})).await;
        assert_eq!(status, 422);
        assert_eq!(body["error"]["fields"][0]["field"], json!("code"));
        let (status, body) = app.post_json("/api/v1/activations", json!({"contact": "+79165550002", "code": code})).await;
        assert_eq!(status, 410, "{body}");
        let (status, body) = app.post_json("/api/v1/activations", json!({"contact": "8 916 555-00-01", "code": code})).await;
        assert_eq!(status, 202, "{body}");
        let token = body["token"].as_str().unwrap().to_owned();
        assert_eq!(body["masked_contact"], json!("+7 916 ***-**-01"));
        let sms = app.last_code(phone).await;
        let (status, _) = app.post_json(&format!("/api/v1/activations/{token}/complete"), json!({"password": PASSWORD, "repeat": PASSWORD})).await;
        assert_eq!(status, 409, "the contact is not confirmed yet");
        let (status, body) = app.post_json(&format!("/api/v1/activations/{token}/confirm"), json!({"code": sms})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["confirmed"], json!(true));
        let (status, body) = app.post_json(&format!("/api/v1/activations/{token}/complete"), json!({"password": PASSWORD, "repeat": PASSWORD})).await;
        assert_eq!(status, 201, "{body}");
        let session = body["session"].as_str().unwrap().to_owned();

        // The account works; the registries verified the passport the operator saw, so it
        // is confirmed; the contact is confirmed.
        let me = level_when(&app, &session, "confirmed").await;
        assert_eq!(me["contacts"][0]["confirmed"], json!(true));
        assert_eq!(me["surname"], person["surname"]);
        let (status, _) = app.sign_in(phone, PASSWORD).await;
        assert_eq!(status, 201);
        let (status, body) = app.post_json("/api/v1/activations", json!({"contact": phone, "code": code})).await;
        assert_eq!(status, 410, "used up: {body}");
        let (_, journal) = api(&app, "GET", "/api/v1/me/journal", &session, None).await;
        let actions: Vec<&str> = journal.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        for action in ["account.registered", "documents.submitted", "activation.started", "account.activated", "account.confirmed"] {
            assert!(actions.contains(&action), "{action}: {actions:?}");
        }

        // A second person: five wrong codes use the code up; a third: the code expires.
        for (i, contact) in [(1, "+79165550003"), (2, "+79165550004")] {
            let form = pairs(&registry_person(i));
            let mut fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            fields.extend([("contact", contact), ("passport_shown", "yes"), ("consent", "yes")]);
            let a = operator.post("/staff/register", &fields).await;
            assert_eq!(a.status, 200, "{}", a.body);
        }
        for left in (0..4).rev() {
            let (status, body) = app.post_json("/api/v1/activations", json!({"contact": "+79165550003", "code": "111111111111"})).await;
            assert_eq!(status, 422, "{body}");
            assert_eq!(body["error"]["message"], json!(format!("Неверный код активации, осталось попыток: {}", left + 1)));
        }
        let (status, body) = app.post_json("/api/v1/activations", json!({"contact": "+79165550003", "code": "111111111111"})).await;
        assert_eq!((status, body["error"]["code"].clone()), (410, json!("activation_gone")));
        app.clock.advance(Duration::days(31));
        let r = app.http.post(app.url("/activate")).form(&[("contact", "+79165550004"), ("code", "1111 1111 1111")]).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 410);
        let page = r.text().await.unwrap();
        assert!(page.contains("Код активации не действует"), "{page}");
    }
}

on_both_backends! {
    async fn the_directory_of_centres_filters_by_city_and_text(app) {
        let all: Value = app.get("/api/v1/centers").await.json().await.unwrap();
        assert_eq!(all.as_array().unwrap().len(), 16);
        let kazan: Value = app.get("/api/v1/centers?city=Казань").await.json().await.unwrap();
        let ids: Vec<&str> = kazan.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["mfc-kazan-vakhitovsky", "post-kazan-420111"]);
        assert_eq!(kazan[0]["kind_label"], json!("МФЦ «Мои документы»"));
        assert_eq!(kazan[0]["hours"][6], json!(""));
        let sfr: Value = app.get("/api/v1/centers?q=клиентская%20служба").await.json().await.unwrap();
        assert_eq!(sfr.as_array().unwrap().len(), 3);
        assert!(sfr.as_array().unwrap().iter().all(|c| c["kind"] == json!("sfr")));
        // Case and «ё» do not matter; the city narrows the text search.
        let tver: Value = app.get("/api/v1/centers?q=ТРЕХСВЯТСКАЯ").await.json().await.unwrap();
        assert_eq!(tver[0]["id"], json!("mfc-tver-centralny"));
        let none: Value = app.get("/api/v1/centers?city=Тверь&q=Невский").await.json().await.unwrap();
        assert_eq!(none, json!([]));
        let odd: Value = app.get("/api/v1/centers?q=%25_").await.json().await.unwrap();
        assert_eq!(odd, json!([]), "LIKE wildcards are plain text");

        let page = app.get("/centers?city=Москва").await.text().await.unwrap();
        assert!(page.contains("Найдено центров: 4"), "{page}");
        assert!(page.contains("id=\"center-mfc-moskva-tverskoy\"") && !page.contains("center-mfc-kazan"));
        assert!(page.contains("<option value=\"Москва\" selected>"), "{page}");
        assert!(page.contains("<th scope=\"row\">Вс</th><td>выходной</td>"), "{page}");
        let page = app.get("/centers?q=нигде").await.text().await.unwrap();
        assert!(page.contains("Найдено центров: 0") && page.contains("ничего не нашлось"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_confirms_a_person_in_chromium() {
    use fantoccini::Locator;

    let app = TestApp::spawn_with(store::Backend::Sqlite, |_, s| s.demo_data = true).await;
    let citizen = standard_demo_citizen(&app).await;
    let browser = crate::browser::Browser::start().await;
    let c = &browser.client;
    async fn fill(c: &fantoccini::Client, id: &str, value: &str) {
        let field = c.find(Locator::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }
    async fn submit(c: &fantoccini::Client, button: &str) {
        c.execute("document.body.dataset.old = '1'", vec![]).await.unwrap();
        c.find(Locator::Id(button)).await.unwrap().click().await.unwrap();
        c.wait().for_element(Locator::Css("body:not([data-old])")).await.unwrap();
    }
    c.goto(&app.url("/staff/login")).await.unwrap();
    let one_time = demo(&app, "operator");
    fill(c, "field-login", "operator").await;
    fill(c, "field-password", &one_time).await;
    submit(c, "staff-login-submit").await;
    c.wait().for_element(Locator::Id("first-password-notice")).await.unwrap();
    fill(c, "field-current", &one_time).await;
    fill(c, "field-password", STAFF_PASSWORD).await;
    fill(c, "field-repeat", STAFF_PASSWORD).await;
    submit(c, "staff-password-submit").await;
    let notice = c.wait().for_element(Locator::Id("staff-notice")).await.unwrap();
    assert!(notice.text().await.unwrap().contains("Пароль изменён"));

    fill(c, "field-q", "123-456-789 64").await;
    submit(c, "search-submit").await;
    let name = c.wait().for_element(Locator::Id("person-name")).await.unwrap();
    assert_eq!(name.text().await.unwrap(), "Демидова Мария Ивановна");
    let level = c.find(Locator::Id("person-level")).await.unwrap();
    assert_eq!(level.text().await.unwrap(), "Стандартная");
    c.find(Locator::Id("field-passport_shown")).await.unwrap().click().await.unwrap();
    submit(c, "confirm-submit").await;
    let level = c.wait().for_element(Locator::Id("person-level")).await.unwrap();
    assert_eq!(level.text().await.unwrap(), "Подтверждённая");
    let (_, me) = app.me(&citizen).await;
    assert_eq!(me["level"], json!("confirmed"));
    submit(c, "staff-logout").await;
    c.wait().for_element(Locator::Id("staff-login-form")).await.unwrap();
    browser.close().await;
    app.stop().await;
}

on_both_backends! {
    demo async fn an_operator_issues_a_temporary_password_that_must_be_changed(app) {
        let citizen = standard_demo_citizen(&app).await;
        let operator = staff_ready(&app, "operator", &demo(&app, "operator")).await;
        let a = operator.post("/staff/search", &[("by", "snils"), ("q", "123-456-789 64")]).await;
        let id = person_id(&a.location);
        let path = format!("/staff/persons/{id}/temporary-password");
        let a = operator.post(&path, &[]).await;
        assert_eq!(a.status, 422, "the passport must be checked first");
        let a = operator.post(&path, &[("passport_shown", "yes")]).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let start = a.body.find("id=\"temporary-password\">").unwrap() + "id=\"temporary-password\">".len();
        let temporary = a.body[start..].split('<').next().unwrap().to_owned();
        assert_eq!(temporary.len(), 14, "{temporary}");
        assert_eq!(app.me(&citizen).await.0, 401, "the person's sessions ended");
        let (login, _) = app.demo().unwrap();
        let (status, body) = app.sign_in(&login, &temporary).await;
        assert_eq!((status, body["must_change_password"].clone()), (201, json!(true)), "{body}");
        let (status, _) = app.me(body["session"].as_str().unwrap()).await;
        assert_eq!(status, 403);
        // The person's journal names the operator.
        let n: (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM journal WHERE action = 'password.temporary' AND actor_kind = 'operator'",
        )
        .fetch_one(app.db().pool())
        .await
        .unwrap();
        assert_eq!(n.0, 1);
    }
}
