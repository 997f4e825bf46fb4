//! Confirmation through a bank, over real HTTP: the portal, and the demo bank on its own
//! free port, driven by a client that keeps cookies and follows redirects the way a
//! browser does (portal → bank's page → the customer's choice → portal callback).

use std::sync::Arc;

use serde_json::{Value, json};
use store::Backend;

use crate::support::TestApp;

const PHONE: &str = "+79161234567";

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

/// The portal trusting a demo bank that runs on its own free port.
struct BankApp {
    app: TestApp,
    issuer: String,
    bank: tokio::task::JoinHandle<()>,
}

impl BankApp {
    async fn spawn(backend: Backend) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let settings = identity::bank::BankSettings {
            id: "demo".into(),
            name: "Демо-банк".into(),
            issuer: issuer.clone(),
            client_id: "uslugi".into(),
            client_secret: "test-secret".into(),
            scopes: vec!["profile".into(), "snils".into(), "passport".into()],
        };
        let app = TestApp::spawn_with(backend, |_, s| {
            s.demo_data = true;
            s.banks = vec![settings];
        })
        .await;
        let router = demobank::router(demobank::Config {
            issuer: issuer.clone(),
            client_id: "uslugi".into(),
            client_secret: "test-secret".into(),
            redirect_uri: app.url("/cabinet/confirm/bank/callback"),
            clock: app.clock.clone(),
        });
        let bank = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self { app, issuer, bank }
    }

    async fn stop(self) {
        self.bank.abort();
        self.app.stop().await;
    }

    /// A browser signed in with `session`: keeps cookies, follows redirects.
    fn browser(&self, session: &str) -> reqwest::Client {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let portal: reqwest::Url = self.app.base.parse().unwrap();
        jar.add_cookie_str(&format!("uslugi_session={session}; Path=/"), &portal);
        reqwest::Client::builder().cookie_provider(jar).build().unwrap()
    }

    /// A simplified account made standard through the documents flow.
    async fn standard_account(&self) -> String {
        let app = &self.app;
        let token = app.register(PHONE).await;
        let r = app
            .http
            .post(app.url("/api/v1/me/documents"))
            .bearer_auth(&token)
            .json(&maria())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        for _ in 0..20_000 {
            let (_, me) = app.me(&token).await;
            if me["level"] == json!("standard") {
                return token;
            }
            tokio::task::yield_now().await;
        }
        panic!("the documents were never verified");
    }

    /// From the portal's «Войти через Демо-банк» to the bank's page: its URL.
    async fn to_bank(&self, browser: &reqwest::Client) -> reqwest::Url {
        let r = browser.post(self.app.url("/cabinet/confirm/bank/demo")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let url = r.url().clone();
        assert!(url.as_str().starts_with(&format!("{}/authorize?", self.issuer)), "{url}");
        let page = r.text().await.unwrap();
        assert!(page.contains("Демо-банк") && page.contains("customer-maria"), "{page}");
        url
    }

    /// Posts the bank's form (the request's parameters plus `extra`) as the browser would.
    async fn decide(
        &self,
        browser: &reqwest::Client,
        bank_page: &reqwest::Url,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut fields: Vec<(String, String)> = bank_page.query_pairs().into_owned().collect();
        fields.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        browser.post(format!("{}/authorize", self.issuer)).form(&fields).send().await.unwrap()
    }

    async fn journal_details(&self, action: &str) -> Vec<Value> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT details FROM journal WHERE action = $1 ORDER BY id")
                .bind(action)
                .fetch_all(self.app.db().pool())
                .await
                .unwrap();
        rows.iter().map(|(d,)| serde_json::from_str(d).unwrap()).collect()
    }
}

async fn run_confirmed_then_replay_refused(b: BankApp) {
    let token = b.standard_account().await;
    let browser = b.browser(&token);
    let bank_page = b.to_bank(&browser).await;
    let r = b.decide(&browser, &bank_page, &[("customer", "maria")]).await;
    let back = r.url().clone();
    assert!(back.as_str().starts_with(&b.app.url("/cabinet/confirm/bank/callback?")), "{back}");
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"bank-confirmed\""), "{page}");
    let (_, me) = b.app.me(&token).await;
    assert_eq!(me["level"], json!("confirmed"));
    let confirmed = b.journal_details("account.confirmed").await;
    assert_eq!(confirmed, [json!({"bank": "demo", "route": "bank"})]);
    b.app.outbox_when(|m| m.iter().any(|x| x["template"] == json!("account.confirmed"))).await;

    // The same answer again (a replayed state) is refused in Russian, never a 500.
    let r = browser.get(back.clone()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let page = r.text().await.unwrap();
    assert!(page.contains("не относится к начатому вами подтверждению"), "{page}");
    // So is a made-up state, and a callback without one.
    for query in ["?state=forged&code=x", ""] {
        let r = browser
            .get(b.app.url(&format!("/cabinet/confirm/bank/callback{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{query}");
    }
    // A confirmed account is not sent to the bank again.
    let r = browser.post(b.app.url("/cabinet/confirm/bank/demo")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 409);
    assert!(r.text().await.unwrap().contains("Учётная запись уже подтверждена"));
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_confirms_a_standard_account_and_refuses_a_replay_sqlite() {
    run_confirmed_then_replay_refused(BankApp::spawn(Backend::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_confirms_a_standard_account_and_refuses_a_replay_postgres() {
    run_confirmed_then_replay_refused(BankApp::spawn(Backend::Postgres).await).await;
}

async fn run_mismatch_denied_and_foreign(b: BankApp) {
    let token = b.standard_account().await;
    let browser = b.browser(&token);

    // The bank knows another SNILS: refused, the SNILS named, the level unchanged.
    let bank_page = b.to_bank(&browser).await;
    let r = b.decide(&browser, &bank_page, &[("customer", "maria-other-snils")]).await;
    assert_eq!(r.status().as_u16(), 409);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"bank-mismatch\""), "{page}");
    let list = page.split("id=\"bank-differences\"").nth(1).unwrap().split("</ul>").next().unwrap();
    assert!(list.contains("<li>СНИЛС</li>"), "{list}");
    assert!(!list.contains("987") && !list.contains("Демидова"), "no values shown: {list}");
    let (_, me) = b.app.me(&token).await;
    assert_eq!(me["level"], json!("standard"));
    assert_eq!(
        b.journal_details("bank.refused").await,
        [json!({"bank": "demo", "fields": ["snils"]})]
    );

    // The person refuses at the bank: a Russian message, nothing changes.
    let bank_page = b.to_bank(&browser).await;
    let r = b.decide(&browser, &bank_page, &[("deny", "1")]).await;
    assert_eq!(r.status().as_u16(), 403);
    let page = r.text().await.unwrap();
    assert!(page.contains("Вход в банк «Демо-банк» отменён"), "{page}");
    assert_eq!(
        b.journal_details("bank.failed").await,
        [json!({"bank": "demo", "reason": "access_denied"})]
    );

    // Wrong login at the bank: the bank's own page says so.
    let bank_page = b.to_bank(&browser).await;
    let r = b.decide(&browser, &bank_page, &[("login", "maria"), ("password", "wrong")]).await;
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().await.unwrap().contains("Неверный логин или пароль"));

    // An answer meant for this session, opened in another browser (no session): refused.
    let bank_page = b.to_bank(&browser).await;
    let no_redirects =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = b.decide(&no_redirects, &bank_page, &[("login", "maria"), ("password", "demo")]).await;
    assert_eq!(r.status().as_u16(), 303);
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    let r = reqwest::get(&back).await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("Начните подтверждение заново"));
    // …and, used up, it no longer works in the right browser either.
    let r = browser.get(&back).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // An hour later the bank's page is still there, but the state has expired.
    let bank_page = b.to_bank(&browser).await;
    b.app.clock.advance(chrono::Duration::minutes(11));
    let r = b.decide(&browser, &bank_page, &[("customer", "maria")]).await;
    assert_eq!(r.status().as_u16(), 400);
    let (_, me) = b.app.me(&token).await;
    assert_eq!(me["level"], json!("standard"));
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_refuses_other_data_a_refusal_and_a_foreign_state_sqlite() {
    run_mismatch_denied_and_foreign(BankApp::spawn(Backend::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_refuses_other_data_a_refusal_and_a_foreign_state_postgres() {
    run_mismatch_denied_and_foreign(BankApp::spawn(Backend::Postgres).await).await;
}

async fn run_api_and_simplified(b: BankApp) {
    // A simplified account is stopped before it goes to the bank.
    let simple = b.app.register("+79160000001").await;
    let r = b
        .app
        .http
        .post(b.app.url("/api/v1/me/bank-confirmation/demo"))
        .bearer_auth(&simple)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], json!("not_standard"), "{body}");
    let r = b.browser(&simple).post(b.app.url("/cabinet/confirm/bank/demo")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 409);
    assert!(r.text().await.unwrap().contains("Сначала получите стандартную учётную запись"));
    assert!(b.journal_details("bank.started").await.is_empty(), "nothing was started");

    // An app lists the banks, starts the flow, and hands the URL to a browser.
    let token = b.standard_account().await;
    let r = b
        .app
        .http
        .get(b.app.url("/api/v1/me/bank-confirmation/banks"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"banks": [{"id": "demo", "name": "Демо-банк"}]}));
    let r = b
        .app
        .http
        .post(b.app.url("/api/v1/me/bank-confirmation/nobank"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = b
        .app
        .http
        .post(b.app.url("/api/v1/me/bank-confirmation/demo"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    let url: reqwest::Url = body["authorize_url"].as_str().unwrap().parse().unwrap();
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["client_id"], "uslugi");
    assert!(query.contains_key("nonce") && query.contains_key("state"), "{url}");
    let browser = reqwest::Client::new();
    assert_eq!(browser.get(url.clone()).send().await.unwrap().status().as_u16(), 200);
    let r = b.decide(&browser, &url, &[("customer", "maria")]).await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("id=\"bank-confirmed\""));
    let (_, me) = b.app.me(&token).await;
    assert_eq!(me["level"], json!("confirmed"));
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_flow_through_the_api_and_simplified_accounts_stopped_sqlite() {
    run_api_and_simplified(BankApp::spawn(Backend::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_flow_through_the_api_and_simplified_accounts_stopped_postgres() {
    run_api_and_simplified(BankApp::spawn(Backend::Postgres).await).await;
}

async fn run_unreachable(backend: Backend) {
    // A bank whose port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = TestApp::spawn_with(backend, |_, s| {
        s.demo_data = true;
        s.banks = vec![identity::bank::BankSettings {
            id: "gone".into(),
            name: "Банк Без Связи".into(),
            issuer: format!("http://127.0.0.1:{port}"),
            client_id: "uslugi".into(),
            client_secret: "x".into(),
            scopes: vec!["profile".into()],
        }];
    })
    .await;
    let b = BankApp { app, issuer: String::new(), bank: tokio::spawn(async {}) };
    let token = b.standard_account().await;
    let r = b.browser(&token).post(b.app.url("/cabinet/confirm/bank/gone")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let page = r.text().await.unwrap();
    assert!(page.contains("Банк «Банк Без Связи» сейчас не отвечает"), "{page}");
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_bank_is_a_clear_message_sqlite() {
    run_unreachable(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_bank_is_a_clear_message_postgres() {
    run_unreachable(Backend::Postgres).await;
}

/// Clicks what `locator` finds and waits for the next page (which may be another
/// site's: the mark is on the old page's body).
async fn click_to_next_page(c: &fantoccini::Client, locator: fantoccini::Locator<'_>) {
    c.execute("document.body.dataset.old = '1'", vec![]).await.unwrap();
    c.find(locator).await.unwrap().click().await.unwrap();
    c.wait().for_element(fantoccini::Locator::Css("body:not([data-old])")).await.unwrap();
}

/// The demo citizen in headless Chromium, with the demo bank the dev setup starts by
/// itself: hub → «Через банк» → «Войти через Демо-банк» → the bank's page → her
/// customer record → back, confirmed.
async fn run_browser(backend: Backend) {
    use fantoccini::Locator;

    let app = TestApp::spawn_with(backend, |_, s| {
        s.demo_data = true;
        s.demo_bank_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let (login, password) = app.demo().expect("demo citizen on the first dev run");
    let (status, body) = app.sign_in(&login, &password).await;
    assert_eq!(status, 201, "{body}");
    let token = body["session"].as_str().unwrap().to_owned();
    let r = app
        .http
        .post(app.url("/api/v1/me/documents"))
        .bearer_auth(&token)
        .json(&maria())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    for _ in 0..20_000 {
        if app.me(&token).await.1["level"] == json!("standard") {
            break;
        }
        tokio::task::yield_now().await;
    }

    let browser = crate::browser::Browser::start().await;
    let c = &browser.client;
    c.goto(&app.url("/login")).await.unwrap();
    for (id, value) in [("field-login", login.as_str()), ("field-password", password.as_str())] {
        c.find(Locator::Id(id)).await.unwrap().send_keys(value).await.unwrap();
    }
    click_to_next_page(c, Locator::Css("#login-form button[type=submit]")).await;
    c.goto(&app.url("/cabinet/confirm")).await.unwrap();
    click_to_next_page(c, Locator::Id("route-bank-link")).await;
    click_to_next_page(c, Locator::Id("bank-demo")).await;
    let heading = c.find(Locator::Css("h1")).await.unwrap().text().await.unwrap();
    assert_eq!(heading, "Демо-банк");
    click_to_next_page(c, Locator::Id("customer-maria")).await;
    let done = c.find(Locator::Id("bank-confirmed")).await.unwrap().text().await.unwrap();
    assert!(done.contains("Банк «Демо-банк» подтвердил ваши данные"), "{done}");
    c.goto(&app.url("/cabinet/confirm")).await.unwrap();
    let level = c.find(Locator::Id("account-level")).await.unwrap();
    assert_eq!(level.attr("data-level").await.unwrap().as_deref(), Some("confirmed"));
    browser.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_confirms_through_the_demo_bank_sqlite() {
    run_browser(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_confirms_through_the_demo_bank_postgres() {
    run_browser(Backend::Postgres).await;
}
