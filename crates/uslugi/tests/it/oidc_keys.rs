//! The OpenID Connect provider, part 5: token lifetimes taken from the settings.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::Duration;
use domain::Clock as _;
use serde_json::{Value, json};

use crate::oidc::cli;
use crate::oidc::flow::{CALLBACK, browser, query_param, walk};
use crate::support::TestApp;

const PHONE: &str = "+79161112233";

/// The claims of a JWT, unchecked (the tests look at what the provider put there).
fn payload(jwt: &str) -> Value {
    serde_json::from_slice(&B64URL.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

/// Registers `id` by command with `extra` options; returns what it printed.
fn add_client(app: &TestApp, id: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "clients",
        "add",
        "--id",
        id,
        "--name",
        "Сервис",
        "--redirect-uri",
        CALLBACK,
        "--scopes",
        "openid,fullname",
    ];
    args.extend(extra);
    cli(app, &args)
}

async fn post_basic(
    app: &TestApp,
    id: &str,
    secret: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let r =
        app.http.post(app.url(path)).basic_auth(id, Some(secret)).form(form).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The lifetimes of the settings reach the tokens: `expires_in`, the ID token's `exp`, the
/// refresh token's expiry, and the access token stops working when it says.
async fn lifetimes_from_settings(backend: store::Backend) {
    let app = TestApp::spawn_with(backend, |_, s| {
        s.oidc_tokens.access = Duration::seconds(120);
        s.oidc_tokens.id = Duration::seconds(300);
        s.oidc_tokens.refresh = Duration::days(2);
    })
    .await;
    app.register(PHONE).await;
    let (code, out, err) = add_client(&app, "eis", &[]);
    assert_eq!(code, 0, "{err}");
    let secret = out.split_whitespace().last().unwrap().to_owned();
    let start = format!(
        "/oidc/authorize?response_type=code&client_id=eis&scope=openid&redirect_uri={}",
        CALLBACK.replace(':', "%3A").replace('/', "%2F")
    );
    let back = walk(&app, &browser(), &start, PHONE).await;
    let code = query_param(&back, "code").unwrap();
    let (status, body) = post_basic(
        &app,
        "eis",
        &secret,
        "/oidc/token",
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], json!(120));
    let access = body["access_token"].as_str().unwrap().to_owned();
    let now = app.clock.now().timestamp();
    assert_eq!(payload(&access)["exp"], json!(now + 120));
    let id = payload(body["id_token"].as_str().unwrap());
    assert_eq!(id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(), 300);
    let refresh = body["refresh_token"].as_str().unwrap();
    let (_, info) =
        post_basic(&app, "eis", &secret, "/oidc/introspect", &[("token", refresh)]).await;
    assert_eq!(info["exp"], json!(now + 2 * 86_400));
    app.clock.advance(Duration::seconds(121));
    let r = app.http.get(app.url("/oidc/userinfo")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(r.status(), 401, "expired after the configured 120 seconds");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_lifetimes_come_from_the_settings_sqlite() {
    lifetimes_from_settings(store::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_lifetimes_come_from_the_settings_postgres() {
    lifetimes_from_settings(store::Backend::Postgres).await;
}
