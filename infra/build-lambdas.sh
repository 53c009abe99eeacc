#!/usr/bin/env bash
# Build every keygate Lambda function for arm64 (Graviton, provided.al2023)
# with cargo-lambda: target/lambda/<function>/bootstrap, one per binary in
# functions/src/bin/, then print each binary's size.
#
# Installs cargo-lambda, at the version infra/requirements-sam.txt pins, into
# the Python venv VENV (default .venv-sam, shared with infra/sam-build.sh) when
# `cargo lambda` is not already available; it brings its own Zig for the
# cross-compile. Extra arguments go to `cargo lambda build`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

VENV=${VENV:-.venv-sam}
[[ $VENV == /* ]] || VENV="$PWD/$VENV"
if ! cargo lambda --version >/dev/null 2>&1; then
    if [[ ! -x "$VENV/bin/cargo-lambda" ]]; then
        echo "== installing cargo-lambda into $VENV"
        [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check \
            "$(grep -m1 '^cargo-lambda==' infra/requirements-sam.txt)"
    fi
    export PATH="$VENV/bin:$PATH"
fi
echo "== $(cargo lambda --version)"

echo "== cargo lambda build --release --arm64 -p keygate-functions"
cargo lambda build --release --arm64 -p keygate-functions "$@"

status=0
echo "== binaries"
for source in functions/src/bin/*.rs; do
    name=$(basename "$source" .rs)
    binary="target/lambda/$name/bootstrap"
    if [[ -f "$binary" ]]; then
        printf '%-16s %9d bytes  %s\n' "$name" "$(stat -c %s "$binary")" "$binary"
    else
        echo "$name: $binary is missing" >&2
        status=1
    fi
done
exit "$status"
