//! The administrator's page of OpenID Connect clients (`/staff/clients`): registration
//! with the command's checks, the secret shown once, rotation and removal behind a
//! confirmation, journaled; other roles get a 403; a cross-site form is refused.

use std::sync::Arc;

use crate::staff::{Answer, StaffClient, cli, demo, printed_password, staff_ready};
use crate::support::{TestApp, on_both_backends};

/// Creates an administrator by command and signs in (one-time password replaced).
pub async fn admin(app: &TestApp) -> StaffClient<'_> {
    let (code, out, err) = cli(
        app,
        &["add", "--login", "root", "--name", "Админова Анна Петровна", "--role", "admin"],
    );
    assert_eq!(code, 0, "{err}");
    staff_ready(app, "root", &printed_password(&out)).await
}

fn provider(app: &TestApp) -> oidc::Provider {
    let vault = Arc::new(uslugi::server::open_vault(&app.settings).unwrap());
    oidc::Provider::new(app.db().clone(), vault, oidc::ProviderSettings::new(&app.base))
}

/// The secret on a secret page.
fn shown_secret(a: &Answer) -> String {
    let marker = "id=\"client-secret\">";
    let start =
        a.body.find(marker).unwrap_or_else(|| panic!("no secret in {}", a.body)) + marker.len();
    a.body[start..].split('<').next().unwrap().to_owned()
}

const EIS_FORM: [(&str, &str); 8] = [
    ("id", "eis"),
    ("name", "ЕИС — закупки"),
    ("kind", "confidential"),
    ("redirect_uris", "https://eis.example/callback\r\nhttp://127.0.0.1:8081/callback"),
    ("scopes", "openid"),
    ("scopes", "fullname"),
    ("scopes", "snils"),
    ("min_level", "standard"),
];

on_both_backends! {
    demo async fn an_admin_registers_rotates_and_removes_clients_on_the_page(app) {
        let admin = admin(&app).await;
        let me = admin.get("/staff/me").await;
        assert!(me.body.contains("href=\"/staff/clients\""), "admins have the menu item: {}", me.body);
        let a = admin.get("/staff/clients").await;
        assert_eq!(a.status, 200);
        assert!(a.body.contains("Клиентов пока нет"), "{}", a.body);

        // A wrong redirect URI: the Russian reason beside the field, the typed values kept
        // (escaped), nothing stored.
        let mut form = EIS_FORM.to_vec();
        form[1] = ("name", "ЕИС <b>закупки</b>");
        form[3] = ("redirect_uris", "ftp://eis.example/callback");
        let a = admin.post("/staff/clients", &form).await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(a.body.contains("Адреса возврата: «ftp://eis.example/callback» должен начинаться с http:// или https://"), "{}", a.body);
        assert!(a.body.contains("id=\"field-redirect_uris-error\" aria-live=\"polite\">«ftp://eis.example/callback» должен начинаться с"), "{}", a.body);
        assert!(a.body.contains(">ftp://eis.example/callback</textarea>"), "{}", a.body);
        assert!(a.body.contains("value=\"eis\""), "{}", a.body);
        assert!(a.body.contains("ЕИС &#60;b&#62;закупки") || a.body.contains("ЕИС &lt;b&gt;закупки"), "{}", a.body);
        assert!(!a.body.contains("<b>закупки"));
        assert!(a.body.contains("id=\"scope-snils\" name=\"scopes\" value=\"snils\" checked"), "{}", a.body);
        assert!(a.body.contains("<option value=\"standard\" selected>"), "{}", a.body);
        let provider = provider(&app);
        assert!(provider.client("eis").await.unwrap().is_none());
        // Other fields name themselves too.
        let mut form = EIS_FORM.to_vec();
        form[0] = ("id", "EIS app");
        let a = admin.post("/staff/clients", &form).await;
        assert_eq!(a.status, 422);
        assert!(a.body.contains("Идентификатор (client_id): от 3 до 64 символов"), "{}", a.body);
        let without_openid: Vec<_> = EIS_FORM.iter().copied().filter(|p| *p != ("scopes", "openid")).collect();
        let a = admin.post("/staff/clients", &without_openid).await;
        assert_eq!(a.status, 422);
        assert!(a.body.contains("Области доступа: нужна область openid"), "{}", a.body);

        // Registered: the secret shown once, not to be cached; it authenticates.
        let a = admin.post("/staff/clients", &EIS_FORM).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("Секрет показывается один раз"), "{}", a.body);
        let secret = shown_secret(&a);
        assert_eq!(secret.len(), 43);
        assert!(provider.authenticate_client("eis", &secret).await.unwrap().is_some());
        let r = app.http.post(app.url("/staff/clients")).header("cookie", admin.cookie())
            .form(&[("id", "eis2"), ("name", "ЕИС"), ("kind", "confidential"),
                ("redirect_uris", "https://eis.example/cb"), ("scopes", "openid"), ("min_level", "simplified")])
            .send().await.unwrap();
        assert_eq!(r.headers()["cache-control"], "no-store");
        // The same id again is refused on the id field.
        let a = admin.post("/staff/clients", &EIS_FORM).await;
        assert_eq!(a.status, 422);
        assert!(a.body.contains("клиент «eis» уже зарегистрирован"), "{}", a.body);
        // A public client has no secret: back to the list.
        let a = admin.post("/staff/clients", &[("id", "mobile-app"), ("name", "Приложение"), ("kind", "public"),
            ("redirect_uris", "https://app.example/cb"), ("scopes", "openid"), ("scopes", "mobile"), ("min_level", "simplified")]).await;
        assert_eq!((a.status, a.location.as_str()), (303, "/staff/clients?done=added&id=mobile-app"), "{}", a.body);

        // The list: kind, addresses, scopes in words, level, creation time, actions.
        let a = admin.get("/staff/clients?done=added&id=mobile-app").await;
        assert!(a.body.contains("Клиент «mobile-app» зарегистрирован."), "{}", a.body);
        let row = a.body.split("data-client=\"eis\"").nth(1).unwrap().split("</tr>").next().unwrap();
        assert!(row.contains("ЕИС — закупки") && row.contains("конфиденциальный"), "{row}");
        assert!(row.contains("https://eis.example/callback") && row.contains("http://127.0.0.1:8081/callback"), "{row}");
        assert!(row.contains("идентификатор учётной записи") && row.contains("фамилия, имя и отчество") && row.contains("СНИЛС"), "{row}");
        assert!(row.contains("стандартная"), "{row}");
        assert!(row.contains("22.11.2026 12:00"), "created, Moscow time: {row}");
        assert!(row.contains("/staff/clients/eis/rotate-secret") && row.contains("/staff/clients/eis/remove"), "{row}");
        let row = a.body.split("data-client=\"mobile-app\"").nth(1).unwrap().split("</tr>").next().unwrap();
        assert!(row.contains("публичный (PKCE)") && row.contains("номер мобильного телефона"), "{row}");
        assert!(!row.contains("rotate-secret"), "a public client has no secret: {row}");
        let a = admin.get("/staff/clients/mobile-app/rotate-secret").await;
        assert_eq!(a.status, 400);
        assert!(a.body.contains("публичный: у него нет секрета"), "{}", a.body);

        // Rotation: confirmed first; the old secret stops working, the new one is shown once.
        let a = admin.get("/staff/clients/eis/rotate-secret").await;
        assert_eq!(a.status, 200);
        assert!(a.body.contains("Прежний секрет перестанет действовать сразу"), "{}", a.body);
        let a = admin.post("/staff/clients/eis/rotate-secret", &[]).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("Прежний секрет уже не действует"), "{}", a.body);
        let fresh = shown_secret(&a);
        assert!(provider.authenticate_client("eis", &secret).await.unwrap().is_none());
        assert!(provider.authenticate_client("eis", &fresh).await.unwrap().is_some());

        // Removal: confirmed first; then gone from the list and from the provider.
        let a = admin.get("/staff/clients/eis/remove").await;
        assert_eq!(a.status, 200);
        assert!(a.body.contains("Удалить клиента?") && a.body.contains("action=\"/staff/clients/eis/remove\""), "{}", a.body);
        let a = admin.post("/staff/clients/eis/remove", &[]).await;
        assert_eq!((a.status, a.location.as_str()), (303, "/staff/clients?done=removed&id=eis"));
        assert!(provider.client("eis").await.unwrap().is_none());
        assert!(provider.authenticate_client("eis", &fresh).await.unwrap().is_none());
        let a = admin.get("/staff/clients").await;
        assert!(!a.body.contains("data-client=\"eis\""), "{}", a.body);
        let a = admin.post("/staff/clients/eis/remove", &[]).await;
        assert_eq!(a.status, 404);
        assert!(a.body.contains("Клиент «eis» не найден"), "{}", a.body);

        // Forms from another site are refused (the CSRF layer), nothing changes.
        let r = app.http.post(app.url("/staff/clients/mobile-app/remove"))
            .header("cookie", admin.cookie())
            .header("sec-fetch-site", "cross-site")
            .send().await.unwrap();
        assert_eq!(r.status(), 403);
        assert!(provider.client("mobile-app").await.unwrap().is_some());

        // Another role: a Russian 403 on every route, no menu item.
        let operator = staff_ready(&app, "operator", &demo(&app, "operator")).await;
        let a = operator.get("/staff").await;
        assert!(!a.body.contains("/staff/clients"), "{}", a.body);
        for path in ["/staff/clients", "/staff/clients/mobile-app/remove", "/staff/clients/mobile-app/rotate-secret"] {
            let a = operator.get(path).await;
            assert_eq!(a.status, 403, "{path}");
            assert!(a.body.contains("Недостаточно прав: действие доступно только роли «администратор»"), "{}", a.body);
        }
        let a = operator.post("/staff/clients", &EIS_FORM).await;
        assert_eq!(a.status, 403);
        let a = operator.post("/staff/clients/mobile-app/remove", &[]).await;
        assert_eq!(a.status, 403);
        assert!(provider.client("mobile-app").await.unwrap().is_some());
        assert!(provider.client("eis").await.unwrap().is_none());

        // Every action is in the journal with the administrator as actor; no secrets.
        let admin_id: String = sqlx::query_scalar("SELECT id FROM staff WHERE login = 'root'")
            .fetch_one(app.db().pool()).await.unwrap();
        let rows = sqlx::query_as::<_, (Option<String>, Option<String>, String, String, String)>(
            "SELECT actor_id, subject_id, action, outcome, details FROM journal \
             WHERE actor_kind = 'admin' AND action LIKE 'staff.client%' ORDER BY id",
        )
        .fetch_all(app.db().pool())
        .await
        .unwrap();
        let actions: Vec<(&str, &str)> = rows.iter().map(|r| (r.2.as_str(), r.3.as_str())).collect();
        assert_eq!(actions, [
            ("staff.client_add_refused", "denied"),
            ("staff.client_add_refused", "denied"),
            ("staff.client_add_refused", "denied"),
            ("staff.client_added", "ok"),
            ("staff.client_added", "ok"),
            ("staff.client_add_refused", "denied"),
            ("staff.client_added", "ok"),
            ("staff.client_secret_rotated", "ok"),
            ("staff.client_removed", "ok"),
        ]);
        for (actor, subject, _, _, details) in &rows {
            assert_eq!(actor.as_deref(), Some(admin_id.as_str()));
            assert!(subject.is_none());
            assert!(!details.contains(&secret) && !details.contains(&fresh), "{details}");
        }
        assert!(rows[0].4.contains("\"field\":\"redirect_uris\""), "{}", rows[0].4);
        assert!(rows[3].4.contains("\"client\":\"eis\""), "{}", rows[3].4);
        assert!(rows[8].4.contains("\"client\":\"eis\""), "{}", rows[8].4);

        // A client that signs its requests with its own key (private_key_jwt) and wants
        // RS256: no secret shown, none to rotate; a JWKS that is not one is refused beside
        // its field.
        let mut form = EIS_FORM.to_vec();
        form[0] = ("id", "keyed");
        form.push(("alg", "RS256"));
        form.push(("jwks", "{\"keys\": 1}"));
        let a = admin.post("/staff/clients", &form).await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(a.body.contains("id=\"field-jwks-error\" aria-live=\"polite\">"), "{}", a.body);
        assert!(a.body.contains("<option value=\"RS256\" selected>"), "{}", a.body);
        let jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "kid": "k1",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        let jwks = serde_json::json!({"keys": [jwk]}).to_string();
        let last = form.len() - 1;
        form[last] = ("jwks", &jwks);
        let a = admin.post("/staff/clients", &form).await;
        assert_eq!(a.status, 303, "{}", a.body);
        let keyed = provider.client("keyed").await.unwrap().unwrap();
        assert_eq!((keyed.auth_method.as_str(), keyed.id_token_alg.as_str()), ("private_key_jwt", "RS256"));
        let a = admin.get("/staff/clients").await;
        assert!(a.body.contains("вход по ключу (private_key_jwt)"), "{}", a.body);
        let a = admin.post("/staff/clients/keyed/rotate-secret", &[]).await;
        assert_eq!(a.status, 400);
        assert!(a.body.contains("входит по своему ключу"), "{}", a.body);
    }
}

mod chromium {
    use fantoccini::{Client, Locator};

    use super::*;
    use crate::browser::Browser;
    use crate::staff::STAFF_PASSWORD;

    async fn fill(c: &Client, id: &str, value: &str) {
        let field = c.find(Locator::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    async fn submit(c: &Client, button: &str) {
        c.execute("document.body.dataset.old = '1'", vec![]).await.unwrap();
        c.find(Locator::Id(button)).await.unwrap().click().await.unwrap();
        if let Err(e) = c.wait().for_element(Locator::Css("body:not([data-old])")).await {
            let source = c.source().await.unwrap();
            panic!("no next page ({e}): {source}");
        }
    }

    on_both_backends! {
        async fn an_admin_adds_a_client_in_chromium(app) {
            let (code, out, err) = cli(&app, &["add", "--login", "root", "--name", "Админова Анна Петровна", "--role", "admin"]);
            assert_eq!(code, 0, "{err}");
            let one_time = printed_password(&out);
            let browser = Browser::start().await;
            let c = &browser.client;
            c.goto(&app.url("/staff/login")).await.unwrap();
            fill(c, "field-login", "root").await;
            fill(c, "field-password", &one_time).await;
            submit(c, "staff-login-submit").await;
            fill(c, "field-current", &one_time).await;
            fill(c, "field-password", STAFF_PASSWORD).await;
            fill(c, "field-repeat", STAFF_PASSWORD).await;
            submit(c, "staff-password-submit").await;

            // From the menu to the page, then the form.
            c.execute("document.body.dataset.old = '1'", vec![]).await.unwrap();
            c.find(Locator::Id("nav-clients")).await.unwrap().click().await.unwrap();
            c.wait().for_element(Locator::Id("clients-empty")).await.unwrap();
            fill(c, "field-id", "eis").await;
            fill(c, "field-name", "ЕИС — закупки").await;
            fill(c, "field-redirect_uris", "https://eis.example/callback").await;
            c.find(Locator::Id("scope-snils")).await.unwrap().click().await.unwrap();
            c.find(Locator::Css("#field-min_level option[value='standard']")).await.unwrap().click().await.unwrap();
            submit(c, "client-submit").await;

            // The secret, once, with the warning.
            let warning = c.wait().for_element(Locator::Id("secret-warning")).await.unwrap();
            assert!(warning.text().await.unwrap().contains("Секрет показывается один раз"));
            let secret = c.find(Locator::Id("client-secret")).await.unwrap().text().await.unwrap();
            assert_eq!(secret.len(), 43, "{secret}");
            let client = provider(&app).authenticate_client("eis", &secret).await.unwrap().expect("the shown secret works");
            assert_eq!(client.scopes, ["openid", "fullname", "snils"]);
            assert_eq!(client.min_level, "standard");

            submit(c, "back-to-clients").await;
            let row = c.wait().for_element(Locator::Css("tr[data-client='eis']")).await.unwrap();
            let text = row.text().await.unwrap();
            assert!(text.contains("ЕИС — закупки") && text.contains("СНИЛС") && text.contains("стандартная"), "{text}");
            assert!(!c.source().await.unwrap().contains(&secret), "the list never shows the secret");
            browser.close().await;
        }
    }
}
