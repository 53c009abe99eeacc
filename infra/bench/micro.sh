#!/usr/bin/env bash
# The criterion micro-benchmarks (authorizer decision, keys, scopes), run
# RUNS times; prints each benchmark's median over the runs, the spread
# (min-max of the per-run medians) and, for the authorizer group, the ratio
# to the floor (SHA-256 of the same secret) measured in the same run.
#
#   infra/bench/micro.sh          # RUNS=5
#   RUNS=3 BENCHES="--bench authorizer_decision" infra/bench/micro.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
RUNS=${RUNS:-5}
BENCHES=${BENCHES:---bench authorizer_decision --bench keys}
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
# shellcheck disable=SC2086
cargo bench -p keygate-shared $BENCHES --no-run
for i in $(seq 1 "$RUNS"); do
    echo "== run $i/$RUNS"
    # shellcheck disable=SC2086
    CRITERION_HOME="$home/run-$i" cargo bench -q -p keygate-shared $BENCHES > "$home/run-$i.log" 2>&1 ||
        { cat "$home/run-$i.log"; exit 1; }
done
python3 - "$home" <<'PY'
import glob, json, os, statistics, sys
home = sys.argv[1]
runs = {}
for est in glob.glob(f"{home}/run-*/**/new/estimates.json", recursive=True):
    run = est[len(home) + 1:].split("/")[0]
    meta = json.load(open(os.path.join(os.path.dirname(est), "benchmark.json")))
    runs.setdefault(meta["full_id"], {})[run] = json.load(open(est))["median"]["point_estimate"]
floor = runs.get("authorizer/floor_sha256_secret", {})
def fmt(ns):
    return f"{ns:.1f} ns" if ns < 1000 else f"{ns / 1000:.2f} µs"
print(f"{'benchmark':44} {'median':>10} {'min':>10} {'max':>10}  ratio to floor (median, min-max)")
for name in sorted(runs):
    v = list(runs[name].values())
    line = f"{name:44} {fmt(statistics.median(v)):>10} {fmt(min(v)):>10} {fmt(max(v)):>10}"
    if name.startswith("authorizer/") and floor:
        ratios = [t / floor[r] for r, t in runs[name].items() if r in floor]
        line += f"  {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
    print(line)
print(f"({len(floor)} runs)")
PY
