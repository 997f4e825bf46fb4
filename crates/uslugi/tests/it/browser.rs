//! The demo form in real headless Chromium, driven over WebDriver (fantoccini +
//! Debian's `chromium` and `chromium-driver`).

use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::process::{Child, Command};

use crate::support::{on_both_backends, scratch_dir};

/// A chromedriver process and a browser session on it; both end when dropped/closed.
/// chromedriver runs in a process group of its own, and dropping the browser (a test that
/// failed half-way, too) kills the whole group: no Chromium is left running after a test.
pub struct Browser {
    pub client: Client,
    _driver: Child,
    profile: std::path::PathBuf,
}

impl Browser {
    pub async fn start() -> Self {
        let driver_bin =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {driver_bin} ({e}): run scripts/test, which installs chromium-driver"));
        let profile = scratch_dir();
        let caps = json!({
            "goog:chromeOptions": {
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,1024",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        });
        let caps: serde_json::Map<String, serde_json::Value> = caps.as_object().unwrap().clone();
        let url = format!("http://127.0.0.1:{port}");
        // chromedriver needs a moment to listen; retry the connection (bounded), this is
        // waiting for a process, not for time to pass in the system under test.
        let mut last = None;
        for _ in 0..100 {
            match ClientBuilder::new(hyper_util_connector())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Self { client, _driver: driver, profile };
                }
                Err(e) => last = Some(e),
            }
            #[allow(clippy::disallowed_methods)]
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("chromedriver did not accept a session: {last:?}");
    }

    pub async fn close(self) {
        self.client.clone().close().await.unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The group chromedriver leads (started with process_group(0)), by kill(1): the
        // workspace forbids the unsafe call.
        if let Some(pid) = self._driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn hyper_util_connector() -> hyper_util::client::legacy::connect::HttpConnector {
    hyper_util::client::legacy::connect::HttpConnector::new()
}

on_both_backends! {
    async fn demo_form_validates_live_and_submits(app) {
        let browser = Browser::start().await;
        let c = &browser.client;
        c.goto(&app.url("/check")).await.unwrap();
        assert_eq!(c.title().await.unwrap(), "Проверка реквизитов — портал государственных услуг");

        let snils = c.find(Locator::Id("field-snils")).await.unwrap();
        snils.send_keys("112-233-445 96").await.unwrap();
        // The Russian message appears while typing, without submitting.
        c.wait()
            .for_element(Locator::XPath(
                "//p[@id='field-snils-error'][contains(., 'неверное контрольное число')]",
            ))
            .await
            .unwrap();
        assert_eq!(snils.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));

        // Fix the last digit; the message goes away and the field is marked valid.
        snils.clear().await.unwrap();
        snils.send_keys("112-233-445 95").await.unwrap();
        c.wait().for_element(Locator::Css("#field-snils.is-valid")).await.unwrap();
        let error = c.find(Locator::Id("field-snils-error")).await.unwrap();
        assert_eq!(error.text().await.unwrap(), "");

        // The account is checked against the BIK typed beside it.
        c.find(Locator::Id("field-bik")).await.unwrap().send_keys("049805746").await.unwrap();
        let account = c.find(Locator::Id("field-account")).await.unwrap();
        account.send_keys("40602810600000000025").await.unwrap();
        c.wait()
            .for_element(Locator::XPath("//p[@id='field-account-error'][contains(., 'контрольное')]"))
            .await
            .unwrap();
        account.clear().await.unwrap();
        account.send_keys("40602810700000000025").await.unwrap();
        c.wait().for_element(Locator::Css("#field-account.is-valid")).await.unwrap();

        c.find(Locator::Css("#check-form button[type=submit]")).await.unwrap().click().await.unwrap();
        let result = c.wait().for_element(Locator::Id("check-result")).await.unwrap();
        let text = result.text().await.unwrap();
        assert!(text.contains("Все реквизиты указаны верно"), "{text}");
        assert!(text.contains("112-233-445 95"), "{text}");
        browser.close().await;
    }
}

on_both_backends! {
    async fn keyboard_users_can_skip_to_content(app) {
        let browser = Browser::start().await;
        let c = &browser.client;
        c.goto(&app.url("/")).await.unwrap();
        // The first Tab lands on the skip link.
        c.find(Locator::Css("body")).await.unwrap().send_keys("\u{e004}").await.unwrap();
        let active = c.active_element().await.unwrap();
        assert_eq!(active.text().await.unwrap(), "Перейти к содержанию");
        // The page runs under the strict CSP without violations that block our scripts:
        // the live-validation script is loaded and wired.
        let wired = c.execute("return typeof htmx === 'object'", vec![]).await.unwrap();
        assert_eq!(wired, json!(true));
        browser.close().await;
    }
}

/// Reads the newest code sent to `to` from the dev outbox page, as a developer would.
async fn code_from_outbox(c: &Client, app: &crate::support::TestApp, to: &str) -> String {
    c.goto(&app.url(&format!("/dev/outbox?to={}", to.replace('+', "%2B")))).await.unwrap();
    let text =
        c.find(Locator::Css("tr.message .message-text")).await.unwrap().text().await.unwrap();
    text.split(|ch: char| !ch.is_ascii_digit()).find(|w| w.len() == 6).unwrap().to_owned()
}

pub(crate) async fn fill(c: &Client, id: &str, value: &str) {
    let field = c.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

/// Clicks what `locator` finds and waits for the next page (not just any element, which
/// the old page may still show).
pub(crate) async fn click_to_next_page(c: &Client, locator: Locator<'_>) {
    c.execute("document.body.dataset.old = '1'", vec![]).await.unwrap();
    c.find(locator).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("body:not([data-old])")).await.unwrap();
}

/// Switches the sign-in captcha to its accessible alternative and answers the question
/// («Сколько будет семь плюс два?»), as a screen-reader user would.
async fn answer_spoken_captcha(c: &Client) {
    // The page keeps the alternative once chosen.
    if c.find(Locator::Id("captcha-alternative")).await.is_ok() {
        click_to_next_page(c, Locator::Id("captcha-alternative")).await;
    }
    let question = c.find(Locator::Id("captcha-question")).await.unwrap().text().await.unwrap();
    fill(c, "field-captcha", &crate::support::spoken_captcha_answer(&question)).await;
}

/// Submits a form and waits for the next page.
pub(crate) async fn submit(c: &Client, form: &str) {
    click_to_next_page(c, Locator::Css(&format!("{form} button[type=submit]"))).await;
}

on_both_backends! {
    async fn a_citizen_registers_signs_in_gets_locked_and_recovers(app) {
        use crate::accounts::PASSWORD;
        let browser = Browser::start().await;
        let c = &browser.client;
        let phone = "+79161112233";

        // Register: the form, the code from the dev outbox, the password.
        c.goto(&app.url("/")).await.unwrap();
        click_to_next_page(c, Locator::LinkText("Регистрация")).await;
        fill(c, "field-surname", "Петрова").await;
        fill(c, "field-given_name", "Анна").await;
        fill(c, "field-contact", "8 916 111-22-33").await;
        c.find(Locator::Id("field-accept_terms")).await.unwrap().click().await.unwrap();
        c.find(Locator::Id("field-accept_pd")).await.unwrap().click().await.unwrap();
        submit(c, "#register-form").await;
        c.wait().for_element(Locator::Id("masked-contact")).await.unwrap();
        let confirm_url = c.current_url().await.unwrap();
        let code = code_from_outbox(c, &app, phone).await;
        c.goto(confirm_url.as_str()).await.unwrap();
        fill(c, "field-code", &code).await;
        submit(c, "form.form-inline").await;
        c.wait().for_element(Locator::Id("password-form")).await.unwrap();
        // The rules appear live while typing a weak password.
        fill(c, "field-password", "abc").await;
        c.wait()
            .for_element(Locator::XPath("//ul[@id='password-rules']/li[contains(., 'не короче 8 символов')]"))
            .await
            .unwrap();
        fill(c, "field-password", PASSWORD).await;
        fill(c, "field-repeat", PASSWORD).await;
        submit(c, "#password-form").await;
        let level = c.wait().for_element(Locator::Id("account-level")).await.unwrap();
        assert_eq!(level.text().await.unwrap(), "Упрощённая");

        // Sign out, sign in.
        click_to_next_page(c, Locator::Css("form[action='/logout'] button")).await;
        click_to_next_page(c, Locator::LinkText("Войти")).await;
        fill(c, "field-login", "89161112233").await;
        fill(c, "field-password", PASSWORD).await;
        submit(c, "#login-form").await;
        c.wait().for_element(Locator::Id("account-level")).await.unwrap();
        click_to_next_page(c, Locator::Css("form[action='/logout'] button")).await;

        // Five wrong passwords lock sign-in; from the fourth try on, a captcha is asked.
        c.goto(&app.url("/login")).await.unwrap();
        for attempt in 0..5 {
            if attempt >= 3 {
                assert!(c.find(Locator::Id("captcha")).await.is_ok(), "captcha after three failures");
                answer_spoken_captcha(c).await;
            }
            fill(c, "field-login", "89161112233").await;
            fill(c, "field-password", "Wrong-pass-1!").await;
            submit(c, "#login-form").await;
            c.wait().for_element(Locator::Id("login-error")).await.unwrap();
        }
        let error = c.find(Locator::Id("login-error")).await.unwrap().text().await.unwrap();
        assert!(error.contains("Вход заблокирован до"), "{error}");

        // Recovery by code, then sign in with the new password.
        click_to_next_page(c, Locator::LinkText("Забыли пароль?")).await;
        fill(c, "field-login", "+7 916 111 22 33").await;
        submit(c, "form[action='/recovery']").await;
        c.wait().for_element(Locator::Id("masked-contact")).await.unwrap();
        let recovery_url = c.current_url().await.unwrap();
        let code = code_from_outbox(c, &app, phone).await;
        c.goto(recovery_url.as_str()).await.unwrap();
        fill(c, "field-code", &code).await;
        submit(c, "form.form-inline").await;
        c.wait().for_element(Locator::Id("password-form")).await.unwrap();
        let new = "Синий-Слон-Летит-7!";
        fill(c, "field-password", new).await;
        fill(c, "field-repeat", new).await;
        submit(c, "#password-form").await;
        let notice = c.wait().for_element(Locator::Id("login-notice")).await.unwrap();
        assert!(notice.text().await.unwrap().contains("Пароль изменён"));
        answer_spoken_captcha(c).await;
        fill(c, "field-login", "89161112233").await;
        fill(c, "field-password", new).await;
        submit(c, "#login-form").await;
        c.wait().for_element(Locator::Id("account-level")).await.unwrap();
        let journal = c.find(Locator::Id("journal")).await.unwrap().text().await.unwrap();
        assert!(journal.contains("Вход заблокирован после неверных паролей"), "{journal}");
        browser.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_citizen_enters_documents_and_becomes_standard() {
    let app =
        crate::support::TestApp::spawn_with(store::Backend::Sqlite, |_, s| s.demo_data = true)
            .await;
    let (login, password) = app.demo().expect("demo citizen on the first dev run");
    let browser = Browser::start().await;
    let c = &browser.client;
    c.goto(&app.url("/login")).await.unwrap();
    fill(c, "field-login", &login).await;
    fill(c, "field-password", &password).await;
    submit(c, "#login-form").await;
    click_to_next_page(c, Locator::Id("documents-link")).await;
    // The names come from the account; a wrong SNILS is named before anything is sent.
    let surname = c.find(Locator::Id("field-surname")).await.unwrap();
    assert_eq!(surname.prop("value").await.unwrap().as_deref(), Some("Демидова"));
    for (id, value) in [
        ("field-birth_date", "12.04.1988"),
        ("field-birth_place", "г. Москва"),
        ("field-passport_series", "4510"),
        ("field-passport_number", "654321"),
        ("field-passport_issued_on", "25.04.2008"),
        ("field-passport_issued_by", "ОВД района Хамовники г. Москвы"),
        ("field-passport_division", "770-005"),
        ("field-snils", "123-456-789 65"),
        ("field-address", "119021, г. Москва, ул. Льва Толстого, д. 16, кв. 5"),
    ] {
        fill(c, id, value).await;
    }
    submit(c, "#documents-form").await;
    let summary = c.find(Locator::Id("error-summary")).await.unwrap().text().await.unwrap();
    assert!(summary.contains("СНИЛС: неверное контрольное число"), "{summary}");
    fill(c, "field-snils", "123-456-789 64").await;
    submit(c, "#documents-form").await;
    // The check runs in the background; the page shows where it stands.
    let mut status = String::new();
    for _ in 0..200 {
        let el = c.find(Locator::Id("documents-status")).await.unwrap();
        status = el.attr("data-status").await.unwrap().unwrap_or_default();
        if status == "Проверено" {
            break;
        }
        c.refresh().await.unwrap();
    }
    assert_eq!(status, "Проверено");
    let level = c.find(Locator::Id("account-level")).await.unwrap().text().await.unwrap();
    assert_eq!(level, "Стандартная");
    drop(browser);
    app.stop().await;
}

on_both_backends! {
    async fn a_citizen_turns_on_an_authenticator_app_and_signs_in_with_its_code(app) {
        use crate::accounts::PASSWORD;
        let phone = "+79161112233";
        app.register(phone).await;
        let browser = Browser::start().await;
        let c = &browser.client;
        c.goto(&app.url("/login")).await.unwrap();
        fill(c, "field-login", phone).await;
        fill(c, "field-password", PASSWORD).await;
        submit(c, "#login-form").await;
        click_to_next_page(c, Locator::Id("security-link")).await;
        submit(c, "form[action='/cabinet/security/totp']").await;
        // The QR code and the key for typing by hand.
        c.wait().for_element(Locator::Css("#totp-qr svg")).await.unwrap();
        let key = c.find(Locator::Id("totp-key")).await.unwrap().text().await.unwrap();
        fill(c, "field-code", &app.totp_now(&key)).await;
        fill(c, "field-password", PASSWORD).await;
        submit(c, "#totp-form").await;
        let state = c.wait().for_element(Locator::Id("totp-state")).await.unwrap();
        assert_eq!(state.text().await.unwrap(), "включено");
        // Backup codes are shown once.
        fill(c, "backup-password", PASSWORD).await;
        submit(c, "form[action='/cabinet/security/backup-codes']").await;
        let codes = c.find(Locator::Css("#backup-codes li")).await.unwrap();
        assert_eq!(codes.text().await.unwrap().len(), 9, "1234-5678");
        assert_eq!(c.find_all(Locator::Css("#backup-codes li")).await.unwrap().len(), 10);

        // Sign out; signing in now asks for the code, and the device can be remembered.
        click_to_next_page(c, Locator::Css("form[action='/logout'] button")).await;
        c.goto(&app.url("/login")).await.unwrap();
        fill(c, "field-login", phone).await;
        fill(c, "field-password", PASSWORD).await;
        submit(c, "#login-form").await;
        c.wait().for_element(Locator::Id("factor-form")).await.unwrap();
        fill(c, "field-code", "000000").await;
        submit(c, "#factor-form").await;
        let error = c.wait().for_element(Locator::Id("factor-error")).await.unwrap();
        assert!(error.text().await.unwrap().contains("Неверный код"));
        app.clock.advance(chrono::Duration::seconds(30));
        fill(c, "field-code", &app.totp_now(&key)).await;
        c.find(Locator::Id("field-remember")).await.unwrap().click().await.unwrap();
        submit(c, "#factor-form").await;
        c.wait().for_element(Locator::Id("account-level")).await.unwrap();

        // The remembered device is not asked again.
        click_to_next_page(c, Locator::Css("form[action='/logout'] button")).await;
        c.goto(&app.url("/login")).await.unwrap();
        fill(c, "field-login", phone).await;
        fill(c, "field-password", PASSWORD).await;
        submit(c, "#login-form").await;
        c.wait().for_element(Locator::Id("account-level")).await.unwrap();
        browser.close().await;
    }
}

on_both_backends! {
    demo async fn a_standard_citizen_recovers_by_passport_changes_the_temporary_password_and_blocks_the_account(app) {
        let phone = "+79161234567";
        app.register_standard(phone).await;
        let browser = Browser::start().await;
        let c = &browser.client;
        c.goto(&app.url("/recovery")).await.unwrap();
        click_to_next_page(c, Locator::Id("recovery-passport-link")).await;
        fill(c, "field-passport_series", "4510").await;
        fill(c, "field-passport_number", "654321").await;
        fill(c, "field-birth_date", "12.04.1988").await;
        fill(c, "field-inn", "7701234567").await;
        submit(c, "#passport-recovery-form").await;
        let summary = c.find(Locator::Id("error-summary")).await.unwrap().text().await.unwrap();
        assert!(summary.contains("ИНН"), "{summary}");
        fill(c, "field-inn", "770123456703").await;
        submit(c, "#passport-recovery-form").await;
        let temporary =
            c.find(Locator::Id("temporary-password")).await.unwrap().text().await.unwrap();

        // Signing in with it leads straight to the password change.
        c.goto(&app.url("/login")).await.unwrap();
        fill(c, "field-login", phone).await;
        fill(c, "field-password", &temporary).await;
        submit(c, "#login-form").await;
        c.wait().for_element(Locator::Id("temporary-notice")).await.unwrap();
        c.goto(&app.url("/cabinet")).await.unwrap();
        c.wait().for_element(Locator::Id("temporary-notice")).await.unwrap();
        let new = "Синий-Слон-Летит-7!";
        fill(c, "field-current", &temporary).await;
        fill(c, "field-password", new).await;
        fill(c, "field-repeat", new).await;
        submit(c, "#password-form").await;
        c.wait().for_element(Locator::Id("account-level")).await.unwrap();

        // «Мои данные»: downloads, then a temporary block.
        click_to_next_page(c, Locator::Id("data-link")).await;
        let pdf = c.find(Locator::Id("export-pdf")).await.unwrap().attr("href").await.unwrap();
        assert_eq!(pdf.as_deref(), Some("/cabinet/data/export.pdf"));
        fill(c, "block-password", new).await;
        submit(c, "#block-form").await;
        let notice = c.wait().for_element(Locator::Id("login-notice")).await.unwrap();
        assert!(notice.text().await.unwrap().contains("заблокирована"));
        fill(c, "field-login", phone).await;
        fill(c, "field-password", new).await;
        submit(c, "#login-form").await;
        let error = c.find(Locator::Id("login-error")).await.unwrap().text().await.unwrap();
        assert!(error.contains("заблокирована по вашей просьбе"), "{error}");
        browser.close().await;
    }
}
