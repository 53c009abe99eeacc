#!/usr/bin/env bash
# The OpenAPI document checked by tools keygate did not write: a fresh
# `keygate serve` (its own temporary data directory) serves /openapi.json,
# openapi-spec-validator validates it, then Schemathesis fuzzes every
# operation of the live server with its first full-access key: positive and
# negative data, every check, every phase (examples, coverage, fuzzing,
# stateful). The server is stopped by its PID whatever happens.
#
#   infra/fuzz-api.sh --ci      fixed seed, 50 examples per operation (the test command)
#   infra/fuzz-api.sh --long    fixed seed, 300 examples per operation (minutes)
#   infra/fuzz-api.sh --long --seed N    another seed
#
# Reports: target/schemathesis/ (openapi.json, junit.xml, schemathesis.log).
# VENV is the venv holding infra/requirements-test.txt (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

VENV=${VENV:-.venv}
examples=50
seed=20261127
usage() {
    echo "usage: infra/fuzz-api.sh [--ci | --long] [--seed N]" >&2
    exit 2
}
while [[ $# -gt 0 ]]; do
    case $1 in
        --ci) examples=50 ;;
        --long) examples=300 ;;
        --seed) [[ ${2:-} =~ ^[0-9]+$ ]] || usage; seed=$2; shift ;;
        *) usage ;;
    esac
    shift
done
for tool in st openapi-spec-validator; do
    [[ -x "$VENV/bin/$tool" ]] || {
        echo "fuzz-api: $VENV/bin/$tool is missing; run infra/test.sh or pip install -r infra/requirements-test.txt into $VENV" >&2
        exit 1
    }
done

# Always build: by hand after an edit, an old binary would be fuzzed (a
# no-op when nothing changed, as in the test command).
keygate=target/debug/keygate
cargo build -q -p keygate-cli

out=target/schemathesis
rm -rf "$out"
mkdir -p "$out"
data=$(mktemp -d)
"$keygate" serve --port 0 --data "$data/store" > "$out/serve.out" 2> "$out/serve.err" &
server=$!
cleanup() {
    kill "$server" 2> /dev/null || true
    wait "$server" 2> /dev/null || true
    rm -rf "$data"
}
trap cleanup EXIT
url=""
for _ in $(seq 1 100); do
    url=$(sed -n 's/^keygate: listening on //p' "$out/serve.out")
    [[ -n $url ]] && break
    kill -0 "$server" 2> /dev/null || { cat "$out/serve.err" >&2; exit 1; }
    sleep 0.1
done
[[ -n $url ]] || { echo "fuzz-api: keygate serve did not start" >&2; exit 1; }
KEYGATE_FUZZ_KEY=$(grep -m1 '^kg_' "$out/serve.out" || true)
[[ -n $KEYGATE_FUZZ_KEY ]] || { echo "fuzz-api: keygate serve printed no key (is the store new?)" >&2; exit 1; }
export KEYGATE_FUZZ_KEY

"$VENV/bin/python" -c 'import sys, urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1] + "/openapi.json").read())' "$url" > "$out/openapi.json"
echo "== openapi-spec-validator"
"$VENV/bin/openapi-spec-validator" "$out/openapi.json"

echo "== schemathesis: seed $seed, $examples examples per operation, against $url"
SCHEMATHESIS_HOOKS=tests/api/hooks.py "$VENV/bin/st" --config-file tests/api/schemathesis.toml run \
    "$out/openapi.json" --url "$url" \
    --seed "$seed" --max-examples "$examples" \
    --report-junit-path "$out/junit.xml" 2>&1 | tee "$out/schemathesis.log"
exit "${PIPESTATUS[0]}"
