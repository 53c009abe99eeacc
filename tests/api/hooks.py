"""Schemathesis hooks for infra/fuzz-api.sh: the runtime rules of the API that
JSON Schema cannot state, applied to positive (schema-valid) cases only, so
that "valid data is accepted" is checked against data the API documents as
valid. Negative cases are left alone: they must still be refused.

- `expires_at` must be in the future (the document says so in words; a
  date-time format has no "after now"). A positive case gets a future time.
- `cursor` is an opaque token only the API issues; a generated one is not a
  valid cursor, whatever its shape. Positive cases do without one (the
  browser and Rust tests page with real cursors).
- Filters that do not combine (each documented in words): a key search is
  by `name`, or by `key_type` and `owner` (and an `owner` means user keys);
  the audit trail is filtered by `key_id` or by `actor_key_id`; `until` must
  be later than `since`. A positive case keeps the first of each pair.
- The fuzzing key must not act on itself: a key may always suspend, revoke,
  rotate or delete itself (that is how a leak is stopped), and a fuzzer that
  found the key's own id (it is every record's `created_by`) would lock
  itself out and test nothing more. Cases whose `{id}` is the fuzzing key's
  are skipped.
"""

import os
from datetime import datetime, timedelta, timezone

import schemathesis

# `<prefix>_` then the 22-character id (see the README's key format).
_FUZZ_KEY = os.environ.get("KEYGATE_FUZZ_KEY", "")
_OWN_ID = _FUZZ_KEY.split("_", 1)[1][:22] if "_" in _FUZZ_KEY else None


def _positive(case) -> bool:
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode.is_positive


@schemathesis.hook
def filter_case(context, case) -> bool:
    return not (_OWN_ID and (case.path_parameters or {}).get("id") == _OWN_ID)


@schemathesis.hook
def map_case(context, case):
    if not _positive(case):
        return case
    if isinstance(case.body, dict) and isinstance(case.body.get("expires_at"), str):
        future = datetime.now(timezone.utc) + timedelta(days=30)
        case.body["expires_at"] = future.strftime("%Y-%m-%dT%H:%M:%SZ")
    if case.query and "cursor" in case.query:
        case.query = {k: v for k, v in case.query.items() if k != "cursor"}
    _one_of_each_pair(case)
    return case


def _one_of_each_pair(case) -> None:
    """Keeps the first filter of each pair that does not combine."""
    if not case.query:
        return
    query = dict(case.query)
    if "name" in query:
        query.pop("key_type", None)
        query.pop("owner", None)
    if query.get("key_type") == "service":
        query.pop("owner", None)
    if "key_id" in query:
        query.pop("actor_key_id", None)
    if "since" in query:
        query.pop("until", None)
    case.query = query


@schemathesis.hook
def before_add_examples(context, examples):
    # The Examples phase applies no map_case; its cases are all positive.
    for case in examples:
        _one_of_each_pair(case)
