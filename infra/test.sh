#!/usr/bin/env bash
# keygate's one test command. On a fresh machine it installs what the tests
# need (a Python venv from infra/requirements-test.txt, Debian's chromium for
# the browser tests, AWS's Lambda Runtime Interface Emulator), starts moto's
# DynamoDB and Secrets Manager API on a free 127.0.0.1 port, checks formatting
# and lints, validates template.yaml offline, runs every Rust test (and each
# benchmark once), validates the OpenAPI document and fuzzes the API with
# Schemathesis, runs the browser tests, and ends with one summary line over
# all of them. Everything it starts it stops by PID, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
started=$(date +%s)

VENV=.venv
REQUIREMENTS=infra/requirements-test.txt
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [[ ! -x "$VENV/bin/python" || "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
    echo "== installing test tools into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$want" > "$STAMP"
fi

# The browser tests drive Debian's Chromium (Playwright's own browser
# download is not used).
if ! command -v chromium > /dev/null; then
    echo "== installing chromium (apt-get)"
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium > /dev/null
fi

echo "== Lambda Runtime Interface Emulator"
KEYGATE_TEST_RIE=$(PYTHON="$VENV/bin/python" bash infra/install-rie.sh)
export KEYGATE_TEST_RIE

mkdir -p target
moto_pid=""
cleanup() {
    if [[ -n $moto_pid ]]; then
        kill "$moto_pid" 2> /dev/null || true
        wait "$moto_pid" 2> /dev/null || true
    fi
}
trap cleanup EXIT

port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# moto's DynamoDB API, one request at a time (DynamoDB's isolation; see the script).
"$VENV/bin/python" infra/moto_server.py 127.0.0.1 "$port" > target/moto.log 2>&1 &
moto_pid=$!
moto_ready=""
for _ in $(seq 1 100); do
    if "$VENV/bin/python" -c "import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:$port/moto-api/reset', method='POST'), timeout=1)" 2> /dev/null; then
        moto_ready=yes
        break
    fi
    kill -0 "$moto_pid" 2> /dev/null || {
        cat target/moto.log
        echo "moto did not start"
        exit 1
    }
    sleep 0.2
done
[[ -n $moto_ready ]] || {
    cat target/moto.log
    echo "moto is running but did not answer on port $port"
    exit 1
}
export KEYGATE_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
echo "== moto (pid $moto_pid) on $KEYGATE_TEST_DYNAMODB_ENDPOINT"

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== template.yaml: aws-sam-translator + cfn-lint"
VENV="$VENV" bash infra/validate-template.sh
VENV="$VENV" bash infra/validate-template.sh examples/orders-api/template.yaml

status=0
echo "== cargo test"
set +e
cargo test --workspace --all-targets 2>&1 | tee target/test-output.log
[[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
set -e

echo "== OpenAPI document and Schemathesis (infra/fuzz-api.sh)"
VENV="$VENV" bash infra/fuzz-api.sh --ci || status=1

echo "== browser tests (tests/console)"
rm -f target/console-junit.xml
"$VENV/bin/pytest" -q -p no:cacheprovider tests/console --junitxml=target/console-junit.xml || status=1

"$VENV/bin/python" infra/summary.py --floor infra/test-floor --cargo target/test-output.log \
    --junit browser=target/console-junit.xml \
    --junit schemathesis=target/schemathesis/junit.xml || status=1
echo "== test command took $(($(date +%s) - started)) s"
exit "$status"
