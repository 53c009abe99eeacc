#!/usr/bin/env bash
# Invoke one keygate Lambda function by hand, on this machine, the way Lambda
# runs it: the debug binary under AWS's Lambda Runtime Interface Emulator
# (RIE, installed by infra/install-rie.sh), fed one event. No Docker.
#
#   infra/local-lambda.sh FUNCTION [EVENT]
#
# FUNCTION is a binary of keygate-functions (authorizer, create-key, ...).
# EVENT is a JSON file, or - for standard input; by default
# infra/events/FUNCTION.json (the payload-2.0 fixtures).
#
# Prints the function's answer on stdout; the emulator's lines (START, END,
# REPORT, INIT REPORT) and the function's own logs go to stderr. Exits 0 on
# an answer, 1 when the function fails to start (init error), returns a
# Lambda error, or times out, 2 on a usage error.
#
# The function sees only the Lambda environment plus what it needs from
# yours: TABLE_NAME, AUDIT_TABLE_NAME, HOME, RUST_LOG and every AWS_* and
# KEYGATE_* variable. Defaults: AWS_REGION us-east-1 (or AWS_DEFAULT_REGION),
# AWS_EC2_METADATA_DISABLED=true, AWS_LAMBDA_FUNCTION_TIMEOUT=30 (seconds,
# honoured by the emulator). For example, against moto on port 5000:
#
#   TABLE_NAME=keygate AWS_ENDPOINT_URL=http://127.0.0.1:5000 \
#     AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
#     infra/local-lambda.sh get-key
#
# KEYGATE_TEST_RIE names another emulator binary; RIE_LOG_LEVEL sets the
# emulator's own log level (default info).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}

functions=$(cd "$root/functions/src/bin" && for f in *.rs; do printf '%s ' "${f%.rs}"; done)
usage() {
    echo "usage: infra/local-lambda.sh FUNCTION [EVENT]" >&2
    echo "  FUNCTION: one of: $functions" >&2
    echo "  EVENT: a JSON file or - for stdin (default: infra/events/FUNCTION.json)" >&2
    exit 2
}
[[ $# -ge 1 && $# -le 2 ]] || usage
function=$1
[[ $function != -* && -f "$root/functions/src/bin/$function.rs" ]] || usage
event=${2:-$root/infra/events/$function.json}
if [[ $event == - ]]; then
    event_file=$(mktemp)
    cat > "$event_file"
else
    [[ -f $event ]] || { echo "local-lambda: no event file $event" >&2; exit 2; }
    event_file=$event
fi

cd "$root"
echo "== cargo build -p keygate-functions --bin $function" >&2
cargo build -q -p keygate-functions --bin "$function" >&2
binary=${CARGO_TARGET_DIR:-$root/target}/debug/$function
[[ $binary == /* ]] || binary=$root/$binary
[[ -x $binary ]] || { echo "local-lambda: no binary at $binary after the build" >&2; exit 1; }

rie=${KEYGATE_TEST_RIE:-}
if [[ -z $rie ]]; then
    rie=$(infra/install-rie.sh)
fi
[[ -x $rie ]] || { echo "local-lambda: the RIE $rie is not executable (run infra/install-rie.sh)" >&2; exit 1; }

# The function's environment: Lambda's, then the caller's pass-through.
lambda_env=(
    "AWS_LAMBDA_FUNCTION_NAME=$function"
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128"
    "AWS_LAMBDA_FUNCTION_VERSION=\$LATEST"
    "AWS_LAMBDA_FUNCTION_TIMEOUT=30"
    "AWS_REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
    "AWS_EC2_METADATA_DISABLED=true"
    "PATH=/usr/bin:/bin"
)
while IFS= read -r name; do
    case $name in
        AWS_* | KEYGATE_* | TABLE_NAME | AUDIT_TABLE_NAME | HOME | RUST_LOG)
            lambda_env+=("$name=${!name}") ;;
    esac
done < <(compgen -e)
timeout=${AWS_LAMBDA_FUNCTION_TIMEOUT:-30}
if [[ ! $timeout =~ ^[1-9][0-9]*$ ]]; then
    echo "local-lambda: AWS_LAMBDA_FUNCTION_TIMEOUT must be whole seconds, not '$timeout'" >&2
    exit 2
fi

rie_pid=""
stop_rie() {
    if [[ -n $rie_pid ]] && kill -0 "$rie_pid" 2>/dev/null; then
        # The function runs in a process group of its own, as the RIE's child:
        # stop it by its PID too in case the RIE cannot.
        local children
        children=$(cat /proc/"$rie_pid"/task/*/children 2>/dev/null || true)
        kill -TERM "$rie_pid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$rie_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$rie_pid" 2>/dev/null || true
        for child in $children; do
            kill -KILL "$child" 2>/dev/null || true
        done
        wait "$rie_pid" 2>/dev/null || true
    fi
    rie_pid=""
}
cleanup() {
    stop_rie
    if [[ $event_file != "$event" ]]; then rm -f "$event_file"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_ports() {
    "$PYTHON" -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])'
}

# Two free ports; another process may take one before the RIE binds it, in
# which case the RIE exits at once and we try again with new ones.
for attempt in 1 2 3; do
    read -r invoke_port runtime_port < <(free_ports)
    env -i "${lambda_env[@]}" "$rie" \
        --log-level "${RIE_LOG_LEVEL:-info}" \
        --runtime-interface-emulator-address "127.0.0.1:$invoke_port" \
        --runtime-api-address "127.0.0.1:$runtime_port" \
        "$binary" >&2 &
    rie_pid=$!
    up=""
    for _ in $(seq 1 200); do
        if ! kill -0 "$rie_pid" 2>/dev/null; then break; fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$invoke_port") 2>/dev/null; then up=yes; break; fi
        sleep 0.025
    done
    [[ -n $up ]] && break
    stop_rie
    echo "local-lambda: the RIE did not start (attempt $attempt)" >&2
done
[[ -n $up ]] || exit 1
echo "== RIE (pid $rie_pid) on 127.0.0.1:$invoke_port, runtime API on 127.0.0.1:$runtime_port" >&2

# POST the event; classify the answer (the RIE marks neither a function error
# nor a timeout with a header: a timeout is a 200 with a text body, a failed
# start a 502 with an empty one).
"$PYTHON" - "http://127.0.0.1:$invoke_port/2015-03-31/functions/function/invocations" \
    "$event_file" "$((timeout + 10))" <<'EOF'
import json, sys, urllib.error, urllib.request

url, event_file, wait = sys.argv[1], sys.argv[2], float(sys.argv[3])
with open(event_file, "rb") as f:
    event = f.read()
try:
    json.loads(event)
except ValueError as e:
    sys.exit(f"local-lambda: {event_file} is not JSON: {e}")
request = urllib.request.Request(url, data=event, method="POST",
                                 headers={"content-type": "application/json"})
try:
    with urllib.request.urlopen(request, timeout=wait) as response:
        status, body = response.status, response.read()
except urllib.error.HTTPError as e:
    status, body = e.code, e.read()
except OSError as e:
    sys.exit(f"local-lambda: no answer from the RIE: {e}")
text = body.decode("utf-8", "replace")
if status == 502:
    sys.exit("local-lambda: the function failed to start or exited (HTTP 502 from the RIE); "
             "its output is above")
if status != 200:
    sys.exit(f"local-lambda: HTTP {status} from the RIE: {text}")
try:
    answer = json.loads(text)
except ValueError:
    sys.exit(f"local-lambda: {text}")
print(text)
if isinstance(answer, dict) and "errorType" in answer and "errorMessage" in answer:
    sys.exit("local-lambda: the function returned a Lambda error")
EOF
