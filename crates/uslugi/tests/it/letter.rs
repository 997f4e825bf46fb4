//! Confirmation by registered letter: ordering (standard accounts only, one at a time),
//! the print batch (one PDF page a letter, codes erased from the database), the code
//! from the paper confirming the account, wrong codes, expiry — through the API, the
//! command line and real Chromium. Codes are read off the printed PDF, as the person
//! reads them off the letter.

use std::path::Path;

use domain::Clock as _;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use store::Backend;

use crate::browser::Browser;
use crate::support::TestApp;

/// Runs the body once per backend with the demo data loaded (the starter registry knows
/// the demo person's documents).
macro_rules! with_demo_data {
    (async fn $name:ident($app:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: TestApp) {
                $body
                $app.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(TestApp::spawn_with(Backend::Sqlite, |_, s| s.demo_data = true).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(TestApp::spawn_with(Backend::Postgres, |_, s| s.demo_data = true).await)
                    .await;
            }
        }
    };
}

const ADDRESS: &str = "119021, г. Москва, ул. Льва Толстого, д. 16, кв. 5";

/// The demo person's documents (as in the starter registry), at `address`.
fn documents(address: &str) -> Value {
    json!({
        "surname": "Демидова", "given_name": "Мария", "patronymic": "Ивановна",
        "birth_date": "12.04.1988", "birth_place": "г. Москва",
        "passport_series": "4510", "passport_number": "654321",
        "passport_issued_on": "25.04.2008", "passport_issued_by": "ОВД района Хамовники г. Москвы",
        "passport_division": "770-005", "snils": "12345678964", "inn": "",
        "address": address
    })
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = match method {
        "POST" => app.http.post(app.url(path)),
        "DELETE" => app.http.delete(app.url(path)),
        _ => app.http.get(app.url(path)),
    }
    .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// A new account made standard through the documents flow; returns its session token.
async fn standard_account(app: &TestApp, phone: &str, address: &str) -> String {
    let token = app.register(phone).await;
    let (status, body) =
        call(app, "POST", "/api/v1/me/documents", &token, Some(documents(address))).await;
    assert_eq!(status, 202, "{body}");
    for _ in 0..20_000 {
        let (_, me) = app.me(&token).await;
        if me["level"] == json!("standard") {
            return token;
        }
        tokio::task::yield_now().await;
    }
    panic!("the documents were never verified");
}

/// One printed letter, as the post office's PDF shows it.
struct Printed {
    reference: String,
    code: String,
    text: String,
}

/// Reads every page of a batch PDF: the request number and the code on each.
fn read_letters(pdf: &[u8]) -> Vec<Printed> {
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    let document = lopdf::Document::load_mem(pdf).expect("the PDF parses");
    let pages = document.get_pages().len() as u32;
    (1..=pages)
        .map(|page| {
            let text = document.extract_text(&[page]).unwrap().replace('\u{a0}', " ");
            let after = |label: &str| {
                let at = text.find(label).unwrap_or_else(|| panic!("{label:?} on page {page}"));
                text[at + label.len()..].split_whitespace().next().unwrap().to_owned()
            };
            Printed { reference: after("Запрос №"), code: after("Ваш код"), text }
        })
        .collect()
}

/// Runs the print batch as `uslugi letters print` does, at the test clock's time.
async fn print_batch(app: &TestApp) -> Option<(uslugi::letters_cli::Batch, Vec<Printed>)> {
    let out = app.dir.join(format!("letters-{}.pdf", uuid::Uuid::now_v7().simple()));
    let batch = uslugi::letters_cli::print(&app.settings, &out, app.clock.now()).await.unwrap()?;
    let letters = read_letters(&std::fs::read(&out).unwrap());
    Some((batch, letters))
}

/// The code printed for `reference` in a fresh batch.
async fn printed_code(app: &TestApp, reference: &str) -> String {
    let (batch, letters) = print_batch(app).await.expect("a letter to print");
    assert_eq!(batch.printed, letters.len());
    letters.into_iter().find(|l| l.reference == reference).expect("the letter is printed").code
}

/// A new session after the clock moved past the old one's idle timeout.
async fn sign_in_again(app: &TestApp, phone: &str) -> String {
    let (status, body) = app.sign_in(phone, crate::accounts::PASSWORD).await;
    assert_eq!(status, 201, "{body}");
    body["session"].as_str().unwrap().to_owned()
}

async fn order(app: &TestApp, token: &str) -> String {
    let (status, view) = call(app, "POST", "/api/v1/me/letter", token, Some(json!({}))).await;
    assert_eq!(status, 201, "{view}");
    assert_eq!(view["state"], json!("requested"));
    view["reference"].as_str().unwrap().to_owned()
}

async fn enter(app: &TestApp, token: &str, code: &str) -> (u16, Value) {
    call(app, "POST", "/api/v1/me/letter/confirm", token, Some(json!({ "code": code }))).await
}

with_demo_data! {
    async fn a_standard_account_orders_a_letter_and_its_printed_code_confirms_it(app) {
        // A simplified account is refused, with the reason, in the API and on the page.
        let token = app.register("+79161230001").await;
        let (_, status) = call(&app, "GET", "/api/v1/me/letter", &token, None).await;
        assert_eq!((status["refusal"].as_str(), &status["recipient"]), (Some("not_standard"), &Value::Null));
        let (code, body) = call(&app, "POST", "/api/v1/me/letter", &token, Some(json!({}))).await;
        assert_eq!((code, body["error"]["code"].as_str()), (409, Some("not_standard")), "{body}");
        let page = app.http.get(app.url("/cabinet/confirm/letter")).bearer_auth(&token).send().await.unwrap();
        let html = page.text().await.unwrap();
        assert!(html.contains("Сначала получите стандартную учётную запись"), "{html}");
        assert!(html.contains("href=\"/cabinet/documents\""));

        // Standard: the letter goes to the verified address, the index split off.
        let token = standard_account(&app, "+79161230002", ADDRESS).await;
        let (_, status) = call(&app, "GET", "/api/v1/me/letter", &token, None).await;
        assert_eq!(status["recipient"], json!({
            "name": "Демидова Мария Ивановна",
            "address": "г. Москва, ул. Льва Толстого, д. 16, кв. 5",
            "postal_index": "119021"
        }));
        assert_eq!((&status["letter"], &status["needs_postal_index"]), (&Value::Null, &json!(false)));
        let reference = order(&app, &token).await;
        let (code, body) = call(&app, "POST", "/api/v1/me/letter", &token, Some(json!({}))).await;
        assert_eq!((code, body["error"]["code"].as_str()), (409, Some("letter_active")), "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("отмените заказ"), "{body}");
        let (code, body) = enter(&app, &token, "AAAA-BBBB").await;
        assert_eq!((code, body["error"]["code"].as_str()), (409, Some("letter_not_sent")));
        app.outbox_when(|m| m.iter().any(|x| x["template"] == json!("letter.requested"))).await;

        // The batch: one page for the one letter, the code on it, the ciphertext gone.
        let (batch, letters) = print_batch(&app).await.expect("one letter waits");
        assert_eq!((batch.printed, letters.len()), (1, 1));
        assert!(batch.skipped.is_empty() && batch.withdrawn.is_empty());
        let letter = &letters[0];
        assert_eq!(letter.reference, reference);
        for line in ["Демидова Мария Ивановна", "119021", "Код действителен до 22.12.2026", "Дата: 22.11.2026"] {
            assert!(letter.text.contains(line), "{line:?} missing:\n{}", letter.text);
        }
        assert_eq!(letter.code.len(), 9, "XXXX-XXXX: {}", letter.code);
        let sealed: Vec<(Option<String>, String)> =
            sqlx::query_as("SELECT code_sealed, status FROM letter_requests").fetch_all(app.db().pool()).await.unwrap();
        assert_eq!(sealed, [(None, "sent".to_owned())], "the code's ciphertext is erased");
        assert!(print_batch(&app).await.is_none(), "nothing left to print");
        let (_, status) = call(&app, "GET", "/api/v1/me/letter", &token, None).await;
        assert_eq!((status["letter"]["state"].as_str(), status["letter"]["expires_on"].as_str()), (Some("sent"), Some("2026-12-22")));
        let told = app.outbox_when(|m| m.iter().any(|x| x["template"] == json!("letter.sent"))).await;
        let told = told.iter().find(|x| x["template"] == json!("letter.sent")).unwrap();
        assert!(told["text"].as_str().unwrap().contains("до 22.12.2026"), "{told}");

        // A malformed code is not an attempt; a wrong one is; the right one, typed
        // carelessly, confirms the account.
        let (code, body) = enter(&app, &token, "12").await;
        assert_eq!((code, body["error"]["fields"][0]["field"].as_str()), (422, Some("code")), "{body}");
        let wrong = if letter.code.starts_with('Z') { "YYYY-YYYY" } else { "ZZZZ-ZZZZ" };
        let (code, body) = enter(&app, &token, wrong).await;
        assert_eq!((code, body["error"]["message"].as_str()), (422, Some("Неверный код, осталось попыток: 4")), "{body}");
        let careless = format!(" {} ", letter.code.to_lowercase().replace('-', " "));
        let (code, body) = enter(&app, &token, &careless).await;
        assert_eq!((code, &body), (200, &json!({"level": "confirmed"})));
        let (_, me) = app.me(&token).await;
        assert_eq!(me["level"], json!("confirmed"));
        let entries = journal::Journal::new(app.db().clone()).for_subject(me["id"].as_str().unwrap(), 100).await.unwrap();
        let confirmed = entries.iter().find(|e| e.action == "account.confirmed").expect("journaled");
        let details: Value = serde_json::from_str(&confirmed.details).unwrap();
        assert_eq!((details["route"].as_str(), details["letter"].as_str()), (Some("letter"), Some(reference.as_str())));
        let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
        for action in ["letter.requested", "letter.printed", "letter.code_failed", "letter.used"] {
            assert!(actions.contains(&action), "{action} in {actions:?}");
        }
        assert!(!confirmed.details.contains(&letter.code.replace('-', "")), "no code in the journal");
        let (_, status) = call(&app, "GET", "/api/v1/me/letter", &token, None).await;
        assert_eq!((status["letter"]["state"].as_str(), status["refusal"].as_str()), (Some("used"), Some("already_confirmed")));
        let (code, _) = call(&app, "POST", "/api/v1/me/letter", &token, Some(json!({}))).await;
        assert_eq!(code, 409);
        app.outbox_when(|m| m.iter().any(|x| x["template"] == json!("account.confirmed"))).await;
    }
}

with_demo_data! {
    async fn five_wrong_codes_cancel_the_letter_and_an_address_without_index_asks_for_one(app) {
        let token = standard_account(&app, "+79161230003", "г. Москва, ул. Льва Толстого, д. 16, кв. 5").await;
        let (_, status) = call(&app, "GET", "/api/v1/me/letter", &token, None).await;
        assert_eq!(status["needs_postal_index"], json!(true));
        let (code, body) = call(&app, "POST", "/api/v1/me/letter", &token, Some(json!({}))).await;
        assert_eq!((code, body["error"]["fields"][0]["field"].as_str()), (422, Some("postal_index")), "{body}");
        let (code, body) = call(&app, "POST", "/api/v1/me/letter", &token, Some(json!({"postal_index": "1190"}))).await;
        assert_eq!((code, body["error"]["fields"][0]["message"].as_str()), (422, Some("должно быть 6 цифр")), "{body}");
        let (code, view) = call(&app, "POST", "/api/v1/me/letter", &token, Some(json!({"postal_index": "119021"}))).await;
        assert_eq!((code, view["recipient"]["postal_index"].as_str()), (201, Some("119021")), "{view}");

        // Cancelled before printing: nothing is printed for it; a new order is allowed.
        let (code, _) = call(&app, "DELETE", "/api/v1/me/letter", &token, None).await;
        assert_eq!(code, 204);
        assert!(print_batch(&app).await.is_none());
        let (code, view) = call(&app, "POST", "/api/v1/me/letter", &token, Some(json!({"postal_index": "119021"}))).await;
        assert_eq!(code, 201, "{view}");
        let reference = view["reference"].as_str().unwrap().to_owned();
        let right = printed_code(&app, &reference).await;
        let wrong = if right.starts_with('Z') { "YYYY-YYYY" } else { "ZZZZ-ZZZZ" };
        for left in (1..=4).rev() {
            let (code, body) = enter(&app, &token, wrong).await;
            assert_eq!((code, body["error"]["message"].as_str()), (422, Some(format!("Неверный код, осталось попыток: {left}").as_str())));
        }
        let (code, body) = enter(&app, &token, wrong).await;
        assert_eq!((code, body["error"]["code"].as_str()), (410, Some("letter_exhausted")), "{body}");
        // Even the right code no longer works: a new letter is needed.
        let (code, body) = enter(&app, &token, &right).await;
        assert_eq!((code, body["error"]["code"].as_str()), (410, Some("letter_exhausted")));
        let (_, status) = call(&app, "GET", "/api/v1/me/letter", &token, None).await;
        assert_eq!((status["letter"]["state"].as_str(), status["letter"]["close_reason"].as_str()), (Some("cancelled"), Some("attempts")));
        let (_, me) = app.me(&token).await;
        assert_eq!(me["level"], json!("standard"));
        let (code, view) = call(&app, "POST", "/api/v1/me/letter", &token, Some(json!({"postal_index": "119021"}))).await;
        assert_eq!(code, 201, "a new letter may be ordered: {view}");
    }
}

with_demo_data! {
    async fn a_code_is_valid_thirty_days_from_sending(app) {
        let phone = "+79161230004";
        let token = standard_account(&app, phone, ADDRESS).await;
        let reference = order(&app, &token).await;
        // The batch runs two days after the order: the 30 days count from sending.
        app.clock.advance(chrono::Duration::days(2));
        let code = printed_code(&app, &reference).await;
        app.clock.advance(chrono::Duration::days(30));
        let token = sign_in_again(&app, phone).await;
        let (_, status) = call(&app, "GET", "/api/v1/me/letter", &token, None).await;
        assert_eq!((status["letter"]["state"].as_str(), status["letter"]["expires_on"].as_str()), (Some("sent"), Some("2026-12-24")));
        app.clock.advance(chrono::Duration::days(1));
        let token = sign_in_again(&app, phone).await;
        let (_, status) = call(&app, "GET", "/api/v1/me/letter", &token, None).await;
        assert_eq!(status["letter"]["state"], json!("expired"));
        let (status, body) = enter(&app, &token, &code).await;
        assert_eq!((status, body["error"]["code"].as_str()), (410, Some("letter_expired")), "{body}");
        assert_eq!(body["error"]["message"], json!("Срок действия кода из письма истёк. Закажите новое письмо"));
        let (_, me) = app.me(&token).await;
        assert_eq!(me["level"], json!("standard"));
        order(&app, &token).await;
        let (batch, letters) = print_batch(&app).await.expect("the new letter");
        assert_eq!((batch.printed, letters.len()), (1, 1));
        assert_ne!(letters[0].code, code, "a new letter, a new code");
    }
}

#[tokio::test]
async fn the_command_line_prints_nothing_when_no_letter_waits() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let dir = crate::support::scratch_dir();
        let url = crate::support::fresh_database_url(backend, &dir).await;
        let out = dir.join("letters.pdf");
        let run = |args: &[&str]| {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_uslugi"));
            cmd.current_dir(&dir).env_remove("RUST_LOG");
            for key in uslugi::settings::KEYS {
                cmd.env_remove(format!("USLUGI_{}", key.to_uppercase()));
            }
            cmd.args(args).args(["--database-url", &url]).output().unwrap()
        };
        let printed = run(&["letters", "print", "--out", out.to_str().unwrap()]);
        assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
        let stdout = String::from_utf8(printed.stdout).unwrap();
        assert!(stdout.contains("печатать нечего"), "{stdout}");
        assert!(!out.exists(), "no file for an empty batch");
        let status = run(&["letters", "status"]);
        assert!(status.status.success());
        let stdout = String::from_utf8(status.stdout).unwrap();
        assert!(stdout.contains("Заказные письма: заказано 0, отправлено 0"), "{stdout}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn production_needs_a_return_address_to_print_letters() {
    let key = "ab".repeat(32);
    let mut settings =
        uslugi::settings::Settings::for_data_dir(Path::new("data"), "sqlite://x".into());
    assert_eq!(settings.letter_sender().unwrap().website, "127.0.0.1:0");
    settings.mode = uslugi::settings::Mode::Production;
    settings.public_url = Some("https://uslugi.example.ru/".into());
    settings.master_key = uslugi::settings::MasterKey::Configured(key.into());
    assert_eq!(settings.letter_sender().unwrap_err().key, "letter_sender_address");
    settings.letters.address = Some("ул. Тверская, д. 7\\nг. Москва, 125009".into());
    settings.letters.support = Some("8 800 100-70-10".into());
    let sender = settings.letter_sender().unwrap();
    assert_eq!((sender.address.lines().count(), sender.website.as_str()), (2, "uslugi.example.ru"));
}

// --- in the browser ----------------------------------------------------------------------

async fn fill(c: &Client, id: &str, value: &str) {
    let field = c.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

/// Clicks and waits for the next page (not an element the old page may still show).
async fn click_to_next_page(c: &Client, locator: Locator<'_>) {
    c.execute("document.body.dataset.old = '1'", vec![]).await.unwrap();
    c.find(locator).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("body:not([data-old])")).await.unwrap();
}

async fn run_browser(app: TestApp) {
    let (login, password) = app.demo().expect("demo citizen on the first dev run");
    let browser = Browser::start().await;
    let c = &browser.client;
    c.goto(&app.url("/login")).await.unwrap();
    fill(c, "field-login", &login).await;
    fill(c, "field-password", &password).await;
    click_to_next_page(c, Locator::Css("#login-form button[type=submit]")).await;

    // Simplified: the letter page says why not and links to the documents.
    c.goto(&app.url("/cabinet/confirm/letter")).await.unwrap();
    let refusal = c.find(Locator::Id("letter-refusal")).await.unwrap().text().await.unwrap();
    assert!(refusal.contains("стандартную учётную запись"), "{refusal}");

    // The documents flow makes the account standard.
    click_to_next_page(c, Locator::LinkText("Перейти к документам")).await;
    for (id, value) in [
        ("field-birth_date", "12.04.1988"),
        ("field-birth_place", "г. Москва"),
        ("field-passport_series", "4510"),
        ("field-passport_number", "654321"),
        ("field-passport_issued_on", "25.04.2008"),
        ("field-passport_issued_by", "ОВД района Хамовники г. Москвы"),
        ("field-passport_division", "770-005"),
        ("field-snils", "123-456-789 64"),
        ("field-address", ADDRESS),
    ] {
        fill(c, id, value).await;
    }
    click_to_next_page(c, Locator::Css("#documents-form button[type=submit]")).await;
    let mut level = String::new();
    for _ in 0..200 {
        level = c.find(Locator::Id("account-level")).await.unwrap().text().await.unwrap();
        if level == "Стандартная" {
            break;
        }
        c.refresh().await.unwrap();
    }
    assert_eq!(level, "Стандартная");

    // From the hub to the letter page; the address is shown; order.
    c.goto(&app.url("/cabinet/confirm")).await.unwrap();
    click_to_next_page(c, Locator::Id("route-letter-link")).await;
    let recipient = c.find(Locator::Id("letter-recipient")).await.unwrap().text().await.unwrap();
    assert!(recipient.contains("ул. Льва Толстого") && recipient.contains("119021"), "{recipient}");
    click_to_next_page(c, Locator::Css("#letter-order-form button[type=submit]")).await;
    let status = c.find(Locator::Id("letter-status")).await.unwrap();
    assert_eq!(status.attr("data-state").await.unwrap().as_deref(), Some("requested"));

    // The post office prints the batch; the person types the code from the letter.
    let (_, letters) = print_batch(&app).await.expect("the ordered letter");
    c.refresh().await.unwrap();
    let expires = c.find(Locator::Id("letter-expires")).await.unwrap().text().await.unwrap();
    assert_eq!(expires, "22.12.2026");
    fill(c, "field-code", "ZZZZ-ZZZ").await;
    click_to_next_page(c, Locator::Css("#letter-code-form button[type=submit]")).await;
    let error = c.find(Locator::Id("field-code-error")).await.unwrap().text().await.unwrap();
    assert!(error.contains("8 символов"), "{error}");
    let field = c.find(Locator::Id("field-code")).await.unwrap();
    assert_eq!(field.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));
    fill(c, "field-code", &letters[0].code).await;
    click_to_next_page(c, Locator::Css("#letter-code-form button[type=submit]")).await;
    let level = c.find(Locator::Id("account-level")).await.unwrap().text().await.unwrap();
    assert_eq!(level, "Подтверждённая");
    c.find(Locator::Id("letter-confirmed")).await.unwrap();
    c.goto(&app.url("/cabinet")).await.unwrap();
    let journal = c.find(Locator::Id("journal")).await.unwrap().text().await.unwrap();
    assert!(journal.contains("Код из письма принят"), "{journal}");
    browser.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_browser_the_demo_citizen_confirms_by_letter_sqlite() {
    run_browser(TestApp::spawn_with(Backend::Sqlite, |_, s| s.demo_data = true).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_browser_the_demo_citizen_confirms_by_letter_postgres() {
    run_browser(TestApp::spawn_with(Backend::Postgres, |_, s| s.demo_data = true).await).await;
}
