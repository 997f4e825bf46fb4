//! OpenID Connect provider throughput (reported, never asserted): the refresh-token grant
//! and userinfo with a valid access token, over HTTP on loopback against the server on
//! SQLite (durable commits), loaded by wrk from a second process. On 2 cores wrk takes
//! a share of the CPU the server would otherwise have: the figures are conservative.
//!
//!   cargo bench -p uslugi --bench oidc          (or scripts/bench oidc)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use serde_json::Value;
use uslugi::settings::{Settings, sqlite_url};

const CALLBACK: &str = "http://127.0.0.1:9/callback";
const CHAINS: usize = 32;

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

/// Runs wrk (2 threads, `connections`, 10 s; no warm-up: it would use up the
/// refresh tokens the files hold) and prints
/// requests/s and the latency percentiles.
async fn wrk(
    name: &str,
    base: &str,
    script: &std::path::Path,
    connections: usize,
    args: &[String],
) {
    let run = |seconds: &str| {
        let mut command = tokio::process::Command::new("wrk");
        command
            .args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "-s"])
            .arg(script)
            .arg(base)
            .arg("--")
            .args(args);
        command
    };
    let out = run("10").output().await.expect("wrk (Debian package wrk) is installed");
    let text = String::from_utf8_lossy(&out.stdout);
    let pick = |label: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(label))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())
            .unwrap_or_else(|| "?".into())
    };
    let errors = text.lines().find(|l| l.contains("Non-2xx")).unwrap_or("").trim().to_owned();
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        println!("{text}");
    }
    println!(
        "{name:<24} {connections:>2} connections {:>9} req/s  p50 {:>7}  p99 {:>7}  {errors}",
        pick("Requests/sec:"),
        pick("50%"),
        pick("99%"),
    );
}

/// Per wrk thread, its share of the refresh tokens; each response's new token goes back
/// into the pool, so every token is used exactly once.
const REFRESH_LUA: &str = r#"
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  tokens = {}
  local n = 0
  for line in io.lines(args[1]) do
    if n % 2 == id then table.insert(tokens, line) end
    n = n + 1
  end
  auth = args[2]
end
function request()
  local t = table.remove(tokens) or "exhausted"
  return wrk.format("POST", "/oidc/token", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = auth,
  }, "grant_type=refresh_token&refresh_token=" .. t)
end
function response(status, headers, body)
  local t = body:match('"refresh_token":"([^"]+)"')
  if t then table.insert(tokens, t) end
  if status ~= 200 and (shown or 0) < 3 then
    shown = (shown or 0) + 1
    print("refused: " .. status .. " " .. body)
  end
end
"#;

/// Userinfo with the valid access tokens in turn.
const USERINFO_LUA: &str = r#"
function init(args)
  tokens = {}
  for line in io.lines(args[1]) do table.insert(tokens, line) end
  i = 0
end
function request()
  i = i % #tokens + 1
  return wrk.format("GET", "/oidc/userinfo", { ["Authorization"] = "Bearer " .. tokens[i] })
end
"#;

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
    // A few spare chains: wrk builds one request per thread before the run and never
    // sends it, which would leave a connection without a token.
    // Two sets: one for the run at full concurrency, one for the latency run.
    for _ in 0..2 * (CHAINS + 4) {
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

    // The load comes from wrk, a separate process (as in scripts/bench): an in-process
    // HTTP client would take much of the two cores the server is measured on.
    let work = dir.join("wrk");
    std::fs::create_dir_all(&work).unwrap();
    let (first, second) = chains.split_at(CHAINS + 4);
    let refresh: Vec<&str> = first.iter().map(|(r, _)| r.as_str()).collect();
    let access: Vec<&str> = first.iter().map(|(_, a)| a.as_str()).collect();
    std::fs::write(work.join("refresh.txt"), refresh.join("\n") + "\n").unwrap();
    let refresh: Vec<&str> = second.iter().map(|(r, _)| r.as_str()).collect();
    std::fs::write(work.join("refresh-2.txt"), refresh.join("\n") + "\n").unwrap();
    std::fs::write(work.join("access.txt"), access.join("\n") + "\n").unwrap();
    std::fs::write(work.join("refresh.lua"), REFRESH_LUA).unwrap();
    std::fs::write(work.join("userinfo.lua"), USERINFO_LUA).unwrap();
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("bench:{secret}")
        )
    );
    if std::env::var_os("BENCH_PAUSE").is_some() {
        // For trying wrk by hand against the prepared server.
        println!("server {base}, files in {}, basic auth {basic:?}", work.display());
        #[allow(clippy::disallowed_methods)] // waiting for a person, not for time
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
    // Each chain rotates its own token: a token is used once, its successor comes back.
    // First at full concurrency (throughput), then at a quarter of it (latency when the
    // server is not saturated: at saturation latency is queueing, 32 / throughput).
    let refresh_args = |file: &str| [work.join(file).to_str().unwrap().to_owned(), basic.clone()];
    wrk(
        "token (refresh grant)",
        &base,
        &work.join("refresh.lua"),
        CHAINS,
        &refresh_args("refresh.txt"),
    )
    .await;
    wrk(
        "token (refresh grant)",
        &base,
        &work.join("refresh.lua"),
        CHAINS / 4,
        &refresh_args("refresh-2.txt"),
    )
    .await;
    let access_args = [work.join("access.txt").to_str().unwrap().to_owned()];
    wrk("userinfo", &base, &work.join("userinfo.lua"), CHAINS, &access_args).await;
    wrk("userinfo", &base, &work.join("userinfo.lua"), CHAINS / 4, &access_args).await;
    running.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
