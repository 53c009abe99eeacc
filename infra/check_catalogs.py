"""Check catalog files against the published JSON Schema, offline.

Usage: check_catalogs.py SCHEMA CATALOG...

docs/catalog.schema.json is what `keygate catalog schema` prints (a Rust test
keeps the two equal); editors use it to complete and check keygate.toml.
This makes sure the shipped catalog and the examples' catalogs satisfy the
schema as an editor would read it. `keygate catalog check` is the full check
(unknown resources in routes, retired names, duplicate route keys).
"""

import json
import sys
import tomllib

from jsonschema import Draft202012Validator


def main(schema_path: str, catalogs: list[str]) -> int:
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    failed = 0
    for path in catalogs:
        with open(path, "rb") as f:
            document = tomllib.load(f)
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        for error in errors:
            where = "/".join(str(p) for p in error.path) or "(top level)"
            print(f"{path}: {where}: {error.message}", file=sys.stderr)
        failed += bool(errors)
        if not errors:
            print(f"{path}: matches {schema_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
