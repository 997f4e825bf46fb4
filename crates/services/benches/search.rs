//! Catalog search over 5,000 services (reported, never asserted): the time of one query
//! for a few typical queries, typos and word forms included.
//!
//!   cargo bench -p services --bench search

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn search(c: &mut Criterion) {
    let catalog = services::Catalog::synthetic(5_000).unwrap();
    let mut g = c.benchmark_group("catalog search, 5000 services");
    for query in ["выписки из егрн", "спраквка о судимости", "замена паспо", "налог", "cghfdrf"]
    {
        g.bench_function(query, |b| b.iter(|| catalog.search(black_box(query), 20)));
    }
    g.finish();
}

criterion_group!(benches, search);
criterion_main!(benches);
