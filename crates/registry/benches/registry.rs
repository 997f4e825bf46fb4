//! Registry check latency against a large embedded dataset.
//!
//! `cargo bench -p registry --bench registry` builds (once, kept under
//! `target/bench-registry/`) a SQLite registry of `USLUGI_BENCH_PERSONS` persons
//! (default 1,000,000), then checks 20,000 random persons one after another — each
//! check is the three look-ups and decryptions a real one makes — and prints p50, p99
//! and the maximum, plus the load time when it had to build the dataset. Set
//! `USLUGI_BENCH_DATABASE_URL` to measure on PostgreSQL instead (the dataset is built
//! there if empty).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use registry::{EmbeddedRegistry, PersonQuery};
use store::{Db, DbOptions};

const SEED: u64 = 42;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let persons: u64 = std::env::var("USLUGI_BENCH_PERSONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let url = std::env::var("USLUGI_BENCH_DATABASE_URL").unwrap_or_else(|_| {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-registry");
        std::fs::create_dir_all(&dir).unwrap();
        format!("sqlite://{}/registry-{persons}.db", dir.display())
    });
    let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
    db.migrate().await.unwrap();
    let vault = Arc::new(store::vault::Vault::new(&[42; 32], &[]));
    let registry = EmbeddedRegistry::new(db, vault);
    let (have, _, _) = registry.counts().await.unwrap();
    if have < i64::try_from(persons).unwrap() {
        let started = Instant::now();
        registry::demo::load(&registry, SEED, persons, 0, &mut |_, _| {}).await.unwrap();
        println!("loaded {persons} persons in {:.1} s", started.elapsed().as_secs_f64());
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let samples = 20_000;
    let mut times: Vec<Duration> = Vec::with_capacity(samples);
    let mut confirmed = 0;
    for _ in 0..samples {
        let i = rng.random_range(0..persons);
        let r = registry::demo::persons(SEED, i, 1).remove(0);
        let q = PersonQuery {
            surname: r.surname,
            given_name: r.given_name,
            patronymic: r.patronymic,
            birth_date: r.birth_date,
            passport: r.passport,
            passport_issued_on: r.passport_issued_on,
            passport_division: r.passport_division,
            snils: r.snils,
            inn: r.inn,
        };
        let started = Instant::now();
        let check = registry.check_person(&q).await.unwrap();
        times.push(started.elapsed());
        confirmed += usize::from(check.is_confirmed());
    }
    times.sort();
    let at = |p: f64| times[((samples as f64 * p) as usize).min(samples - 1)];
    println!(
        "registry check over {persons} persons ({}): p50 {:?}, p99 {:?}, max {:?}; {confirmed}/{samples} confirmed",
        url.split(':').next().unwrap_or("?"),
        at(0.50),
        at(0.99),
        times[samples - 1],
    );
}
