#!/usr/bin/env bash
# keygate's one test command. On a fresh machine it installs what the tests
# need (a Python venv with moto, aws-sam-translator and cfn-lint), starts
# moto's DynamoDB API on a free 127.0.0.1 port, checks formatting and lints,
# validates template.yaml offline, runs every Rust test (and each benchmark
# once), and stops moto by its PID whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

VENV=.venv
REQUIREMENTS=infra/requirements-test.txt
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [[ ! -x "$VENV/bin/python" || "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
    echo "== installing test tools into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$want" > "$STAMP"
fi

mkdir -p target
port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# moto's DynamoDB API, one request at a time (DynamoDB's isolation; see the script).
"$VENV/bin/python" infra/moto_server.py 127.0.0.1 "$port" > target/moto.log 2>&1 &
moto_pid=$!
cleanup() { kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 1 100); do
    if "$VENV/bin/python" -c "import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:$port/moto-api/reset', method='POST'), timeout=1)" 2>/dev/null; then
        break
    fi
    kill -0 "$moto_pid" 2>/dev/null || { cat target/moto.log; echo "moto did not start"; exit 1; }
    sleep 0.2
done
export KEYGATE_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
echo "== moto (pid $moto_pid) on $KEYGATE_TEST_DYNAMODB_ENDPOINT"

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
if [[ -f infra/validate-template.sh ]]; then
    echo "== template.yaml: aws-sam-translator + cfn-lint"
    VENV="$VENV" bash infra/validate-template.sh
fi
echo "== cargo test"
cargo test --workspace --all-targets 2>&1 | tee target/test-output.log
awk '/^test result:/ { passed += $4; failed += $6 }
     END { printf "summary: %d passed, %d failed\n", passed, failed }' target/test-output.log
