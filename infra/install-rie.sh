#!/usr/bin/env bash
# Install AWS's Lambda Runtime Interface Emulator (RIE) for this machine and
# print its path on stdout (everything else goes to stderr).
#
# The RIE is the emulator AWS SAM runs in its containers. It ships inside the
# aws-sam-cli wheel on PyPI (samcli/local/rapid/aws-lambda-rie-{x86_64,arm64}),
# so this downloads that one pinned wheel with `pip download --no-deps` (no
# SAM install, no Docker), checks its sha256, and extracts only the binary for
# the host architecture.
#
#   target/rie/aws-sam-cli-<version>/   the downloaded wheel (cache)
#   target/rie/aws-lambda-rie           the emulator (fixed path, read by the
#                                       tests in tests/src/rie.rs and by
#                                       infra/local-lambda.sh)
#   target/rie/aws-lambda-rie.stamp     version, architecture and wheel hash
#                                       of the installed binary
#
# target/ because the binary is a per-checkout, per-architecture build input
# like the function binaries themselves: git-ignored, one per worktree,
# removed by `cargo clean`, and independent of the Python venv that
# infra/test.sh rebuilds whenever its requirements change.
#
# Idempotent: with the stamp matching it prints the path and does nothing
# else; with the wheel cached it extracts without touching the network.
# Needs python3 with pip. Environment: PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."

SAM_VERSION=1.170.0
SAM_WHEEL=aws_sam_cli-${SAM_VERSION}-py3-none-any.whl
SAM_WHEEL_SHA256=24ebaf5ecba38dc1758089968cb89ab61e124b84e92a344fc7a2771a47f4d0bf
PYTHON=${PYTHON:-python3}

DIR=target/rie
CACHE=$DIR/aws-sam-cli-$SAM_VERSION
BIN=$DIR/aws-lambda-rie
STAMP=$BIN.stamp

case "$(uname -s)/$(uname -m)" in
    Linux/x86_64 | Linux/amd64) arch=x86_64 ;;
    Linux/aarch64 | Linux/arm64) arch=arm64 ;;
    *)
        echo "install-rie: no RIE for $(uname -s)/$(uname -m) (the wheel has Linux x86_64 and arm64 only)" >&2
        exit 1
        ;;
esac

want="aws-sam-cli $SAM_VERSION $arch $SAM_WHEEL_SHA256"
if [[ -x $BIN && "$(cat "$STAMP" 2>/dev/null)" == "$want" ]]; then
    echo "$PWD/$BIN"
    exit 0
fi

sha256_of() {
    "$PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
}

requirement=""
partial=$BIN.tmp.$$
trap 'rm -f "$requirement" "$partial"' EXIT

mkdir -p "$CACHE"
wheel=$CACHE/$SAM_WHEEL
if [[ ! -f $wheel || "$(sha256_of "$wheel")" != "$SAM_WHEEL_SHA256" ]]; then
    rm -f "$wheel"
    echo "install-rie: downloading aws-sam-cli $SAM_VERSION (wheel only, no dependencies) into $CACHE" >&2
    requirement=$(mktemp)
    echo "aws-sam-cli==$SAM_VERSION --hash=sha256:$SAM_WHEEL_SHA256" > "$requirement"
    # --require-hashes: pip refuses a wheel whose sha256 differs from the pin.
    # --ignore-requires-python: the wheel is only unpacked, never imported.
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps \
        --only-binary=:all: --ignore-requires-python --require-hashes \
        -r "$requirement" -d "$CACHE" >&2
fi
if [[ ! -f $wheel || "$(sha256_of "$wheel")" != "$SAM_WHEEL_SHA256" ]]; then
    echo "install-rie: $wheel is missing or does not match sha256 $SAM_WHEEL_SHA256" >&2
    exit 1
fi

# Extract the one member to a temporary name, then rename: a concurrent run
# or a reader never sees half a binary.
"$PYTHON" - "$wheel" "samcli/local/rapid/aws-lambda-rie-$arch" "$partial" <<'EOF'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
chmod +x "$partial"
mv -f "$partial" "$BIN"
echo "$want" > "$STAMP"
echo "install-rie: installed the Lambda RIE from aws-sam-cli $SAM_VERSION ($arch) at $BIN" >&2
echo "$PWD/$BIN"
