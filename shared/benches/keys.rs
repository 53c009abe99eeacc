//! Key generation and parsing, and scope checks against a full-access key and
//! a 33-scope list. Run with `cargo bench -p keygate-shared --bench keys`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use keygate::domain::key::KeyFormat;
use keygate::domain::scope::Permissions;

fn bench_keys(c: &mut Criterion) {
    let format = KeyFormat::default();
    let valid = format.generate().key.expose().to_owned();
    let mut g = c.benchmark_group("keys");
    g.bench_function("generate", |b| b.iter(|| format.generate()));
    g.bench_function("parse_valid", |b| {
        b.iter(|| format.parse(black_box(&valid)).map(|p| p.id))
    });
    g.bench_function("parse_bad_length", |b| {
        b.iter(|| format.parse(black_box("kg_tooshort")).is_err())
    });
    g.finish();
}

fn bench_scopes(c: &mut Criterion) {
    let all: Vec<&str> = keygate::domain::catalog::Catalog::builtin()
        .scopes()
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(all.len(), 33, "the catalog this benchmark describes");
    let full = Permissions::Full;
    let listed = Permissions::from_strings(&all).expect("catalog scopes");
    // The last scope in sort order is the deepest lookup in the set.
    let last = keygate::domain::catalog::Catalog::builtin()
        .scopes()
        .iter()
        .copied()
        .max()
        .expect("catalog");
    let first = keygate::domain::catalog::Catalog::builtin()
        .scopes()
        .iter()
        .copied()
        .min()
        .expect("catalog");
    let absent = Permissions::from_strings(&["runs:read"]).expect("scope");

    let mut g = c.benchmark_group("scopes");
    g.bench_function("covers/full_access", |b| {
        b.iter(|| black_box(&full).covers(black_box(last)))
    });
    g.bench_function("covers/33_scopes_last", |b| {
        b.iter(|| black_box(&listed).covers(black_box(last)))
    });
    g.bench_function("covers/33_scopes_first", |b| {
        b.iter(|| black_box(&listed).covers(black_box(first)))
    });
    g.bench_function("covers/1_scope_miss", |b| {
        b.iter(|| black_box(&absent).covers(black_box(last)))
    });
    g.bench_function("parse_33_scopes", |b| {
        b.iter(|| Permissions::from_strings(black_box(&all)))
    });
    g.bench_function("context_string_33_scopes", |b| {
        b.iter(|| black_box(&listed).to_context_string())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_keys, bench_scopes
}
criterion_main!(benches);
