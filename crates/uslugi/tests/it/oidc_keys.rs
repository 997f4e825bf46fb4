//! The OpenID Connect provider, part 5: clients whose tokens are signed RS256 (with an RSA
//! key made when first needed and rotated with the EC key), and token lifetimes taken
//! from the settings.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::Duration;
use domain::Clock as _;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse as _, RedirectUrl, Scope, TokenResponse as _,
};
use serde_json::{Value, json};

use crate::oidc::flow::{CALLBACK, browser, query_param, walk};
use crate::oidc::{cli, jwks};
use crate::support::{TestApp, on_both_backends};

const PHONE: &str = "+79161112233";

/// The claims of a JWT, unchecked (the tests look at what the provider put there).
fn payload(jwt: &str) -> Value {
    serde_json::from_slice(&B64URL.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

fn header(jwt: &str) -> Value {
    serde_json::from_slice(&B64URL.decode(jwt.split('.').next().unwrap()).unwrap()).unwrap()
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

fn http() -> identity::bank::Http {
    identity::bank::Http(
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
    )
}

async fn discover(app: &TestApp) -> CoreProviderMetadata {
    CoreProviderMetadata::discover_async(IssuerUrl::new(app.base.clone()).unwrap(), &http())
        .await
        .expect("discovery")
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

on_both_backends! {
    async fn rs256_clients_get_rs256_tokens_and_the_others_keep_es256(app) {
        app.register(PHONE).await;
        let (code, _, err) = add_client(&app, "legacy", &["--alg", "HS256"]);
        assert_eq!(code, 1);
        assert!(err.contains("--alg: одно из: ES256, RS256"), "{err}");
        let (code, out, err) = add_client(&app, "legacy", &["--alg", "RS256"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("RS256"), "{out}");
        let legacy_secret = out.split_whitespace().last().unwrap().to_owned();
        let (code, out, _) = add_client(&app, "eis", &[]);
        assert_eq!(code, 0);
        let eis_secret = out.split_whitespace().last().unwrap().to_owned();
        let (_, list, _) = cli(&app, &["clients", "list"]);
        assert!(list.contains("\tclient_secret_basic\tRS256") && list.contains("\tclient_secret_basic\tES256"), "{list}");
        let metadata = discover(&app).await;
        let algs = metadata.id_token_signing_alg_values_supported();
        assert!(algs.contains(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256) && algs.contains(&CoreJwsSigningAlgorithm::EcdsaP256Sha256), "{algs:?}");
        // No RSA key until a client needs one.
        assert_eq!(jwks(&app).await.keys().len(), 1);

        let b = browser();
        let mut first_rs256_access = String::new();
        for (id, secret, alg) in [
            ("legacy", &legacy_secret, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256),
            ("eis", &eis_secret, CoreJwsSigningAlgorithm::EcdsaP256Sha256),
        ] {
            let client = |metadata: CoreProviderMetadata| {
                CoreClient::from_provider_metadata(metadata, ClientId::new(id.into()), Some(ClientSecret::new(secret.clone())))
                    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap())
            };
            let rp = client(discover(&app).await);
            let (url, _, nonce) = rp
                .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
                .add_scope(Scope::new("fullname".into()))
                .url();
            let back = walk(&app, &b, url.as_str(), PHONE).await;
            let code = query_param(&back, "code").unwrap();
            let tokens = rp.exchange_code(AuthorizationCode::new(code)).unwrap()
                .request_async(&http()).await.expect("tokens");
            // The relying party fetches the keys again (a new `kid`) and accepts only its
            // own algorithm.
            let rp = client(discover(&app).await);
            let clock = app.clock.clone();
            let verifier = rp.id_token_verifier().set_allowed_algs(vec![alg.clone()]).set_time_fn(move || clock.now());
            let id_token = tokens.id_token().unwrap();
            id_token.claims(&verifier, &nonce).expect("the ID token verifies with the client's algorithm");
            assert_eq!(id_token.signing_alg().unwrap(), &alg, "{id}");
            let access = tokens.access_token().secret().clone();
            let id_jwt = serde_json::to_value(id_token).unwrap().as_str().unwrap().to_owned();
            assert_eq!(header(&access)["alg"], header(&id_jwt)["alg"], "{id}: the access token too");
            // Userinfo and introspection accept tokens of either key.
            let info = app.http.get(app.url("/oidc/userinfo")).bearer_auth(&access).send().await.unwrap();
            assert_eq!(info.status(), 200, "{id}");
            let (_, body) = post_basic(&app, id, secret, "/oidc/introspect", &[("token", &access)]).await;
            assert_eq!(body["active"], json!(true), "{id}");
            if id == "legacy" {
                first_rs256_access = access;
            }
        }
        let set: Value = app.get("/oidc/jwks").await.json().await.unwrap();
        let keys = set["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2, "{set}");
        let rsa_jwk = keys.iter().find(|k| k["kty"] == "RSA").unwrap();
        assert_eq!(rsa_jwk["alg"], json!("RS256"));
        assert!(rsa_jwk["kid"].as_str().unwrap().starts_with("rs256-"), "{rsa_jwk}");
        let old_rsa_kid = rsa_jwk["kid"].as_str().unwrap().to_owned();

        // Rotation makes new EC and RSA keys; the old ones stay published while their
        // tokens live, and those tokens still work.
        let vault = Arc::new(uslugi::server::open_vault(&app.settings).unwrap());
        let provider = oidc::Provider::new(app.db().clone(), vault, oidc::ProviderSettings::new(&app.base));
        let kids = provider.rotate_keys(app.clock.now()).await.unwrap();
        assert!(kids[0].starts_with("es256-") && kids[1].starts_with("rs256-"), "{kids:?}");
        app.clock.advance(Duration::seconds(31));
        assert_eq!(jwks(&app).await.keys().len(), 4);
        let info = app.http.get(app.url("/oidc/userinfo")).bearer_auth(&first_rs256_access).send().await.unwrap();
        assert_eq!(info.status(), 200, "a token of the retired RSA key is still good");
        // The legacy client's next tokens come from the new RSA key.
        let walk_start = format!("/oidc/authorize?response_type=code&client_id=legacy&scope=openid&redirect_uri={}", CALLBACK.replace(':', "%3A").replace('/', "%2F"));
        let back = walk(&app, &b, &walk_start, PHONE).await;
        let code = query_param(&back, "code").unwrap();
        let (status, body) = post_basic(&app, "legacy", &legacy_secret, "/oidc/token",
            &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK)]).await;
        assert_eq!(status, 200, "{body}");
        let h = header(body["id_token"].as_str().unwrap());
        assert_eq!(h["alg"], json!("RS256"));
        assert_ne!(h["kid"], json!(old_rsa_kid));
        app.clock.advance(Duration::minutes(16));
        assert_eq!(jwks(&app).await.keys().len(), 2, "the retired keys left after their tokens expired");
        // The command rotates both too.
        let (code, out, err) = cli(&app, &["oidc", "rotate-keys"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("es256-") && out.contains("rs256-"), "{out}");
    }
}
