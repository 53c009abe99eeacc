"""Transform template.yaml with aws-sam-translator, offline.

Usage: validate_template.py TEMPLATE OUTPUT_JSON

Local CodeUris become a dummy S3 location (as `sam package` would make them),
then the SAM transform runs in-process with no AWS calls: the managed-policy
lookup is a stub (the template names no managed policies by name) and the
region comes from the environment. Writes the CloudFormation JSON for cfn-lint.
"""

import json
import sys

from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

DUMMY_CODE = "s3://keygate-validate/code.zip"


class OfflinePolicyLoader(ManagedPolicyLoader):
    """Never asks IAM: any managed policy referenced by name fails the check."""

    def __init__(self) -> None:
        super().__init__(iam_client=None)

    def load(self) -> dict:
        return {}


def local_code_uri(value) -> bool:
    return isinstance(value, str) and not value.startswith("s3://")


def replace_code_uris(template: dict) -> int:
    replaced = 0
    function_globals = template.get("Globals", {}).get("Function", {})
    if local_code_uri(function_globals.get("CodeUri")):
        function_globals["CodeUri"] = DUMMY_CODE
        replaced += 1
    for resource in template.get("Resources", {}).values():
        # A function's code, or a layer's content (the catalog layer).
        field = {
            "AWS::Serverless::Function": "CodeUri",
            "AWS::Serverless::LayerVersion": "ContentUri",
        }.get(resource.get("Type"))
        if field is None:
            continue
        properties = resource.setdefault("Properties", {})
        if local_code_uri(properties.get(field)):
            properties[field] = DUMMY_CODE
            replaced += 1
    return replaced


def main() -> int:
    source, output = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    replaced = replace_code_uris(template)
    try:
        transformed = transform(template, {}, OfflinePolicyLoader())
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(f"SAM transform: {cause.message}", file=sys.stderr)
        return 1
    with open(output, "w", encoding="utf-8") as f:
        json.dump(transformed, f, indent=2, sort_keys=True)
    resources = transformed.get("Resources", {})
    print(
        f"SAM transform ok: {len(resources)} CloudFormation resources "
        f"({replaced} local CodeUri replaced)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
