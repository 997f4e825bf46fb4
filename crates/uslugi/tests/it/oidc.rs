//! The OpenID Connect provider, part 1: clients registered by command, signing keys
//! published as JWKS (read with the `openidconnect` client library) and rotated with the
//! old key kept until its tokens expire.

use std::process::Command;
use std::sync::Arc;

use chrono::Duration;
use domain::Clock as _;
use openidconnect::core::CoreJsonWebKeySet;
use serde_json::Value;

use crate::support::{TestApp, on_both_backends};

const BIN: &str = env!("CARGO_BIN_EXE_uslugi");

pub(crate) fn cli(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(&app.dir).env_remove("RUST_LOG");
    for key in uslugi::settings::KEYS {
        cmd.env_remove(format!("USLUGI_{}", key.to_uppercase()));
    }
    let dir = app.dir.display().to_string();
    let mut all = vec![args[0], args[1], "--data-dir", &dir, "--database-url", &app.database_url];
    all.extend(&args[2..]);
    let out = cmd.args(&all).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

pub(crate) async fn jwks(app: &TestApp) -> CoreJsonWebKeySet {
    let r = app.get("/oidc/jwks").await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    serde_json::from_value(body).expect("a JWKS the client library reads")
}

on_both_backends! {
    async fn clients_are_registered_by_command_and_keys_rotate(app) {
        // Refusals name the option, in Russian; nothing is stored.
        let (code, _, err) = cli(&app, &["clients", "add", "--id", "eis", "--name", "ЕИС",
            "--redirect-uri", "ftp://eis.example/cb"]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("--redirect-uri: «ftp://eis.example/cb» должен начинаться с"), "{err}");
        let (code, _, err) = cli(&app, &["clients", "add", "--id", "eis", "--name", "ЕИС",
            "--redirect-uri", "http://127.0.0.1:8081/callback", "--scopes", "openid,passport"]);
        assert_eq!(code, 1);
        assert!(err.contains("неизвестная область «passport»"), "{err}");

        let (code, out, err) = cli(&app, &["clients", "add", "--id", "eis", "--name", "ЕИС",
            "--redirect-uri", "http://127.0.0.1:8081/callback", "--scopes", "openid,fullname,snils",
            "--min-level", "standard"]);
        assert_eq!(code, 0, "{err}");
        let secret = out.split_whitespace().last().unwrap().to_owned();
        assert_eq!(secret.len(), 43, "{out}");
        let (code, _, err) = cli(&app, &["clients", "add", "--id", "eis", "--name", "Другой",
            "--redirect-uri", "http://127.0.0.1:9/cb"]);
        assert_eq!(code, 1);
        assert!(err.contains("уже зарегистрирован"), "{err}");
        let (_, out, _) = cli(&app, &["clients", "list"]);
        assert!(out.contains("eis\tЕИС\tconfidential\tуровень от standard\topenid,fullname,snils"), "{out}");

        // The secret authenticates; a rotated one replaces it.
        let vault = Arc::new(uslugi::server::open_vault(&app.settings).unwrap());
        let provider = oidc::Provider::new(app.db().clone(), vault, oidc::ProviderSettings::new(&app.base));
        assert!(provider.authenticate_client("eis", &secret).await.unwrap().is_some());
        assert!(provider.authenticate_client("eis", "wrong").await.unwrap().is_none());
        let (code, out, _) = cli(&app, &["clients", "rotate-secret", "eis"]);
        assert_eq!(code, 0);
        let fresh = out.split_whitespace().last().unwrap();
        assert!(provider.authenticate_client("eis", &secret).await.unwrap().is_none());
        assert!(provider.authenticate_client("eis", fresh).await.unwrap().is_some());

        // One signing key is published; after rotation both, until the old one's tokens
        // have expired.
        assert_eq!(jwks(&app).await.keys().len(), 1);
        let now = app.clock.now();
        let old = provider.signing_key(now).await.unwrap();
        let new_kids = provider.rotate_keys(now).await.unwrap();
        assert_eq!(new_kids.len(), 1, "no RS256 key in use: only the ES256 key rotates");
        let new_kid = new_kids[0].clone();
        assert_ne!(old.kid, new_kid);
        // The server reads the keys again within 30 seconds of a rotation elsewhere.
        app.clock.advance(Duration::seconds(31));
        let set = jwks(&app).await;
        assert_eq!(set.keys().len(), 2);
        assert_eq!(provider.signing_key(now).await.unwrap().kid, new_kid, "the new key signs");
        app.clock.advance(Duration::minutes(16));
        assert_eq!(jwks(&app).await.keys().len(), 1, "the old key left after its tokens expired");

        let (code, _, _) = cli(&app, &["clients", "remove", "eis"]);
        assert_eq!(code, 0);
        assert!(provider.authenticate_client("eis", fresh).await.unwrap().is_none());
        let (code, _, err) = cli(&app, &["clients", "remove", "eis"]);
        assert_eq!(code, 1);
        assert!(err.contains("не найден"), "{err}");
    }
}

pub(crate) mod flow {
    use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
    use openidconnect::{
        AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
        OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
        TokenResponse as _,
    };
    use serde_json::json;

    use super::*;
    use crate::accounts::PASSWORD;

    pub(crate) const CALLBACK: &str = "http://127.0.0.1:9/callback";

    /// A browser-like client: cookies, no automatic redirects.
    pub(crate) fn browser() -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    pub(crate) fn location(r: &reqwest::Response) -> String {
        r.headers()["location"].to_str().unwrap().to_owned()
    }

    /// The test's own handle on the provider, and a client `eis` registered with it:
    /// returns (provider, the client's secret).
    async fn register_eis(
        app: &TestApp,
        name: &str,
        scopes: &[&str],
        post_logout: &[&str],
    ) -> (oidc::Provider, String) {
        let vault = Arc::new(uslugi::server::open_vault(&app.settings).unwrap());
        let provider =
            oidc::Provider::new(app.db().clone(), vault, oidc::ProviderSettings::new(&app.base));
        let new = client("eis", name, scopes, post_logout);
        let (_, secret) = provider.add_client(&new, app.clock.now()).await.unwrap();
        (provider, secret.unwrap())
    }

    pub(crate) fn client(
        id: &str,
        name: &str,
        scopes: &[&str],
        post_logout: &[&str],
    ) -> oidc::clients::NewClient {
        oidc::clients::NewClient {
            id: id.into(),
            name: name.into(),
            kind: oidc::clients::ClientKind::Confidential,
            redirect_uris: vec![CALLBACK.into()],
            post_logout_redirect_uris: post_logout.iter().map(|s| (*s).to_owned()).collect(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            min_level: "simplified".into(),
            allow_http: true,
            jwks: None,
            id_token_alg: oidc::jws::Alg::Es256,
        }
    }

    /// Follows the provider's pages as a person would: sign in if asked, agree if asked;
    /// returns where the provider finally sends the browser back to the client.
    pub(crate) async fn walk(
        app: &TestApp,
        b: &reqwest::Client,
        start: &str,
        login: &str,
    ) -> String {
        let mut url = start.to_owned();
        for _ in 0..8 {
            if url.starts_with(CALLBACK) {
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
                    let start = page.find("name=\"query\" value=\"").unwrap()
                        + "name=\"query\" value=\"".len();
                    let query = page[start..]
                        .split('"')
                        .next()
                        .unwrap()
                        .replace("&amp;", "&")
                        .replace("&#38;", "&");
                    let r = b
                        .post(app.url("/oidc/authorize/consent"))
                        .form(&[("query", query.as_str()), ("decision", "allow")])
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 303);
                    url = location(&r);
                }
                other => panic!("{other} at {url}: {}", r.text().await.unwrap()),
            }
        }
        panic!("no way back to the client from {start}");
    }

    pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
        let uri: axum::http::Uri = url.parse().unwrap();
        let axum::extract::Query(map) =
            axum::extract::Query::<std::collections::HashMap<String, String>>::try_from_uri(&uri)
                .unwrap();
        map.get(name).cloned()
    }

    on_both_backends! {
        async fn a_relying_party_signs_a_person_in_with_the_openidconnect_library(app) {
            let phone = "+79161112233";
            app.register(phone).await;
            let (_, secret) = register_eis(&app, "ЕИС — закупки", &["openid", "fullname", "mobile"], &[]).await;

            let http = identity::bank::Http(reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap());
            let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.base.clone()).unwrap(), &http)
                .await
                .expect("discovery");
            let client = CoreClient::from_provider_metadata(metadata, ClientId::new("eis".into()), Some(ClientSecret::new(secret.clone())))
                .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            let (url, state, nonce) = client
                .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
                .add_scope(Scope::new("fullname".into()))
                .add_scope(Scope::new("mobile".into()))
                .set_pkce_challenge(challenge)
                .url();
            let b = browser();
            let back = walk(&app, &b, url.as_str(), phone).await;
            assert_eq!(query_param(&back, "state").as_deref(), Some(state.secret().as_str()));
            assert_eq!(query_param(&back, "iss").as_deref(), Some(app.base.as_str()));
            let code = query_param(&back, "code").expect("a code");

            // A wrong PKCE verifier is refused (and does not use the code up).
            let wrong = client.exchange_code(AuthorizationCode::new(code.clone())).unwrap()
                .set_pkce_verifier(PkceCodeVerifier::new("x".repeat(43)))
                .request_async(&http).await;
            assert!(wrong.is_err());
            let tokens = client.exchange_code(AuthorizationCode::new(code.clone())).unwrap()
                .set_pkce_verifier(verifier)
                .request_async(&http).await.expect("tokens");
            let clock = app.clock.clone();
            let verifier = client.id_token_verifier().set_time_fn(move || clock.now());
            let id_token = tokens.id_token().expect("an ID token");
            let claims = id_token.claims(&verifier, &nonce).expect("a valid ID token");
            assert_eq!(claims.issuer().as_str(), app.base);
            assert_eq!(claims.audiences()[0].as_str(), "eis");
            assert_eq!(claims.auth_context_ref().map(|a| a.as_str().to_owned()).as_deref(), Some("urn:uslugi:loa:simplified"));
            // The same code again: refused, and what it gave is revoked.
            let again = client.exchange_code(AuthorizationCode::new(code)).unwrap()
                .request_async(&http).await;
            assert!(again.is_err());
            let info = app.http.get(app.url("/oidc/userinfo")).bearer_auth(tokens.access_token().secret()).send().await.unwrap();
            assert_eq!(info.status(), 401, "the replayed code revoked the grant");

            // A fresh sign-in: consent is remembered, so the provider answers at once.
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            let (url, _, _) = client
                .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
                .add_scope(Scope::new("fullname".into()))
                .add_scope(Scope::new("mobile".into()))
                .set_pkce_challenge(challenge)
                .url();
            let r = b.get(url.as_str()).send().await.unwrap();
            assert_eq!(r.status(), 303);
            let back = location(&r);
            assert!(back.starts_with(CALLBACK), "no consent screen the second time: {back}");
            let code = query_param(&back, "code").unwrap();
            let tokens = client.exchange_code(AuthorizationCode::new(code)).unwrap()
                .set_pkce_verifier(verifier).request_async(&http).await.unwrap();
            let info: serde_json::Value = app.http.get(app.url("/oidc/userinfo"))
                .bearer_auth(tokens.access_token().secret()).send().await.unwrap().json().await.unwrap();
            assert_eq!(info["family_name"], json!("Петрова"));
            assert_eq!(info["given_name"], json!("Анна"));
            assert_eq!(info["phone_number"], json!(phone));
            assert_eq!(info["phone_number_verified"], json!(true));
            assert_eq!(info["verified_claims"], json!([]), "no registry-verified data yet");
            // The access token expires after 10 minutes.
            app.clock.advance(Duration::minutes(11));
            let r = app.http.get(app.url("/oidc/userinfo")).bearer_auth(tokens.access_token().secret()).send().await.unwrap();
            assert_eq!(r.status(), 401);
        }
    }

    on_both_backends! {
        async fn bad_requests_are_refused_before_and_at_the_token_endpoint(app) {
            let phone = "+79161112233";
            app.register(phone).await;
            let (provider, secret) = register_eis(&app, "ЕИС", &["openid", "fullname"], &[]).await;
            let mut new = client("eis", "ЕИС", &["openid", "fullname"], &[]);
            new.id = "app".into();
            new.kind = oidc::clients::ClientKind::Public;
            provider.add_client(&new, app.clock.now()).await.unwrap();
            let b = browser();
            let base = "/oidc/authorize?response_type=code&client_id=eis&state=s1";
            // An unknown redirect URI is never followed: our own page says why.
            let r = b.get(app.url(&format!("{base}&scope=openid&redirect_uri=https%3A%2F%2Fevil.example%2Fcb"))).send().await.unwrap();
            assert_eq!(r.status(), 400);
            assert!(r.text().await.unwrap().contains("адрес возврата не зарегистрирован"));
            // A scope the client may not ask for goes back as invalid_scope.
            let cb = "&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback";
            let r = b.get(app.url(&format!("{base}{cb}&scope=openid%20snils"))).send().await.unwrap();
            let back = location(&r);
            assert!(back.starts_with(CALLBACK));
            assert_eq!(query_param(&back, "error").as_deref(), Some("invalid_scope"));
            assert_eq!(query_param(&back, "state").as_deref(), Some("s1"));
            // A public client must use PKCE.
            let r = b.get(app.url(&format!("/oidc/authorize?response_type=code&client_id=app&scope=openid{cb}"))).send().await.unwrap();
            assert_eq!(query_param(&location(&r), "error").as_deref(), Some("invalid_request"));
            // prompt=none without a session: login_required.
            let r = b.get(app.url(&format!("{base}{cb}&scope=openid&prompt=none"))).send().await.unwrap();
            assert_eq!(query_param(&location(&r), "error").as_deref(), Some("login_required"));
            // Signed in, a request for a standard account gets the step-up page, in Russian.
            let r = b.post(app.url("/login")).form(&[("login", phone), ("password", PASSWORD)]).send().await.unwrap();
            assert_eq!(r.status(), 303);
            let r = b.get(app.url(&format!("{base}{cb}&scope=openid&acr_values=urn%3Auslugi%3Aloa%3Astandard"))).send().await.unwrap();
            assert_eq!(r.status(), 403);
            let page = r.text().await.unwrap();
            assert!(page.contains("нужна стандартная учётная запись, а у вас — упрощённая"), "{page}");
            assert!(page.contains("/cabinet/documents"));
            // Refusal by the person: access_denied.
            let r = b.get(app.url(&format!("{base}{cb}&scope=openid%20fullname"))).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let r = b.post(app.url("/oidc/authorize/consent"))
                .form(&[("query", &format!("response_type=code&client_id=eis&state=s1{cb}&scope=openid%20fullname")[..]), ("decision", "deny")])
                .send().await.unwrap();
            assert_eq!(query_param(&location(&r), "error").as_deref(), Some("access_denied"));
            // Agree, then try the code with a wrong secret, late, and with another redirect.
            let r = b.post(app.url("/oidc/authorize/consent"))
                .form(&[("query", &format!("response_type=code&client_id=eis&state=s1{cb}&scope=openid%20fullname")[..]), ("decision", "allow")])
                .send().await.unwrap();
            let code = query_param(&location(&r), "code").unwrap();
            let token = |id: &str, secret: &str, code: &str, redirect: &str| {
                app.http.post(app.url("/oidc/token")).basic_auth(id, Some(secret))
                    .form(&[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect)])
                    .send()
            };
            let r = token("eis", "wrong", &code, CALLBACK).await.unwrap();
            assert_eq!(r.status(), 401);
            assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], json!("invalid_client"));
            let r = token("eis", &secret, &code, "http://127.0.0.1:9/other").await.unwrap();
            assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], json!("invalid_grant"));
            app.clock.advance(Duration::seconds(61));
            let r = token("eis", &secret, &code, CALLBACK).await.unwrap();
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!((body["error"].clone(), body["error_description"].clone()), (json!("invalid_grant"), json!("the code has expired")));
            let r = app.http.post(app.url("/oidc/token")).form(&[("grant_type", "password")]).send().await.unwrap();
            assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], json!("unsupported_grant_type"));
        }
    }

    /// Whether the provider's introspection calls the token active.
    async fn active(app: &TestApp, secret: &str, token: &str) -> bool {
        let r: serde_json::Value = app
            .http
            .post(app.url("/oidc/introspect"))
            .basic_auth("eis", Some(secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["active"] == json!(true)
    }

    on_both_backends! {
        async fn refresh_rotates_revocation_and_unlinking_end_the_grant(app) {
            let phone = "+79161112233";
            let session = app.register(phone).await;
            let (_, secret) = register_eis(&app, "ЕИС — закупки", &["openid", "fullname"], &[]).await;
            let b = browser();
            let start = "/oidc/authorize?response_type=code&client_id=eis&scope=openid%20fullname&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&state=s";
            let back = walk(&app, &b, start, phone).await;
            let code = query_param(&back, "code").unwrap();
            let post = |path: &str, form: Vec<(&str, String)>| {
                app.http.post(app.url(path)).basic_auth("eis", Some(secret.clone())).form(&form).send()
            };
            let body: serde_json::Value = post("/oidc/token", vec![("grant_type", "authorization_code".into()), ("code", code), ("redirect_uri", CALLBACK.into())])
                .await.unwrap().json().await.unwrap();
            let refresh1 = body["refresh_token"].as_str().unwrap().to_owned();
            let access1 = body["access_token"].as_str().unwrap().to_owned();
            // Rotation: a new pair each time.
            let body: serde_json::Value = post("/oidc/token", vec![("grant_type", "refresh_token".into()), ("refresh_token", refresh1.clone())])
                .await.unwrap().json().await.unwrap();
            let refresh2 = body["refresh_token"].as_str().unwrap().to_owned();
            let access2 = body["access_token"].as_str().unwrap().to_owned();
            assert_ne!(refresh1, refresh2);
            assert!(active(&app, &secret, &access2).await);
            assert!(active(&app, &secret, &refresh2).await);
            assert!(!active(&app, &secret, &refresh1).await, "a used refresh token is inactive");
            // Reusing the old refresh token revokes the whole family.
            let r = post("/oidc/token", vec![("grant_type", "refresh_token".into()), ("refresh_token", refresh1)]).await.unwrap();
            assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], json!("invalid_grant"));
            assert!(!active(&app, &secret, &access2).await);
            assert!(!active(&app, &secret, &refresh2).await);
            assert!(!active(&app, &secret, &access1).await);

            // A new grant, revoked by the client (RFC 7009).
            let back = walk(&app, &b, start, phone).await;
            let code = query_param(&back, "code").unwrap();
            let body: serde_json::Value = post("/oidc/token", vec![("grant_type", "authorization_code".into()), ("code", code), ("redirect_uri", CALLBACK.into())])
                .await.unwrap().json().await.unwrap();
            let access = body["access_token"].as_str().unwrap().to_owned();
            assert!(active(&app, &secret, &access).await);
            let r = post("/oidc/revoke", vec![("token", access.clone())]).await.unwrap();
            assert_eq!(r.status(), 200);
            assert!(!active(&app, &secret, &access).await);
            let r = app.http.post(app.url("/oidc/introspect")).basic_auth("eis", Some("wrong")).form(&[("token", "x")]).send().await.unwrap();
            assert_eq!(r.status(), 401);

            // The cabinet lists the service; unlinking needs the password and ends the grant.
            let back = walk(&app, &b, start, phone).await;
            let code = query_param(&back, "code").unwrap();
            let body: serde_json::Value = post("/oidc/token", vec![("grant_type", "authorization_code".into()), ("code", code), ("redirect_uri", CALLBACK.into())])
                .await.unwrap().json().await.unwrap();
            let access = body["access_token"].as_str().unwrap().to_owned();
            let (status, list) = app.call("GET", "/api/v1/me/services", &session, json!({})).await;
            assert_eq!(status, 200);
            assert_eq!(list[0]["name"], json!("ЕИС — закупки"));
            assert_eq!(list[0]["attributes"], json!(["фамилия, имя и отчество"]));
            let (status, _) = app.call("POST", "/api/v1/me/services/eis/unlink", &session, json!({"password": "wrong"})).await;
            assert_eq!(status, 422);
            assert!(active(&app, &secret, &access).await);
            let (status, _) = app.call("POST", "/api/v1/me/services/eis/unlink", &session, json!({"password": PASSWORD})).await;
            assert_eq!(status, 204);
            assert!(!active(&app, &secret, &access).await);
            let (_, list) = app.call("GET", "/api/v1/me/services", &session, json!({})).await;
            assert_eq!(list, json!([]));
            // The next sign-in asks for consent again.
            let r = b.get(app.url(start)).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert!(r.text().await.unwrap().contains("запрашивает доступ"));
            // Signing out of the portal ends what services were given.
            let back = {
                let r = b.post(app.url("/oidc/authorize/consent"))
                    .form(&[("query", &start["/oidc/authorize?".len()..]), ("decision", "allow")]).send().await.unwrap();
                location(&r)
            };
            let code = query_param(&back, "code").unwrap();
            let body: serde_json::Value = post("/oidc/token", vec![("grant_type", "authorization_code".into()), ("code", code), ("redirect_uri", CALLBACK.into())])
                .await.unwrap().json().await.unwrap();
            let access = body["access_token"].as_str().unwrap().to_owned();
            assert!(active(&app, &secret, &access).await);
            let r = b.post(app.url("/logout")).send().await.unwrap();
            assert_eq!(r.status(), 303);
            assert!(!active(&app, &secret, &access).await);
            let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM journal WHERE action IN ('oidc.consent', 'oidc.signin', 'oidc.unlinked')")
                .fetch_one(app.db().pool()).await.unwrap();
            assert!(n.0 >= 6, "{}", n.0);
        }
    }

    on_both_backends! {
        async fn a_refresh_token_raced_twice_wins_once_and_removing_a_client_ends_its_tokens(app) {
            let phone = "+79161112233";
            app.register(phone).await;
            let (provider, secret) = register_eis(&app, "ЕИС", &["openid", "fullname"], &[]).await;
            let b = browser();
            let start = "/oidc/authorize?response_type=code&client_id=eis&scope=openid%20fullname&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&state=s";
            let grant = |code: String| {
                app.http.post(app.url("/oidc/token")).basic_auth("eis", Some(secret.clone()))
                    .form(&[("grant_type", "authorization_code".to_owned()), ("code", code), ("redirect_uri", CALLBACK.to_owned())])
                    .send()
            };
            let back = walk(&app, &b, start, phone).await;
            let body: serde_json::Value = grant(query_param(&back, "code").unwrap()).await.unwrap().json().await.unwrap();
            let token = body["refresh_token"].as_str().unwrap().to_owned();
            // The same token sent eight times at once (grouped into shared commits): exactly
            // one rotation wins; the others are replays and revoke the family.
            let mut racing = tokio::task::JoinSet::new();
            for _ in 0..8 {
                let (http, url, secret, token) = (app.http.clone(), app.url("/oidc/token"), secret.clone(), token.clone());
                racing.spawn(async move {
                    http.post(url).basic_auth("eis", Some(secret))
                        .form(&[("grant_type", "refresh_token".to_owned()), ("refresh_token", token)])
                        .send().await.unwrap().json::<serde_json::Value>().await.unwrap()
                });
            }
            let mut won = Vec::new();
            while let Some(body) = racing.join_next().await {
                let body = body.unwrap();
                if let Some(t) = body["refresh_token"].as_str() {
                    won.push(t.to_owned());
                } else {
                    assert_eq!(body["error"], json!("invalid_grant"), "{body}");
                }
            }
            assert_eq!(won.len(), 1, "one use of a refresh token wins");
            assert!(!active(&app, &secret, &won[0]).await, "the replays revoked the family");

            // A token whose generation was altered is unknown and revokes nothing; each
            // rotation gives the token another 30 days, after which it has expired.
            let back = walk(&app, &b, start, phone).await;
            let body: serde_json::Value = grant(query_param(&back, "code").unwrap()).await.unwrap().json().await.unwrap();
            let token = body["refresh_token"].as_str().unwrap().to_owned();
            let refresh = |token: String| {
                app.http.post(app.url("/oidc/token")).basic_auth("eis", Some(secret.clone()))
                    .form(&[("grant_type", "refresh_token".to_owned()), ("refresh_token", token)])
                    .send()
            };
            let (grant_id, rest) = token.split_once('.').unwrap();
            let (_, mac) = rest.split_once('.').unwrap();
            for forged in [format!("{grant_id}.1.{mac}"), format!("{grant_id}.0.{}", &mac[1..]), "nonsense".to_owned()] {
                let body: serde_json::Value = refresh(forged).await.unwrap().json().await.unwrap();
                assert_eq!(body["error_description"], json!("unknown refresh token"));
            }
            assert!(active(&app, &secret, &token).await, "a forged token revoked nothing");
            app.clock.advance(Duration::days(29));
            let body: serde_json::Value = refresh(token).await.unwrap().json().await.unwrap();
            let token = body["refresh_token"].as_str().unwrap().to_owned();
            app.clock.advance(Duration::days(29));
            assert!(active(&app, &secret, &token).await, "the rotation renewed the lifetime");
            app.clock.advance(Duration::days(2));
            assert!(!active(&app, &secret, &token).await);
            let body: serde_json::Value = refresh(token).await.unwrap().json().await.unwrap();
            assert_eq!(body["error_description"], json!("the refresh token has expired"));

            // Removing the client revokes its grants: its access tokens stop at once.
            let back = walk(&app, &b, start, phone).await;
            let body: serde_json::Value = grant(query_param(&back, "code").unwrap()).await.unwrap().json().await.unwrap();
            let access = body["access_token"].as_str().unwrap().to_owned();
            let userinfo = || app.http.get(app.url("/oidc/userinfo")).bearer_auth(&access).send();
            assert_eq!(userinfo().await.unwrap().status(), 200);
            assert_eq!(userinfo().await.unwrap().status(), 200, "a remembered token still checks its grant");
            provider.remove_client("eis", app.clock.now()).await.unwrap();
            assert_eq!(userinfo().await.unwrap().status(), 401);
        }
    }

    on_both_backends! {
        async fn pushed_requests_and_logout_back_to_the_service(app) {
            let phone = "+79161112233";
            app.register(phone).await;
            let (_, secret) = register_eis(&app, "ЕИС", &["openid", "fullname"], &["http://127.0.0.1:9/bye"]).await;
            // PAR: the parameters go by the back channel; the browser carries only a handle.
            let r = app.http.post(app.url("/oidc/par")).basic_auth("eis", Some(&secret))
                .form(&[("response_type", "code"), ("scope", "openid fullname"), ("redirect_uri", CALLBACK), ("state", "pushed"), ("nonce", "n1")])
                .send().await.unwrap();
            assert_eq!(r.status(), 201);
            let body: serde_json::Value = r.json().await.unwrap();
            let request_uri = body["request_uri"].as_str().unwrap().to_owned();
            assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
            let b = browser();
            let start = format!("/oidc/authorize?client_id=eis&request_uri={}", request_uri.replace(':', "%3A"));
            let back = walk(&app, &b, &start, phone).await;
            assert_eq!(query_param(&back, "state").as_deref(), Some("pushed"));
            let code = query_param(&back, "code").unwrap();
            let body: serde_json::Value = app.http.post(app.url("/oidc/token")).basic_auth("eis", Some(&secret))
                .form(&[("grant_type", "authorization_code"), ("code", &code[..]), ("redirect_uri", CALLBACK)])
                .send().await.unwrap().json().await.unwrap();
            let id_token = body["id_token"].as_str().unwrap().to_owned();
            let access = body["access_token"].as_str().unwrap().to_owned();
            // A stale or foreign handle is refused on our page.
            app.clock.advance(Duration::seconds(61));
            let r = b.get(app.url(&start)).send().await.unwrap();
            assert_eq!(r.status(), 400);
            let r = app.http.post(app.url("/oidc/par")).basic_auth("eis", Some("wrong"))
                .form(&[("response_type", "code")]).send().await.unwrap();
            assert_eq!(r.status(), 401);

            // RP-initiated logout: the person confirms, is signed out, goes back with state.
            let logout = format!("/oidc/logout?id_token_hint={id_token}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fbye&state=xyz");
            let r = b.get(app.url(&logout)).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let page = r.text().await.unwrap();
            assert!(page.contains("Выйти из портала?"));
            let query = &logout["/oidc/logout?".len()..];
            let r = b.post(app.url("/oidc/logout")).form(&[("query", query)]).send().await.unwrap();
            assert_eq!(location(&r), "http://127.0.0.1:9/bye?state=xyz");
            assert!(!active(&app, &secret, &access).await, "signing out ended the grant");
            // An unregistered return address is not followed.
            let r = b.get(app.url(&format!("/oidc/logout?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F"))).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert!(r.text().await.unwrap().contains("Вы вышли"));
        }
    }

    on_both_backends! {
        async fn a_login_hint_prefills_the_sign_in_form_and_is_escaped(app) {
            let phone = "+79161112299";
            app.register(phone).await;
            register_eis(&app, "ЕИС", &["openid", "fullname"], &[]).await;
            let base = "/oidc/authorize?response_type=code&client_id=eis&scope=openid&state=s1\
                        &redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback";
            let field = "id=\"field-login\" name=\"login\" type=\"text\" value=\"";

            // The hint waits with the request and fills the login field.
            let b = browser();
            let r = b.get(app.url(&format!("{base}&login_hint=%2B79161112299"))).send().await.unwrap();
            assert_eq!(location(&r), "/login");
            let page = b.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
            assert!(page.contains(&format!("{field}+79161112299\"")), "{page}");
            // Only filled in: the password is still asked for, and a wrong one refused.
            let r = b.post(app.url("/login")).form(&[("login", phone), ("password", "Wrong-pass-1!")]).send().await.unwrap();
            assert_eq!(r.status(), 401);
            let back = walk(&app, &b, "/login", phone).await;
            assert!(back.starts_with(CALLBACK), "the request goes on after sign-in: {back}");

            // An e-mail, with spaces around, trimmed.
            let b = browser();
            b.get(app.url(&format!("{base}&login_hint=%20anna%40example.ru%20"))).send().await.unwrap();
            let page = b.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
            assert!(page.contains(&format!("{field}anna@example.ru\"")), "{page}");

            // Markup in the hint is shown as text, never as markup.
            let b = browser();
            b.get(app.url(&format!("{base}&login_hint=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E"))).send().await.unwrap();
            let page = b.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
            assert!(!page.contains("<script>alert(1)"), "{page}");
            let at = page.find(field).unwrap() + field.len();
            let value = page[at..].split('"').next().unwrap();
            assert!(value.contains("alert(1)") && !value.contains('<') && !value.contains('>'), "{value}");

            // No waiting request, no pre-filling: /login itself takes no hint.
            let b = browser();
            let page = b.get(app.url("/login?login_hint=%2B79161112299")).send().await.unwrap().text().await.unwrap();
            assert!(page.contains(&format!("{field}\"")), "{page}");
            // Nor does a request the provider refuses (an unknown client).
            let r = b.get(app.url("/oidc/authorize?response_type=code&client_id=nobody&scope=openid\
                &redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&login_hint=%2B79161112299")).send().await.unwrap();
            assert_eq!(r.status(), 400);
            let page = b.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
            assert!(page.contains(&format!("{field}\"")), "{page}");
        }
    }
}
