//! List scaling: many keys in one organization, page 1 against a deep page
//! (pages of 50), on the embedded store (redb, on disk) and on the DynamoDB
//! store (moto). Page N is read with the cursor of page N-1, as a client would.
//!
//! `cargo bench -p keygate-tests --bench list_scaling` uses 10,000 keys and
//! page 100. It uses `KEYGATE_TEST_DYNAMODB_ENDPOINT` when set, else starts
//! `.venv/bin/moto_server` itself on a free 127.0.0.1 port and stops it by PID.
//! Under `cargo test` it runs a reduced version (1,000 keys, page 20) and
//! skips DynamoDB, saying so, when no endpoint is set.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keygate::domain::id::KeyId;
use keygate::domain::org::OrgId;
use keygate::domain::record::StatusFilter;
use keygate::store::{EmbeddedStore, Store};
use keygate_tests::{ENV_DYNAMODB_ENDPOINT, contract, fresh_dynamodb_store, repo_root};
use tokio::task::JoinSet;

const PAGE: usize = 50;

struct Plan {
    full: bool,
    keys: usize,
    deep_page: usize,
    rounds: usize,
}

/// Fill `store` with `n` keys of org "acme" (plus one of another org).
async fn fill<S: Store + Clone>(store: &S, n: usize) {
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    let mut made = 0;
    while made < n || !tasks.is_empty() {
        while made < n && tasks.len() < 8 {
            let store = store.clone();
            tasks.spawn(
                async move { contract::seed(&store, &contract::record("acme", "bench")).await },
            );
            made += 1;
        }
        if let Some(done) = tasks.join_next().await {
            done.expect("insert task");
        }
    }
    contract::seed(store, &contract::record("other", "bench")).await;
    println!("  inserted {n} keys in {:?}", started.elapsed());
}

/// The cursor (`after`) that starts page `page` (1-based).
async fn cursor_for<S: Store>(store: &S, org: &OrgId, page: usize) -> Option<KeyId> {
    let mut after = None;
    for _ in 1..page {
        let got = store
            .list(org, StatusFilter::All, PAGE, after)
            .await
            .expect("list");
        after = Some(got.next_after().expect("enough keys for the deep page").id);
    }
    after
}

fn median(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

async fn compare<S: Store + Clone>(name: &str, store: S, plan: &Plan) {
    println!("{name}:");
    fill(&store, plan.keys).await;
    let org = OrgId::new("acme").expect("org");
    let deep = cursor_for(&store, &org, plan.deep_page).await;
    let (mut first, mut last) = (vec![], vec![]);
    // Interleaved, so both pages see the same background noise.
    for _ in 0..plan.rounds {
        for (after, out) in [(None, &mut first), (deep, &mut last)] {
            let t = Instant::now();
            let page = store
                .list(&org, StatusFilter::All, PAGE, after)
                .await
                .expect("list");
            out.push(t.elapsed());
            assert_eq!(page.items.len(), PAGE);
            assert!(page.items.iter().all(|r| r.org_id == org));
        }
    }
    let (f_min, f_med, f_max) = median(first);
    let (l_min, l_med, l_max) = median(last);
    println!(
        "  page 1:   median {f_med:?} (min {f_min:?}, max {f_max:?}) over {} reads",
        plan.rounds
    );
    println!(
        "  page {}: median {l_med:?} (min {l_min:?}, max {l_max:?}) over {} reads",
        plan.deep_page, plan.rounds
    );
    println!(
        "  page {} / page 1 = {:.2}",
        plan.deep_page,
        l_med.as_secs_f64() / f_med.as_secs_f64()
    );
}

/// The moto process this bench started; stopped by PID however the bench ends.
struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start moto on a free port.
fn start_moto() -> Option<(Moto, String)> {
    let moto = repo_root().join(".venv/bin/moto_server");
    if !moto.exists() {
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Moto(
        Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?,
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((child, format!("http://127.0.0.1:{port}")))
}

async fn run(plan: Plan) {
    println!(
        "list scaling ({}): {} keys, page 1 vs page {} (pages of {PAGE})",
        if plan.full {
            "full"
        } else {
            "test mode, reduced"
        },
        plan.keys,
        plan.deep_page
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let embedded = EmbeddedStore::open(dir.path()).expect("open store");
    compare("embedded store (redb file)", embedded, &plan).await;

    let mut _moto = None;
    if std::env::var_os(ENV_DYNAMODB_ENDPOINT).is_none() {
        if !plan.full {
            println!(
                "DynamoDB store: SKIPPED in test mode, {ENV_DYNAMODB_ENDPOINT} is not set \
                 (infra/test.sh sets it)"
            );
            return;
        }
        let Some((child, endpoint)) = start_moto() else {
            println!("DynamoDB store: SKIPPED, could not start .venv/bin/moto_server");
            return;
        };
        // SAFETY (edition 2024): set before any client is built, on this thread only.
        unsafe { std::env::set_var(ENV_DYNAMODB_ENDPOINT, &endpoint) };
        _moto = Some(child);
    }
    let (store, _) = fresh_dynamodb_store().await;
    compare("DynamoDB store (moto)", store, &plan).await;
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let plan = if full {
        Plan {
            full,
            keys: 10_000,
            deep_page: 100,
            rounds: 50,
        }
    } else {
        Plan {
            full,
            keys: 1_000,
            deep_page: 20,
            rounds: 5,
        }
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run(plan));
}
