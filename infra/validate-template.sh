#!/usr/bin/env bash
# Offline check of a SAM template (and, with keygate's own, the catalog files): the SAM transform (aws-sam-translator, run
# in-process) must succeed and cfn-lint must pass on the CloudFormation it
# produces. No network, no AWS credentials. VENV is the Python venv holding
# infra/requirements-test.txt (default .venv, relative to the repo root).
#
#   infra/validate-template.sh [TEMPLATE]    (default template.yaml; the test
#   command also runs it on examples/orders-api/template.yaml)
set -euo pipefail
cd "$(dirname "$0")/.."
template=${1:-template.yaml}

VENV=${VENV:-.venv}
for tool in python cfn-lint; do
    if [[ ! -x "$VENV/bin/$tool" ]]; then
        echo "validate-template: $VENV/bin/$tool is missing; run infra/test.sh or" \
            "pip install -r infra/requirements-test.txt into $VENV" >&2
        exit 1
    fi
done

work=$(mktemp -d)
# On failure keep the transformed template: cfn-lint's line numbers point into it.
cleanup() {
    local status=$?
    if [[ $status -eq 0 ]]; then
        rm -rf "$work"
    else
        echo "validate-template: FAILED; transformed template kept in $work" >&2
    fi
}
trap cleanup EXIT

# Boto is imported by the translator; make sure nothing reaches for real
# credentials, config files or the instance metadata service.
export AWS_ACCESS_KEY_ID=validate AWS_SECRET_ACCESS_KEY=validate
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN

cp "$template" "$work/template.yaml"
"$VENV/bin/python" infra/validate_template.py "$work/template.yaml" "$work/cloudformation.json"

# cfn-lint on the SAM source too would transform it again (with its own
# translator); the transformed output is what CloudFormation deploys.
"$VENV/bin/cfn-lint" --regions us-east-1 -- "$work/cloudformation.json"
echo "cfn-lint ok"

# The catalog the CatalogLayer ships, and every example's, against the schema
# editors use (docs/catalog.schema.json); once, with keygate's own template.
if [[ $template == template.yaml ]]; then
    shopt -s nullglob
    catalogs=(catalog/keygate.toml examples/*/keygate.toml)
    "$VENV/bin/python" infra/check_catalogs.py docs/catalog.schema.json "${catalogs[@]}"
    # The example's own API document, which `keygate routes check` reads.
    "$VENV/bin/openapi-spec-validator" examples/*/openapi.yaml
fi
