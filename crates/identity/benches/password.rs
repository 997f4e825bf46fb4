//! The raw Argon2id hash rate at the default parameters (the ceiling for sign-ins/s).

use argon2::Params;
use criterion::{Criterion, criterion_group, criterion_main};
use identity::password::{HashParams, hash_with};

fn argon(c: &mut Criterion) {
    let p = HashParams::default();
    let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None)
        .unwrap_or_else(|_| unreachable!());
    let mut g = c.benchmark_group("argon2id");
    g.sample_size(20);
    g.bench_function("hash_default_params", |b| {
        b.iter(|| hash_with(&params, "Пароль-для-замера-1!"))
    });
    g.finish();
}

criterion_group!(benches, argon);
criterion_main!(benches);
