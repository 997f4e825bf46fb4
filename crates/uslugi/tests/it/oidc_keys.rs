//! The OpenID Connect provider, part 5: clients that authenticate with a JWT signed by
//! their own key (`private_key_jwt`, single-use assertions), clients whose tokens are
//! signed RS256 (with an RSA key made when first needed and rotated with the EC key), and
//! token lifetimes taken from the settings. The relying party is the `openidconnect`
//! client library; it cannot sign client assertions, so the tests sign them by hand and
//! pass them as extra parameters.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::Duration;
use domain::Clock as _;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse as _, RedirectUrl, Scope, TokenResponse as _,
};
use rsa::signature::{SignatureEncoding as _, Signer as _};
use serde_json::{Value, json};

use crate::oidc::flow::{CALLBACK, browser, query_param, walk};
use crate::oidc::{cli, jwks};
use crate::support::{TestApp, on_both_backends};

const ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
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

/// A relying party's private key.
enum Key {
    Ec(p256::ecdsa::SigningKey),
    Rsa(rsa::pkcs1v15::SigningKey<sha2::Sha256>),
}

impl Key {
    fn ec() -> Self {
        loop {
            let bytes: [u8; 32] = rand::random();
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                return Self::Ec(key);
            }
        }
    }

    fn rsa() -> Self {
        let key = rsa::RsaPrivateKey::new(&mut rand::rng(), 2048).unwrap();
        Self::Rsa(rsa::pkcs1v15::SigningKey::new(key))
    }

    /// The public JWK, as the client registers it.
    fn jwk(&self, kid: &str) -> Value {
        match self {
            Self::Ec(key) => {
                let point = key.verifying_key().to_sec1_point(false);
                let b = point.as_bytes();
                json!({"kty": "EC", "crv": "P-256", "x": B64URL.encode(&b[1..33]),
                       "y": B64URL.encode(&b[33..65]), "kid": kid, "use": "sig", "alg": "ES256"})
            }
            Self::Rsa(key) => {
                use rsa::traits::PublicKeyParts as _;
                let public = AsRef::<rsa::RsaPrivateKey>::as_ref(key).to_public_key();
                json!({"kty": "RSA", "n": B64URL.encode(public.n().to_be_bytes_trimmed_vartime()),
                       "e": B64URL.encode(public.e().to_be_bytes_trimmed_vartime()),
                       "kid": kid, "use": "sig", "alg": "RS256"})
            }
        }
    }

    /// A compact JWS of `claims` with `header` (`alg` added).
    fn sign_with(&self, mut header: Value, claims: &Value) -> String {
        header["alg"] = json!(match self {
            Self::Ec(_) => "ES256",
            Self::Rsa(_) => "RS256",
        });
        let input =
            format!("{}.{}", B64URL.encode(header.to_string()), B64URL.encode(claims.to_string()));
        let signature = match self {
            Self::Ec(key) => {
                let s: p256::ecdsa::Signature = key.sign(input.as_bytes());
                s.to_bytes().to_vec()
            }
            Self::Rsa(key) => key.sign(input.as_bytes()).to_vec(),
        };
        format!("{input}.{}", B64URL.encode(signature))
    }

    fn sign(&self, kid: &str, claims: &Value) -> String {
        self.sign_with(json!({"typ": "JWT", "kid": kid}), claims)
    }
}

/// The claims of a good assertion of `eis` for `aud`: a minute to live, a fresh `jti`.
fn claims(app: &TestApp, aud: &str) -> Value {
    let now = app.clock.now().timestamp();
    json!({"iss": "eis", "sub": "eis", "aud": aud, "iat": now, "exp": now + 60,
           "jti": uuid::Uuid::now_v7().to_string()})
}

/// A form to `path`, optionally with `Authorization: Basic eis:secret`: (status, JSON).
async fn post(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    basic: Option<&str>,
) -> (u16, Value) {
    let mut request = app.http.post(app.url(path));
    if let Some(secret) = basic {
        request = request.basic_auth("eis", Some(secret));
    }
    let r = request.form(form).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

on_both_backends! {
    async fn a_client_authenticates_with_its_signed_assertion_once_per_jti(app) {
        app.register(PHONE).await;
        let (ec, rsa_key) = (Key::ec(), Key::rsa());
        let file = app.dir.join("eis-jwks.json");
        let path = file.display().to_string();
        // Registration by command: keys required, public keys only, and no secret.
        let (code, _, err) = add_client(&app, "eis", &["--auth", "private_key_jwt"]);
        assert_eq!(code, 1);
        assert!(err.contains("--jwks: для private_key_jwt укажите файл"), "{err}");
        let mut private = ec.jwk("ec-1");
        private["d"] = json!("AAAA");
        std::fs::write(&file, json!({"keys": [private]}).to_string()).unwrap();
        let (code, _, err) = add_client(&app, "eis", &["--auth", "private_key_jwt", "--jwks", &path]);
        assert_eq!(code, 1);
        assert!(err.contains("--jwks: ключ «ec-1» содержит закрытую часть"), "{err}");
        std::fs::write(&file, json!({"keys": [ec.jwk("ec-1"), rsa_key.jwk("rsa-1")]}).to_string()).unwrap();
        let (code, out, err) = add_client(&app, "eis", &["--auth", "private_key_jwt", "--jwks", &path]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("private_key_jwt") && !out.contains("client_secret"), "{out}");
        let (code, _, err) = cli(&app, &["clients", "rotate-secret", "eis"]);
        assert_eq!(code, 1);
        assert!(err.contains("входит по ключу (private_key_jwt)"), "{err}");

        // Discovery says so; the library signs the person in, the assertion authenticates
        // the code exchange, and the ID token verifies.
        let metadata = discover(&app).await;
        let methods = metadata.token_endpoint_auth_methods_supported().unwrap();
        assert!(methods.contains(&CoreClientAuthMethod::PrivateKeyJwt), "{methods:?}");
        let client = CoreClient::from_provider_metadata(metadata, ClientId::new("eis".into()), None)
            .set_auth_type(AuthType::RequestBody)
            .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
        let (url, _, nonce) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("fullname".into()))
            .url();
        let back = walk(&app, &browser(), url.as_str(), PHONE).await;
        let code = query_param(&back, "code").unwrap();
        let token_url = app.url("/oidc/token");
        let first = ec.sign("ec-1", &claims(&app, &token_url));
        let tokens = client.exchange_code(AuthorizationCode::new(code)).unwrap()
            .add_extra_param("client_assertion_type", ASSERTION)
            .add_extra_param("client_assertion", first.clone())
            .request_async(&http()).await.expect("tokens for a signed assertion");
        let clock = app.clock.clone();
        let verifier = client.id_token_verifier().set_time_fn(move || clock.now());
        let id = tokens.id_token().unwrap().claims(&verifier, &nonce).expect("a valid ID token");
        assert_eq!(id.audiences()[0].as_str(), "eis");
        let refresh = tokens.refresh_token().unwrap().secret().clone();

        // Refusals, each before the refresh token is looked at (it stays usable).
        let refresh_with = |assertion: String| {
            let refresh = refresh.clone();
            let app = &app;
            async move {
                post(app, "/oidc/token", &[("grant_type", "refresh_token"), ("refresh_token", &refresh),
                    ("client_id", "eis"), ("client_assertion_type", ASSERTION), ("client_assertion", &assertion)], None).await
            }
        };
        let refused = |(status, body): (u16, Value), why: &str| {
            assert_eq!(status, 401, "{why}: {body}");
            assert_eq!(body["error"], json!("invalid_client"), "{why}");
            let description = body["error_description"].as_str().unwrap().to_owned();
            assert!(description.contains(why), "{why}: {description}");
        };
        refused(refresh_with(first.clone()).await, "already used");
        refused(refresh_with(Key::ec().sign("ec-1", &claims(&app, &token_url))).await, "signature");
        refused(refresh_with(ec.sign("rsa-1", &claims(&app, &token_url))).await, "signature");
        refused(refresh_with(ec.sign("ec-1", &claims(&app, "https://evil.example/oidc/token"))).await, "aud");
        let now = app.clock.now().timestamp();
        let mut expired = claims(&app, &token_url);
        expired["iat"] = json!(now - 120);
        expired["exp"] = json!(now - 60);
        refused(refresh_with(ec.sign("ec-1", &expired)).await, "expired");
        let mut long = claims(&app, &token_url);
        long["exp"] = json!(now + 3600);
        refused(refresh_with(ec.sign("ec-1", &long)).await, "5 minutes");
        let mut no_jti = claims(&app, &token_url);
        no_jti.as_object_mut().unwrap().remove("jti");
        refused(refresh_with(ec.sign("ec-1", &no_jti)).await, "jti");
        let mut other = claims(&app, &token_url);
        other["sub"] = json!("someone-else");
        refused(refresh_with(ec.sign("ec-1", &other)).await, "iss and sub");
        let unsigned = format!("{}.{}.", B64URL.encode(r#"{"alg":"none"}"#), B64URL.encode(claims(&app, &token_url).to_string()));
        refused(refresh_with(unsigned).await, "signature");
        // A secret is no way in for this client, nor a secret and an assertion together.
        refused(post(&app, "/oidc/token", &[("grant_type", "refresh_token"), ("refresh_token", &refresh)], Some("guess")).await, "private_key_jwt");
        let fresh = ec.sign("ec-1", &claims(&app, &token_url));
        refused(post(&app, "/oidc/token", &[("grant_type", "refresh_token"), ("refresh_token", &refresh),
            ("client_assertion_type", ASSERTION), ("client_assertion", &fresh)], Some("guess")).await, "one client authentication method");
        let wrong_type = ec.sign("ec-1", &claims(&app, &token_url));
        refused(post(&app, "/oidc/token", &[("grant_type", "refresh_token"), ("refresh_token", &refresh),
            ("client_assertion_type", "urn:example:saml"), ("client_assertion", &wrong_type)], None).await, "client_assertion_type");

        // An RS256 assertion, without client_id (the assertion names the client), works.
        let rs = rsa_key.sign("rsa-1", &claims(&app, &token_url));
        let (status, body) = post(&app, "/oidc/token", &[("grant_type", "refresh_token"), ("refresh_token", &refresh),
            ("client_assertion_type", ASSERTION), ("client_assertion", &rs)], None).await;
        assert_eq!(status, 200, "{body}");
        let access = body["access_token"].as_str().unwrap().to_owned();
        // The jti is kept in the database: another node refuses the replay too.
        let vault = Arc::new(uslugi::server::open_vault(&app.settings).unwrap());
        let other_node = oidc::Provider::new(app.db().clone(), vault, oidc::ProviderSettings::new(&app.base));
        let credentials = |assertion: &str| oidc::clients::ClientCredentials {
            client_id: "eis".into(),
            assertion_type: Some(ASSERTION.into()),
            assertion: Some(assertion.into()),
            endpoint: "/oidc/token",
            ..Default::default()
        };
        let replay = other_node.authenticate(&credentials(&rs), app.clock.now()).await.unwrap();
        assert!(replay.unwrap_err().description.contains("already used"));

        // Introspection (audience: the issuer), PAR (its own endpoint) and revocation.
        let assertion = rsa_key.sign("rsa-1", &claims(&app, &app.base));
        let (status, body) = post(&app, "/oidc/introspect", &[("token", &access),
            ("client_assertion_type", ASSERTION), ("client_assertion", &assertion)], None).await;
        assert_eq!((status, body["active"].clone()), (200, json!(true)), "{body}");
        let assertion = ec.sign("ec-1", &claims(&app, &app.url("/oidc/par")));
        let (status, body) = post(&app, "/oidc/par", &[("response_type", "code"), ("scope", "openid"),
            ("redirect_uri", CALLBACK), ("client_assertion_type", ASSERTION), ("client_assertion", &assertion)], None).await;
        assert_eq!(status, 201, "{body}");
        let assertion = ec.sign("ec-1", &claims(&app, &app.url("/oidc/revoke")));
        let (status, _) = post(&app, "/oidc/revoke", &[("token", &access),
            ("client_assertion_type", ASSERTION), ("client_assertion", &assertion)], None).await;
        assert_eq!(status, 200);
        let assertion = ec.sign("ec-1", &claims(&app, &token_url));
        let (_, body) = post(&app, "/oidc/introspect", &[("token", &access),
            ("client_assertion_type", ASSERTION), ("client_assertion", &assertion)], None).await;
        assert_eq!(body["active"], json!(false), "revoked");

        // Used ids are kept only while their assertions live.
        let count = || async {
            let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM oidc_assertion_jti").fetch_one(app.db().pool()).await.unwrap();
            n.0
        };
        assert_eq!(count().await, 6, "the successful assertions");
        app.clock.advance(Duration::seconds(61));
        let fresh = ec.sign("ec-1", &claims(&app, &app.base));
        assert!(other_node.authenticate(&credentials(&fresh), app.clock.now()).await.unwrap().is_ok());
        assert_eq!(count().await, 1);

        // Key rotation on the client's side: only the RSA key from now on.
        std::fs::write(&file, json!({"keys": [rsa_key.jwk("rsa-1")]}).to_string()).unwrap();
        let (code, _, err) = cli(&app, &["clients", "set-jwks", "eis", "--jwks", &path]);
        assert_eq!(code, 0, "{err}");
        // A change made elsewhere (here: by the command) reaches a running provider within
        // the time it trusts a registration it read.
        app.clock.advance(Duration::seconds(oidc::clients::CLIENT_FRESH));
        let old = ec.sign("ec-1", &claims(&app, &app.base));
        let refusal = other_node.authenticate(&credentials(&old), app.clock.now()).await.unwrap().unwrap_err();
        assert!(refusal.description.contains("signature"), "{}", refusal.description);
        let new = rsa_key.sign("rsa-1", &claims(&app, &app.base));
        assert!(other_node.authenticate(&credentials(&new), app.clock.now()).await.unwrap().is_ok());
    }
}
