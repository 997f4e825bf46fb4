//! The procurement registry app (ЕИС) as the provider's relying party: the app and the
//! portal run in-process on their own ports and talk over HTTP, as in the dev setup.

use std::sync::Arc;

use domain::Clock as _;
use tokio::sync::oneshot;

use crate::accounts::PASSWORD;
use crate::support::{TestApp, on_both_backends};

/// A running ЕИС; stops when dropped.
pub struct Eis {
    pub base: String,
    _stop: oneshot::Sender<()>,
}

impl Eis {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Serves ЕИС on a free port for `issuer` with `secret`.
async fn serve_eis(issuer: &str, secret: String, app: &TestApp) -> Eis {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let config = eis::Config::new(&base, issuer, secret, app.clock.clone());
    tokio::spawn(eis::serve(config, listener, async move {
        let _ = stopped.await;
    }));
    Eis { base, _stop: stop }
}

/// Registers the client `eis` at the portal's provider and starts the app.
pub async fn start_eis(app: &TestApp) -> Eis {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let vault = Arc::new(uslugi::server::open_vault(&app.settings).unwrap());
    let provider =
        oidc::Provider::new(app.db().clone(), vault, oidc::ProviderSettings::new(&app.base));
    let new = oidc::clients::NewClient {
        id: "eis".into(),
        name: "ЕИС — закупки".into(),
        kind: oidc::clients::ClientKind::Confidential,
        redirect_uris: vec![format!("{base}/callback")],
        post_logout_redirect_uris: Vec::new(),
        scopes: eis::SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        min_level: "simplified".into(),
        allow_http: true,
        jwks: None,
        id_token_alg: oidc::jws::Alg::Es256,
    };
    let (_, secret) = provider.add_client(&new, app.clock.now()).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let config = eis::Config::new(&base, &app.base, secret.unwrap(), app.clock.clone());
    tokio::spawn(eis::serve(config, listener, async move {
        let _ = stopped.await;
    }));
    Eis { base, _stop: stop }
}

/// A browser-like client: cookies, no automatic redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// Follows the portal's pages as a person would — signs in if asked, answers the consent
/// screen with `decision` — and returns the URL the portal sends the browser back to.
async fn walk(
    app: &TestApp,
    eis: &Eis,
    b: &reqwest::Client,
    start: &str,
    login: &str,
    decision: &str,
) -> String {
    let mut url = start.to_owned();
    for _ in 0..8 {
        if url.starts_with(&eis.base) {
            return url;
        }
        let full = if url.starts_with('/') { app.url(&url) } else { url.clone() };
        let r = b.get(&full).send().await.unwrap();
        match r.status().as_u16() {
            303 => url = location(&r),
            200 if url.starts_with("/login") => {
                let r = b
                    .post(app.url("/login"))
                    .form(&[("login", login), ("password", PASSWORD)])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 303);
                url = location(&r);
            }
            200 => {
                let page = r.text().await.unwrap();
                assert!(page.contains("запрашивает доступ"), "{page}");
                let marker = "name=\"query\" value=\"";
                let start = page.find(marker).unwrap() + marker.len();
                let query = page[start..]
                    .split('"')
                    .next()
                    .unwrap()
                    .replace("&amp;", "&")
                    .replace("&#38;", "&");
                let r = b
                    .post(app.url("/oidc/authorize/consent"))
                    .form(&[("query", query.as_str()), ("decision", decision)])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 303);
                url = location(&r);
            }
            other => panic!("{other} at {url}: {}", r.text().await.unwrap()),
        }
    }
    panic!("no way back to ЕИС from {start}");
}

/// Starts a sign-in at ЕИС and returns where it sends the browser (the provider).
async fn start_login(eis: &Eis, b: &reqwest::Client, path: &str) -> String {
    let r = b.get(eis.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    location(&r)
}

on_both_backends! {
    async fn eis_signs_a_person_in_through_the_portal(app) {
        let phone = "+79161112244";
        app.register(phone).await;
        let eis = start_eis(&app).await;
        let b = browser();

        let home = b.get(eis.url("/")).send().await.unwrap().text().await.unwrap();
        assert!(home.contains("Единая информационная система в сфере закупок"), "{home}");
        assert!(home.contains("Войти через Госуслуги"), "{home}");

        // Refused at the consent screen: a Russian message at ЕИС, nobody signed in.
        let to_portal = start_login(&eis, &b, "/login").await;
        assert!(to_portal.starts_with(&app.url("/oidc/authorize?")), "{to_portal}");
        assert!(to_portal.contains("code_challenge_method=S256"), "{to_portal}");
        let back = walk(&app, &eis, &b, &to_portal, phone, "deny").await;
        assert!(back.contains("error=access_denied"), "{back}");
        let r = b.get(&back).send().await.unwrap();
        assert_eq!(r.status(), 400);
        let page = r.text().await.unwrap();
        assert!(page.contains("Вы отказались передать данные из Госуслуг"), "{page}");
        let home = b.get(eis.url("/")).send().await.unwrap().text().await.unwrap();
        assert!(!home.contains("Здравствуйте"), "{home}");

        // Agreed: signed in at ЕИС with the consented attributes.
        let to_portal = start_login(&eis, &b, "/login").await;
        let back = walk(&app, &eis, &b, &to_portal, phone, "allow").await;
        assert!(back.starts_with(&eis.url("/callback?code=")), "{back}");
        let r = b.get(&back).send().await.unwrap();
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        assert_eq!(location(&r), "/");
        // The answer is used once: the same callback again is refused, in Russian.
        let again = b.get(&back).send().await.unwrap();
        assert_eq!(again.status(), 400);
        assert!(again.text().await.unwrap().contains("Начните вход заново"));
        let home = b.get(eis.url("/")).send().await.unwrap().text().await.unwrap();
        assert!(home.contains("Здравствуйте, Анна"), "{home}");
        assert!(home.contains("Петрова Анна"), "{home}");
        assert!(home.contains(phone), "{home}");
        assert!(home.contains("упрощённая"), "{home}");

        // A simplified account may not register an organization: a step-up is offered.
        let page = b.get(eis.url("/organizations/new")).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("нужна стандартная учётная"), "{page}");
        assert!(page.contains("Войти снова с повышением уровня"), "{page}");
        let to_portal = start_login(&eis, &b, "/login?level=standard").await;
        assert!(to_portal.contains("acr_values=urn%3Auslugi%3Aloa%3Astandard"), "{to_portal}");
        let r = b.get(&to_portal).send().await.unwrap();
        let page = r.text().await.unwrap();
        assert!(page.contains("raise-level"), "the portal's step-up page: {page}");

        // A forged answer (a state this browser did not start) is refused.
        let r = b.get(eis.url("/callback?code=x&state=forged")).send().await.unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("не относится к этому входу"));

        // Signing out of ЕИС ends its session only.
        let r = b.post(eis.url("/logout")).send().await.unwrap();
        assert_eq!(r.status(), 303);
        let home = b.get(eis.url("/")).send().await.unwrap().text().await.unwrap();
        assert!(!home.contains("Здравствуйте"), "{home}");
        let r = b.get(app.url("/cabinet")).send().await.unwrap();
        assert_eq!(r.status(), 200, "still signed in at the portal");
    }
}

on_both_backends! {
    demo async fn a_standard_account_sees_the_data_an_organization_registration_would_use(app) {
        let phone = "+79161112277";
        app.register_standard(phone).await;
        let eis = start_eis(&app).await;
        let b = browser();
        let to_portal = start_login(&eis, &b, "/login").await;
        let back = walk(&app, &eis, &b, &to_portal, phone, "allow").await;
        let r = b.get(&back).send().await.unwrap();
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let home = b.get(eis.url("/")).send().await.unwrap().text().await.unwrap();
        assert!(home.contains("Здравствуйте, Мария Ивановна"), "{home}");
        assert!(home.contains("стандартная"), "{home}");
        assert!(home.contains("СНИЛС"), "{home}");
        let page = b.get(eis.url("/organizations/new")).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("Регистрация организации будет доступна позже"), "{page}");
        assert!(page.contains("Демидова Мария Ивановна"), "{page}");
        assert!(!page.contains("Войти снова с повышением уровня"), "{page}");
    }
}

on_both_backends! {
    async fn eis_says_so_when_the_portal_is_unreachable(app) {
        let eis = serve_eis("http://127.0.0.1:1", "secret".into(), &app).await;
        let r = browser().get(eis.url("/login")).send().await.unwrap();
        assert_eq!(r.status(), 502);
        let page = r.text().await.unwrap();
        assert!(page.contains("Портал Госуслуг сейчас недоступен"), "{page}");
    }
}

on_both_backends! {
    async fn the_dev_setup_registers_the_eis_client_and_a_restart_rotates_its_secret(app) {
        let phone = "+79161112255";
        app.register(phone).await;
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut settings = app.settings.clone();
        settings.eis_listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
        let vault = Arc::new(uslugi::server::open_vault(&app.settings).unwrap());
        let provider =
            oidc::Provider::new(app.db().clone(), vault, oidc::ProviderSettings::new(&app.base));

        // The first start registers the client, as the dev setup does.
        let (listener, router, url) =
            uslugi::eis_cli::dev_app(&settings, &provider, app.clock.clone()).await.unwrap();
        assert_eq!(url, format!("http://127.0.0.1:{port}"));
        let client = provider.client("eis").await.unwrap().expect("registered");
        assert_eq!(client.redirect_uris, vec![format!("{url}/callback")]);
        assert_eq!(client.kind, "confidential");
        assert_eq!(client.min_level, "simplified");
        assert_eq!(client.scopes, eis::SCOPES.to_vec());
        drop((listener, router));

        // A restart: the client exists, so its secret is rotated for the new app, which
        // then signs a person in.
        let (listener, router, _) =
            uslugi::eis_cli::dev_app(&settings, &provider, app.clock.clone()).await.unwrap();
        assert_eq!(provider.clients().await.unwrap().len(), 1);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        let eis = Eis { base: url, _stop: stop };
        let b = browser();
        let to_portal = start_login(&eis, &b, "/login").await;
        let back = walk(&app, &eis, &b, &to_portal, phone, "allow").await;
        let r = b.get(&back).send().await.unwrap();
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let home = b.get(eis.url("/")).send().await.unwrap().text().await.unwrap();
        assert!(home.contains("Здравствуйте, Анна"), "{home}");

        // Off when the setting is empty.
        settings.eis_listen = None;
        assert!(uslugi::eis_cli::dev_app(&settings, &provider, app.clock.clone()).await.is_none());
    }
}

mod chromium {
    use fantoccini::{Client, Locator};

    use super::*;
    use crate::browser::Browser;

    async fn fill(c: &Client, id: &str, value: &str) {
        let field = c.find(Locator::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Clicks and waits for the next page (not just any element, which the old page may
    /// still show).
    async fn click_to_next_page(c: &Client, locator: Locator<'_>) {
        c.execute("document.body.dataset.old = '1'", vec![]).await.unwrap();
        c.find(locator).await.unwrap().click().await.unwrap();
        if let Err(e) = c.wait().for_element(Locator::Css("body:not([data-old])")).await {
            let url = c.current_url().await.unwrap();
            let source = c.source().await.unwrap();
            panic!("no next page ({e}) at {url}: {source}");
        }
    }

    on_both_backends! {
        async fn a_person_signs_in_to_eis_with_the_portal_in_chromium(app) {
            let phone = "+79161112266";
            app.register(phone).await;
            let eis = start_eis(&app).await;
            let browser = Browser::start().await;
            let c = &browser.client;
            c.goto(&eis.url("/")).await.unwrap();
            click_to_next_page(c, Locator::Id("login")).await;
            // At the portal: its sign-in page, then the consent screen.
            assert!(c.current_url().await.unwrap().as_str().starts_with(&app.url("/login")));
            fill(c, "field-login", phone).await;
            fill(c, "field-password", PASSWORD).await;
            click_to_next_page(c, Locator::Css("#login-form button[type=submit]")).await;
            let consent = c.wait().for_element(Locator::Id("consent")).await.unwrap();
            let listed = consent.text().await.unwrap();
            assert!(listed.contains("СНИЛС") && listed.contains("фамилия, имя и отчество"), "{listed}");
            click_to_next_page(c, Locator::Id("consent-allow")).await;
            // Back at ЕИС, signed in.
            let greeting = c.wait().for_element(Locator::Id("greeting")).await.unwrap();
            assert_eq!(greeting.text().await.unwrap(), "Здравствуйте, Анна");
            assert!(c.current_url().await.unwrap().as_str().starts_with(&eis.base));
            click_to_next_page(c, Locator::Id("logout")).await;
            c.wait().for_element(Locator::Id("login")).await.unwrap();

            // Signed out at the portal too, the consent remembered: after the sign-in form
            // the portal sends the browser straight back to ЕИС.
            c.goto(&app.url("/cabinet")).await.unwrap();
            click_to_next_page(c, Locator::Css("form[action='/logout'] button")).await;
            c.goto(&eis.url("/")).await.unwrap();
            click_to_next_page(c, Locator::Id("login")).await;
            fill(c, "field-login", phone).await;
            fill(c, "field-password", PASSWORD).await;
            click_to_next_page(c, Locator::Css("#login-form button[type=submit]")).await;
            let greeting = c.wait().for_element(Locator::Id("greeting")).await.unwrap();
            assert_eq!(greeting.text().await.unwrap(), "Здравствуйте, Анна");
            browser.close().await;
        }
    }

    on_both_backends! {
        async fn a_person_unlinks_eis_in_the_cabinet_and_is_asked_to_consent_again_in_chromium(app) {
            let phone = "+79161112288";
            app.register(phone).await;
            let eis = start_eis(&app).await;
            let browser = Browser::start().await;
            let c = &browser.client;

            // Signed in to ЕИС through the portal, with consent.
            c.goto(&eis.url("/")).await.unwrap();
            click_to_next_page(c, Locator::Id("login")).await;
            fill(c, "field-login", phone).await;
            fill(c, "field-password", PASSWORD).await;
            click_to_next_page(c, Locator::Css("#login-form button[type=submit]")).await;
            c.wait().for_element(Locator::Id("consent")).await.unwrap();
            click_to_next_page(c, Locator::Id("consent-allow")).await;
            let greeting = c.wait().for_element(Locator::Id("greeting")).await.unwrap();
            assert_eq!(greeting.text().await.unwrap(), "Здравствуйте, Анна");
            click_to_next_page(c, Locator::Id("logout")).await;

            // The cabinet lists ЕИС; «Отвязать» with the password removes it.
            c.goto(&app.url("/cabinet/services")).await.unwrap();
            let card = c.wait().for_element(Locator::Css("li[data-client='eis']")).await.unwrap();
            assert!(card.text().await.unwrap().contains("ЕИС — закупки"));
            fill(c, "unlink-eis", PASSWORD).await;
            click_to_next_page(c, Locator::Css("li[data-client='eis'] button[type=submit]")).await;
            let notice = c.wait().for_element(Locator::Id("services-notice")).await.unwrap();
            assert!(notice.text().await.unwrap().contains("Сервис отвязан"));
            c.find(Locator::Id("services-empty")).await.unwrap();
            assert!(c.find(Locator::Css("li[data-client='eis']")).await.is_err(), "gone from the list");

            // Signing in to ЕИС again (still signed in at the portal) asks for consent again.
            c.goto(&eis.url("/")).await.unwrap();
            click_to_next_page(c, Locator::Id("login")).await;
            let consent = c.wait().for_element(Locator::Id("consent")).await.unwrap();
            assert!(consent.text().await.unwrap().contains("СНИЛС"));
            assert!(c.current_url().await.unwrap().as_str().starts_with(&app.base));
            click_to_next_page(c, Locator::Id("consent-allow")).await;
            let greeting = c.wait().for_element(Locator::Id("greeting")).await.unwrap();
            assert_eq!(greeting.text().await.unwrap(), "Здравствуйте, Анна");
            browser.close().await;
        }
    }
}
