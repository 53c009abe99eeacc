#!/usr/bin/env bash
# Release check, not part of the test command (a cold run takes ~10 minutes on
# 2 cores): `sam build` of template.yaml exactly as a deployer runs it, then a
# check that every AWS::Serverless::Function has an arm64 (aarch64 ELF)
# .aws-sam/build/<LogicalId>/bootstrap. Prints each size and the times; exits
# non-zero when the build fails or any function lacks its binary.
#
# Installs the pinned SAM CLI and cargo-lambda (infra/requirements-sam.txt)
# into the Python venv VENV (default .venv-sam at the repo root, git-ignored)
# and the aarch64-unknown-linux-gnu Rust target (rustup) when missing: those
# need PyPI and the Rust distribution server once. Crates come from crates.io
# unless already in ~/.cargo. After that everything here works offline.
# Extra arguments go to `sam build` (e.g. --debug, --parallel).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
start=$SECONDS

VENV=${VENV:-.venv-sam}
[[ $VENV == /* ]] || VENV="$PWD/$VENV"
REQUIREMENTS=infra/requirements-sam.txt
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [[ ! -x "$VENV/bin/sam" || "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
    echo "== installing $(grep -v '^#' "$REQUIREMENTS" | xargs) into $VENV"
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$want" > "$STAMP"
fi
# The venv first, so `cargo lambda` is the pinned cargo-lambda (and its zig).
export PATH="$VENV/bin:$PATH"
export SAM_CLI_TELEMETRY=0
echo "== $(sam --version); $(cargo lambda --version); $(cargo --version)"

target=aarch64-unknown-linux-gnu
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$target"; then
    echo "== rustup target add $target (the arm64 standard library, downloaded once)"
    rustup target add "$target"
fi

# sam build runs one `cargo lambda build --release --arm64 --bin <Binary>` per
# function, one after another, each ending in its own single-threaded LTO link.
# Building every binary in one cargo run first links them in parallel; sam
# build's runs then find each binary fresh in the same target/ and only copy it.
setup=$SECONDS
echo "== cargo lambda build --release --arm64 -p keygate-functions"
cargo lambda build --release --arm64 -p keygate-functions
prebuilt=$SECONDS

# Not --cached: SAM's cache key hashes CodeUri (functions/) only, so a change in
# shared/, Cargo.toml or Cargo.lock would reuse stale binaries. cargo's own
# freshness check makes a warm build take seconds anyway.
rm -rf .aws-sam/build
echo "== sam build $*"
sam build "$@"
built=$SECONDS

echo "== bootstraps"
status=0
"$VENV/bin/python" - template.yaml .aws-sam/build <<'PY' || status=1
import os
import sys

from samcli.yamlhelper import yaml_parse

template_path, build_dir = sys.argv[1], sys.argv[2]
with open(template_path, encoding="utf-8") as f:
    resources = yaml_parse(f.read()).get("Resources", {})
functions = sorted(k for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Function")
with open(os.path.join(build_dir, "template.yaml"), encoding="utf-8") as f:
    built = yaml_parse(f.read()).get("Resources", {})

EM_AARCH64 = 183
failed = 0
for logical_id in functions:
    path = os.path.join(build_dir, logical_id, "bootstrap")
    problem = None
    if not os.path.isfile(path):
        problem = "missing"
    else:
        with open(path, "rb") as f:
            head = f.read(20)
        # ELF magic, 64-bit, little-endian, e_machine at byte 18.
        if len(head) < 20 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            problem = "not a 64-bit little-endian ELF"
        elif int.from_bytes(head[18:20], "little") != EM_AARCH64:
            problem = f"e_machine {int.from_bytes(head[18:20], 'little')}, not aarch64"
        elif not os.access(path, os.X_OK):
            problem = "not executable"
    code_uri = built.get(logical_id, {}).get("Properties", {}).get("CodeUri")
    if problem is None and code_uri != logical_id:
        problem = f"built template CodeUri is {code_uri!r}, not {logical_id!r}"
    if problem:
        failed += 1
        print(f"{logical_id:24} {path}: {problem}", file=sys.stderr)
    else:
        print(f"{logical_id:24} {os.path.getsize(path):>10,} bytes  aarch64 ELF  {path}")
if not functions:
    print(f"no AWS::Serverless::Function in {template_path}", file=sys.stderr)
    failed = 1
print(f"{len(functions) - failed if functions else 0} of {len(functions)} functions built for arm64")
sys.exit(1 if failed else 0)
PY
echo "== time: setup $((setup - start)) s, cargo lambda build $((prebuilt - setup)) s," \
    "sam build $((built - prebuilt)) s, total $((SECONDS - start)) s"
exit "$status"
