//! The emulator fixture itself: dropping it stops the function it started.

use std::path::Path;
use std::time::{Duration, Instant};

use keygate_tests::rie::Rie;

use crate::common::{AUTHORIZER, authorizer_with};

/// The function runs in a process group of its own under the emulator:
/// dropping the `Rie` must stop both, or every test would leave a function
/// process behind.
#[tokio::test]
async fn dropping_the_emulator_stops_the_function() {
    let rie = Rie::start(
        Path::new(AUTHORIZER),
        &[("TABLE_NAME", "t"), ("AUDIT_TABLE_NAME", "t-audit")],
    )
    .await;
    let denied = rie
        .invoke(authorizer_with("kg_malformed", "GET /v1/runs"))
        .await
        .unwrap();
    assert_eq!(denied["isAuthorized"], false);
    let emulator = rie.pid().unwrap();
    let function = rie.runtime_pids();
    assert_eq!(function.len(), 1);
    drop(rie);
    let gone = |pid: u32| {
        // Gone, or a zombie waiting for its parent to reap it.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z')))
            .unwrap_or(true)
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(gone(emulator) && gone(function[0])) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone(emulator), "the emulator {emulator} still runs");
    assert!(gone(function[0]), "the function {} still runs", function[0]);
}
