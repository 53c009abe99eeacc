//! What the benchmarks that run the real authorizer binary share: which
//! binary they measure, and how they read their samples.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Whether this is `cargo bench` (criterion's `--bench` flag) rather than
/// the smoke run `cargo test` makes of every bench target.
pub fn benching() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The authorizer binary next to this bench's own `deps/` directory
/// (`target/<profile>/authorizer`). Under `cargo bench` it is built first
/// (`cargo build --release -p keygate-functions --bin authorizer`), so one
/// command measures the current code; under `cargo test` it is whatever
/// debug binary is there, if any.
pub fn authorizer_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .expect("bench runs from target/<profile>/deps")
        .join("authorizer");
    if benching() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--release", "-p", "keygate-functions"])
            .args(["--bin", "authorizer"])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the release authorizer failed");
    }
    binary
}

/// The `p` quantile (0–1) of samples sorted in ascending order.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let last = sorted.len().saturating_sub(1);
    sorted[((last as f64) * p).round() as usize]
}
