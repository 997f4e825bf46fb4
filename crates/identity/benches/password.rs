//! The raw Argon2id hash rate at the default parameters: one hash's latency (criterion),
//! and the throughput with one thread per core — the ceiling for password sign-ins/s.

use std::time::{Duration, Instant};

use argon2::Params;
use criterion::Criterion;
use identity::password::{HashParams, hash_with};

fn params() -> Params {
    let p = HashParams::default();
    Params::new(p.memory_kib, p.iterations, p.parallelism, None).unwrap_or_else(|_| unreachable!())
}

fn main() {
    let mut c = Criterion::default().sample_size(20).configure_from_args();
    let params = params();
    c.bench_function("argon2id/hash_default_params", |b| {
        b.iter(|| hash_with(&params, "Пароль-для-замера-1!"))
    });
    c.final_summary();

    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let run_for = Duration::from_secs(5);
    #[allow(clippy::disallowed_methods)] // a benchmark measures wall-clock time
    let started = Instant::now();
    let counts: Vec<u32> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let params = self::params();
                    let mut n = 0;
                    while started.elapsed() < run_for {
                        let _ = hash_with(&params, "Пароль-для-замера-1!");
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).collect()
    });
    let total: u32 = counts.iter().sum();
    println!(
        "argon2id/throughput         {:.1} hashes/s on {threads} threads",
        f64::from(total) / started.elapsed().as_secs_f64()
    );
}
