#!/usr/bin/env bash
# Load run of `keygate serve` (embedded store) with wrk: authorized
# `GET /v1/api-keys/{id}` and suspend+reactivate pairs. Builds the release
# binary, starts the server on a free 127.0.0.1 port with a fresh data
# directory, runs each load RUNS times, prints req/s and p50/p99 per run and
# the median and spread, then stops the server by its PID.
#
#   infra/bench/serve-load.sh            # RUNS=3 DURATION=10s THREADS=1 CONNECTIONS=32
#   RUNS=5 CONNECTIONS=64 infra/bench/serve-load.sh
#
# Needs wrk (Debian: apt-get install -y wrk) and curl.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-32}
POOL=${POOL:-64}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)"; exit 1; }

cargo build --release --quiet -p keygate-cli
bin="${CARGO_TARGET_DIR:-target}/release/keygate"
data=$(mktemp -d)
out=$(mktemp)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --port "$port" --data "$data" > "$out" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data" "$out"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
    grep -q "listening on" "$out" && break
    kill -0 "$server" 2>/dev/null || { cat "$out"; echo "keygate serve did not start"; exit 1; }
    sleep 0.1
done
base="http://127.0.0.1:$port"
root=$(grep -m1 '^kg_' "$out")
echo "== keygate serve (pid $server) on $base, data $data"

create() {
    curl -sf -X POST "$base/v1/api-keys" -H "x-api-key: $root" -H 'content-type: application/json' \
        -d '{"name":"load","key_type":"service","permissions":["runs:read"]}' |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
target=$(create)
ids=$target
for _ in $(seq 2 "$POOL"); do ids="$ids,$(create)"; done
curl -sf "$base/v1/api-keys/$target" -H "x-api-key: $root" >/dev/null

summarize() { # $1 = label, then one wrk output file per run
    python3 - "$@" <<'PY'
import re, statistics, sys
label = sys.argv[1]
rows = []
for path in sys.argv[2:]:
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    def pct(p):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, text, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errs = re.search(r"Socket errors:.*", text)
    rows.append((rps, pct(50), pct(99), int(bad.group(1)) if bad else 0, errs.group(0) if errs else ""))
for i, (rps, p50, p99, bad, errs) in enumerate(rows, 1):
    print(f"  run {i}: {rps:10.0f} req/s  p50 {p50:.3f} ms  p99 {p99:.3f} ms  non-2xx {bad} {errs}")
col = lambda i: [r[i] for r in rows]
for name, i, fmt in (("req/s", 0, "{:.0f}"), ("p50 ms", 1, "{:.3f}"), ("p99 ms", 2, "{:.3f}")):
    v = col(i)
    print(f"  {label} {name}: median " + fmt.format(statistics.median(v)) +
          " (min " + fmt.format(min(v)) + ", max " + fmt.format(max(v)) + f", {len(v)} runs)")
PY
}

results=$(mktemp -d)
trap 'cleanup; rm -rf "$results"' EXIT
echo "== authorized GET /v1/api-keys/{id}: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $RUNS runs"
for i in $(seq 1 "$RUNS"); do
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "x-api-key: $root" \
        "$base/v1/api-keys/$target" > "$results/get-$i.txt"
done
summarize "GET" "$results"/get-*.txt

echo "== suspend+reactivate pairs over $POOL keys: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $RUNS runs (pairs/s = req/s / 2)"
for i in $(seq 1 "$RUNS"); do
    KEYGATE_KEY=$root KEYGATE_IDS=$ids wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
        -s infra/bench/wrk/suspend-reactivate.lua "$base" > "$results/pairs-$i.txt"
done
summarize "suspend/reactivate" "$results"/pairs-*.txt
if [[ -n "${KEEP:-}" ]]; then cp -r "$results" "$KEEP"; echo "raw wrk output copied to $KEEP"; fi
