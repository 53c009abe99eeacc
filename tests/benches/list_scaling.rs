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

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use keygate::domain::id::KeyId;
use keygate::domain::org::OrgId;
use keygate::domain::record::StatusFilter;
use keygate::store::{DynamoDbStore, EmbeddedStore, Store};
use keygate_tests::{
    ENV_DYNAMODB_ENDPOINT, contract, dynamodb_client, fresh_dynamodb_store, repo_root,
};

const PAGE: usize = 50;

struct Plan {
    full: bool,
    keys: usize,
    deep_page: usize,
    rounds: usize,
}

/// How a benchmark puts `n` keys of org "acme" (plus one of another org)
/// into a store before it reads them.
trait Fill: Store + Clone {
    /// Through the store's own commit, one after another: an
    /// organization's changes are linked into one audit chain, so they
    /// commit in turn whatever the concurrency.
    async fn fill(&self, n: usize) {
        let started = Instant::now();
        for _ in 0..n {
            contract::seed(self, &contract::record("acme", "bench")).await;
        }
        contract::seed(self, &contract::record("other", "bench")).await;
        println!("  inserted {n} keys in {:?}", started.elapsed());
    }
}

impl Fill for EmbeddedStore {}

/// moto copies every table on each transaction, so 10,000 commits would
/// take hours: one key goes in through commit and the rest are copies of
/// its item under new ids, written in batches of 25. Listing reads items,
/// not events, so what it measures is the same.
impl Fill for DynamoDbStore {
    async fn fill(&self, n: usize) {
        let started = Instant::now();
        let first = contract::record("acme", "bench");
        contract::seed(self, &first).await;
        contract::seed(self, &contract::record("other", "bench")).await;
        let client = dynamodb_client().await;
        let table = self.tables().keys;
        let item = client
            .get_item()
            .table_name(&table)
            .key("id", AttributeValue::S(first.id.to_string()))
            .send()
            .await
            .expect("read the first key's item")
            .item
            .expect("the first key's item");
        let copies: Vec<WriteRequest> = (1..n)
            .map(|_| {
                let mut copy = item.clone();
                copy.insert(
                    "id".into(),
                    AttributeValue::S(KeyId::generate().to_string()),
                );
                let put = PutRequest::builder()
                    .set_item(Some(copy))
                    .build()
                    .expect("put");
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        for batch in copies.chunks(25) {
            let mut pending = Some(batch.to_vec());
            while let Some(requests) = pending.take().filter(|r| !r.is_empty()) {
                let out = client
                    .batch_write_item()
                    .request_items(&table, requests)
                    .send()
                    .await
                    .expect("batch write");
                pending = out.unprocessed_items.and_then(|mut m| m.remove(&table));
            }
        }
        println!(
            "  inserted {n} keys in {:?} (1 by commit, the rest as copies)",
            started.elapsed()
        );
    }
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

async fn compare<S: Fill>(name: &str, store: S, plan: &Plan) {
    println!("{name}:");
    store.fill(plan.keys).await;
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
