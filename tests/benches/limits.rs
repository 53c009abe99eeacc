//! The price of a usage limit on the authorizer's path: warm invocations of
//! the real authorizer binary under AWS's Lambda Runtime Interface Emulator,
//! against moto's DynamoDB, for a key without limits and one with a rate
//! limit and a quota, interleaved so both see the same noise. Prints the
//! round trip's percentiles. (What each decision asks of DynamoDB, one
//! GetItem and for the limited key one conditional UpdateItem, is asserted
//! by the store tests' operation log.)
//!
//! `cargo bench -p keygate-tests --bench limits` builds and measures the
//! release binary (1,000 decisions each). Under `cargo test` it runs a smoke
//! version (20 each) on the debug binary when one is built; its figures are
//! not benchmark figures. Needs `KEYGATE_TEST_DYNAMODB_ENDPOINT` (moto) and
//! `KEYGATE_TEST_RIE`, as `infra/test.sh` sets them; skipped, saying so,
//! without them.

use std::path::Path;
use std::time::{Duration, Instant};

use keygate_tests::bench::{authorizer_binary, benching, percentile};
use keygate_tests::rie::Rie;
use keygate_tests::{ENV_DYNAMODB_ENDPOINT, Harness, authorizer_event, fresh_dynamodb_store};
use serde_json::json;

fn summary(name: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let p50 = percentile(&samples, 0.5);
    println!(
        "  {name}: n={} p50={p50:?} p90={:?} p99={:?} max={:?}",
        samples.len(),
        percentile(&samples, 0.9),
        percentile(&samples, 0.99),
        samples[samples.len() - 1],
    );
    p50
}

async fn run(binary: &Path, rounds: usize) {
    let (store, _) = fresh_dynamodb_store().await;
    let tables = store.tables();
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (free, _) = h.create_scoped(&root, &["runs:read"]).await;
    let (limited, _) = h
        .create(
            &root,
            json!({"name": "limited", "key_type": "service", "permissions": ["runs:read"],
                "limits": {"rate": {"requests": 1_000_000, "window_seconds": 60},
                           "quota": {"requests": 100_000_000, "period": "month"}}}),
        )
        .await;
    let endpoint = std::env::var(ENV_DYNAMODB_ENDPOINT).expect("endpoint");
    let rie = Rie::start(
        binary,
        &[
            ("TABLE_NAME", &tables.keys),
            ("AUDIT_TABLE_NAME", &tables.audit),
            ("AWS_ENDPOINT_URL", &endpoint),
        ],
    )
    .await;
    let event = |key: &str| {
        serde_json::to_value(authorizer_event(key, "GET /v1/runs/{id}")).expect("event")
    };
    let (free_event, limited_event) = (event(&free), event(&limited));
    // Warm up: the cold start, and each key's first last_used_at write.
    for e in [&free_event, &limited_event, &free_event, &limited_event] {
        rie.invoke(e.clone()).await.expect("warm-up");
    }
    let (mut plain, mut counted) = (vec![], vec![]);
    for _ in 0..rounds {
        for (e, out) in [(&free_event, &mut plain), (&limited_event, &mut counted)] {
            let started = Instant::now();
            let answer = rie.invoke(e.clone()).await.expect("invoke");
            out.push(started.elapsed());
            assert_eq!(answer["isAuthorized"], true, "{answer}");
        }
    }
    let a = summary("without limits", plain);
    let b = summary("with a rate limit and a quota", counted);
    println!(
        "  the count's extra round trip: p50 +{:?}",
        b.saturating_sub(a)
    );
    drop(rie);
}

fn main() {
    let full = benching();
    let binary = authorizer_binary();
    let missing = [ENV_DYNAMODB_ENDPOINT, "KEYGATE_TEST_RIE"]
        .into_iter()
        .filter(|v| std::env::var_os(v).is_none())
        .collect::<Vec<_>>();
    if !missing.is_empty() || !binary.exists() {
        println!(
            "limits bench: SKIPPED ({} not set, or {} not built); infra/test.sh sets both",
            missing.join(", "),
            binary.display()
        );
        return;
    }
    let rounds = if full { 1_000 } else { 20 };
    println!(
        "limits bench ({}), authorizer under the Lambda emulator, moto's DynamoDB:",
        if full {
            "release"
        } else {
            "test mode: smoke run, not benchmark figures"
        }
    );
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run(&binary, rounds));
}
