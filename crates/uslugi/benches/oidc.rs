//! OpenID Connect provider throughput (reported, never asserted): the refresh-token grant
//! and userinfo with a valid access token, over HTTP on loopback against the server on
//! SQLite, with the load generator in the same process (so on 2 cores it takes a share of
//! the CPU the server would otherwise have: the figures are conservative).
//!
//!   cargo bench -p uslugi --bench oidc          (or scripts/bench oidc)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use uslugi::settings::{Settings, sqlite_url};

const CALLBACK: &str = "http://127.0.0.1:9/callback";
const CHAINS: usize = 32;
const RUN: Duration = Duration::from_secs(5);

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn param(url: &str, name: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    query.split('&').find_map(|p| p.strip_prefix(&format!("{name}="))).unwrap().to_owned()
}

fn report(name: &str, mut latencies: Vec<Duration>, elapsed: Duration) {
    latencies.sort();
    let n = latencies.len();
    let pct = |p: f64| latencies[((n as f64 * p) as usize).min(n - 1)].as_secs_f64() * 1000.0;
    println!(
        "{name:<32} {:>8.0} req/s  p50 {:.2} ms  p99 {:.2} ms  ({n} requests)",
        n as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = std::env::temp_dir().join(format!("uslugi-bench-oidc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut settings = Settings::for_data_dir(&dir, sqlite_url(&dir.join("uslugi.db")));
    settings.demo_data = true;
    let running =
        uslugi::server::start(&settings, Arc::new(uslugi::clock::SystemClock)).await.unwrap();
    let base = format!("http://{}", running.addr);
    let (login, password) = running.demo.clone().unwrap();
    let vault = Arc::new(uslugi::server::open_vault(&settings).unwrap());
    let provider =
        oidc::Provider::new(running.db.clone(), vault, oidc::ProviderSettings::new(&base));
    let new = oidc::clients::NewClient {
        id: "bench".into(),
        name: "Bench".into(),
        kind: oidc::clients::ClientKind::Confidential,
        redirect_uris: vec![CALLBACK.into()],
        post_logout_redirect_uris: Vec::new(),
        scopes: vec!["openid".into(), "fullname".into(), "mobile".into()],
        min_level: "simplified".into(),
        allow_http: true,
        jwks: None,
        id_token_alg: oidc::jws::Alg::Es256,
    };
    let now = domain::Clock::now(&uslugi::clock::SystemClock);
    let (_, secret) = provider.add_client(&new, now).await.unwrap();
    let secret = secret.unwrap();

    // Sign in once, agree once, then take one grant per chain.
    let b = browser();
    let r = b
        .post(format!("{base}/login"))
        .form(&[("login", login.as_str()), ("password", password.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let authorize = format!(
        "{base}/oidc/authorize?response_type=code&client_id=bench&scope=openid%20fullname%20mobile&redirect_uri={}",
        CALLBACK.replace(':', "%3A").replace('/', "%2F")
    );
    let r = b.get(&authorize).send().await.unwrap();
    if r.status() == 200 {
        let query = authorize.split_once('?').unwrap().1;
        b.post(format!("{base}/oidc/authorize/consent"))
            .form(&[("query", query), ("decision", "allow")])
            .send()
            .await
            .unwrap();
    }
    let http = reqwest::Client::new();
    let mut chains = Vec::new();
    for _ in 0..CHAINS {
        let r = b.get(&authorize).send().await.unwrap();
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let code = param(&location, "code");
        let body: Value = http
            .post(format!("{base}/oidc/token"))
            .basic_auth("bench", Some(&secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        chains.push((
            body["refresh_token"].as_str().unwrap().to_owned(),
            body["access_token"].as_str().unwrap().to_owned(),
        ));
    }

    // The refresh grant: each chain rotates its own token.
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (refresh, _) in chains.clone() {
        let (http, base, secret) = (http.clone(), base.clone(), secret.clone());
        tasks.push(tokio::spawn(async move {
            let mut token = refresh;
            let mut latencies = Vec::new();
            while start.elapsed() < RUN {
                let t = Instant::now();
                let body: Value = http
                    .post(format!("{base}/oidc/token"))
                    .basic_auth("bench", Some(&secret))
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                latencies.push(t.elapsed());
                token = body["refresh_token"].as_str().expect("a rotated token").to_owned();
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    report("token (refresh grant)", all, start.elapsed());

    // Userinfo with valid access tokens.
    let fresh: Vec<String> = {
        let mut v = Vec::new();
        for (_, access) in &chains {
            v.push(access.clone());
        }
        v
    };
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (http, base) = (http.clone(), base.clone());
        let token = fresh[i % fresh.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while start.elapsed() < RUN {
                let t = Instant::now();
                let r = http
                    .get(format!("{base}/oidc/userinfo"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                let _ = r.bytes().await.unwrap();
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    report("userinfo", all, start.elapsed());
    running.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
