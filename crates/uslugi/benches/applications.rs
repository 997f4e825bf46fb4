//! Applications under load (reported, never asserted), on SQLite with durable commits:
//! submitting applications (a draft, one 1 MB PDF attached, submission) from 64
//! concurrent clients, and «Мои заявки» for a person with over 1,000 applications. The
//! load comes from reqwest in this process, sharing the two cores with the server: the
//! figures are conservative.
//!
//!   cargo bench -p uslugi --bench applications      (or scripts/bench applications)
//!
//! The submissions with a file are measured after 256 unmeasured ones, which warm the
//! server up as on one that has been running (the allocator's memory, the buffer pools,
//! the database's cache).
//!
//! `USLUGI_BENCH_ONLY=file` runs only the submissions with a file (for a profiler): no
//! disk measure, no submissions without a file.
//!
//! For scale it first measures the disk alone: the same number of 1 MB files written
//! durably by as many writers, once the ordinary way (write through the page cache,
//! fsync, rename, fsync of the directory) and once through the server's blob store
//! (which writes past the page cache). No submission rate can pass that line.
//! `USLUGI_BENCH_CLIENTS` sets the number of concurrent clients (64).
//!
//! Leave a few minutes between runs on ext4 without a journal (as on the development
//! VMs): each run deletes its thousands of files at the end, and for a minute or more
//! every file created after that walks past those inodes (`recently_deleted` in the
//! kernel), which took a sixth of the CPU of a run started seconds after another.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use uslugi::settings::{Settings, sqlite_url};

const SERVICE: &str = r#"id = "bench-scan"
title = "Заявление с копией документа"
summary = "Нагрузочная проверка."
description = "Услуга для нагрузочной проверки."
category = "certificates"
agency = "fns"
applicants = ["person"]
min_level = "standard"

[deadline]
working_days = 2
review = "manual"

[[form]]
id = "full_name"
label = "ФИО"
type = "text"
required = true
prefill = "full_name"

[[attachments]]
id = "scan"
label = "Скан"
required = true
formats = ["pdf"]

[result]
title = "Ответ"
body = "Выдано {заявитель}."
"#;

/// The same form without a file: what a submission costs besides the attachment.
fn form_only() -> String {
    let (head, tail) = SERVICE.split_once("[[attachments]]").unwrap();
    let result = &tail[tail.find("[result]").unwrap()..];
    format!("{head}{result}")
        .replace("id = \"bench-scan\"", "id = \"bench-form\"")
        .replace("Заявление с копией документа", "Заявление без документов")
}

const APPLICATIONS: usize = 1_200;
/// Submissions with the file before the measured ones (not counted).
const WARM_UP: usize = 256;
/// Concurrent clients (and disk writers): 64, or `USLUGI_BENCH_CLIENTS`.
fn clients() -> usize {
    std::env::var("USLUGI_BENCH_CLIENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(64)
}

/// User + system CPU seconds of this process so far (from /proc; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Starts a draft of `service`: its id.
async fn draft(http: &reqwest::Client, base: &str, token: &str, service: &str) -> String {
    let body: Value = http
        .post(format!("{base}/api/v1/services/{service}/applications"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["application"]["id"].as_str().unwrap().to_owned()
}

async fn submit(http: &reqwest::Client, base: &str, token: &str, id: &str) {
    let r = http
        .post(format!("{base}/api/v1/me/applications/{id}/submit"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// `count` submissions with the file by `clients` concurrent clients: each one's time,
/// and its draft, file and submit phases, in milliseconds.
async fn with_file(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    pdf: &bytes::Bytes,
    clients: usize,
    count: usize,
) -> Vec<(f64, [f64; 3])> {
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let (http, base, token, pdf) =
            (http.clone(), base.to_owned(), token.to_owned(), pdf.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            for _ in (c..count).step_by(clients) {
                let t = Instant::now();
                let mut phases = [0.0; 3];
                let id = draft(&http, &base, &token, "bench-scan").await;
                phases[0] = t.elapsed().as_secs_f64() * 1000.0;
                let r = http
                    .post(format!(
                        "{base}/api/v1/me/applications/{id}/files?rule=scan&name=scan.pdf"
                    ))
                    .bearer_auth(&token)
                    .body(pdf.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                phases[1] = t.elapsed().as_secs_f64() * 1000.0 - phases[0];
                submit(&http, &base, &token, &id).await;
                let total = t.elapsed().as_secs_f64() * 1000.0;
                phases[2] = total - phases[0] - phases[1];
                latencies.push((total, phases));
            }
            latencies
        });
    }
    let mut all = Vec::new();
    while let Some(l) = tasks.join_next().await {
        all.extend(l.unwrap());
    }
    all
}

/// Durable 1 MB files per second by `clients` writers: written the ordinary way (through
/// the page cache: write, fsync, rename, fsync of the directory), and through the blob
/// store the server uses.
async fn disk_ceiling(dir: &std::path::Path, bytes: &bytes::Bytes, clients: usize) -> (f64, f64) {
    let buffered = dir.join("disk-buffered");
    std::fs::create_dir_all(&buffered).unwrap();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let (dir, bytes) = (buffered.clone(), bytes.clone());
        tasks.spawn_blocking(move || {
            use std::io::Write as _;
            for i in (c..APPLICATIONS).step_by(clients) {
                let staged = dir.join(format!("{i}#1"));
                let mut file = std::fs::File::create_new(&staged).unwrap();
                file.write_all(&bytes).unwrap();
                file.sync_all().unwrap();
                std::fs::rename(&staged, dir.join(i.to_string())).unwrap();
                std::fs::File::open(&dir).unwrap().sync_all().unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let buffered = APPLICATIONS as f64 / started.elapsed().as_secs_f64();

    let blobs = store::blobs::Blobs::local(&dir.join("disk-blobs")).unwrap();
    // The shard directories exist, as they do on a server that has run for a while.
    for i in 0..clients {
        blobs.put(&format!("{i:02}/warm"), Vec::new()).await.unwrap();
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let (blobs, bytes) = (blobs.clone(), bytes.clone());
        tasks.spawn(async move {
            for i in (c..APPLICATIONS).step_by(clients) {
                blobs.put(&format!("{c:02}/{i}"), bytes.to_vec()).await.unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    // The files stay until the end: deleting them now would slow the file creations that
    // follow (ext4 steps over recently freed inodes).
    (buffered, APPLICATIONS as f64 / started.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let clients = clients();
    let dir = std::env::temp_dir().join(format!("uslugi-bench-apps-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("services/catalog")).unwrap();
    std::fs::write(dir.join("services/catalog/bench-scan.toml"), SERVICE).unwrap();
    std::fs::write(dir.join("services/catalog/bench-form.toml"), form_only()).unwrap();
    let mut settings = Settings::for_data_dir(&dir, sqlite_url(&dir.join("uslugi.db")));
    settings.demo_data = true;
    let running =
        uslugi::server::start(&settings, Arc::new(uslugi::clock::SystemClock)).await.unwrap();
    let base = format!("http://{}", running.addr);
    let (login, password) = running.demo.clone().unwrap();
    let http = reqwest::Client::new();
    let body: Value = http
        .post(format!("{base}/api/v1/sessions"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["session"].as_str().unwrap().to_owned();
    let maria = json!({
        "surname": "Демидова", "given_name": "Мария", "patronymic": "Ивановна",
        "birth_date": "12.04.1988", "birth_place": "г. Москва",
        "passport_series": "4510", "passport_number": "654321",
        "passport_issued_on": "25.04.2008", "passport_issued_by": "ОВД района Хамовники г. Москвы",
        "passport_division": "770-005", "snils": "12345678964", "inn": "",
        "address": "119021, г. Москва, ул. Льва Толстого, д. 16, кв. 5"
    });
    http.post(format!("{base}/api/v1/me/documents"))
        .bearer_auth(&token)
        .json(&maria)
        .send()
        .await
        .unwrap();
    loop {
        let view: Value = http
            .get(format!("{base}/api/v1/me/documents"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if view["status"] == json!("verified") {
            break;
        }
        tokio::task::yield_now().await;
    }
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.resize(1024 * 1024 - 8, b' ');
    pdf.extend_from_slice(b"\n%%EOF\n");
    let pdf = bytes::Bytes::from(pdf);

    let only_file = std::env::var("USLUGI_BENCH_ONLY").is_ok_and(|only| only == "file");
    if !only_file {
        let (buffered, blobs) = disk_ceiling(&dir, &pdf, clients).await;
        println!(
            "the disk alone ({}): {clients} writers, {APPLICATIONS} files of 1 MB written \
             durably: {buffered:.0} files/s through the page cache, {blobs:.0} files/s through \
             the blob store",
            dir.display()
        );
    }

    // Submissions: each client runs draft → attach → submit in turn. A first round
    // warms the server up (its allocator's memory, the buffer pools, the database's
    // cache), as on a server that has been running; the second is measured.
    let run = |count: usize| with_file(&http, &base, &token, &pdf, clients, count);
    run(WARM_UP).await;
    let started = Instant::now();
    let cpu = cpu_seconds();
    let all = run(APPLICATIONS).await;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    let mut totals: Vec<f64> = all.iter().map(|(t, _)| *t).collect();
    totals.sort_by(f64::total_cmp);
    let median = |i: usize| {
        let mut v: Vec<f64> = all.iter().map(|(_, p)| p[i]).collect();
        v.sort_by(f64::total_cmp);
        percentile(&v, 0.5)
    };
    println!(
        "submit (draft + 1 MB PDF + submit) {clients} clients: {:.0} applications/s  p50 {:.1} ms  p99 {:.1} ms  ({APPLICATIONS} in {seconds:.1} s; p50 draft {:.1}, file {:.1}, submit {:.1} ms; CPU {cpu:.1} s, {:.1} ms per application)",
        APPLICATIONS as f64 / seconds,
        percentile(&totals, 0.5),
        percentile(&totals, 0.99),
        median(0),
        median(1),
        median(2),
        cpu * 1000.0 / APPLICATIONS as f64,
    );

    if only_file {
        running.shutdown().await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }

    // The same without the file (draft → submit): the share of the attachment.
    let started = Instant::now();
    let cpu = cpu_seconds();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        tasks.spawn(async move {
            for _ in (c..APPLICATIONS).step_by(clients) {
                let id = draft(&http, &base, &token, "bench-form").await;
                submit(&http, &base, &token, &id).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    println!(
        "submit without a file (draft + submit) {clients} clients: {:.0} applications/s  (CPU {:.1} ms per application)",
        APPLICATIONS as f64 / seconds,
        cpu * 1000.0 / APPLICATIONS as f64,
    );

    // «Мои заявки» for a person with over 1,000 applications (the page shows the newest
    // 200; the API answers 500 at a time).
    for (name, path) in [
        ("«Мои заявки» page", "/cabinet/applications".to_owned()),
        ("«Мои заявки» API, 500", "/api/v1/me/applications?limit=500".to_owned()),
        ("«Мои заявки» by number", "/api/v1/me/applications?number=2026-0000500".to_owned()),
    ] {
        let mut times = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            let r = http
                .get(format!("{base}{path}"))
                .header("cookie", format!("uslugi_session={token}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name:<28} p50 {:.2} ms  p99 {:.2} ms",
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
    running.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
