//! Request parsing shared by the handlers: JSON bodies, query parameters and
//! path ids, with errors that name the field and never repeat a secret.

use lambda_http::{Request, RequestExt};

use crate::domain::routes::Operation;
use serde_json::{Map, Value};

use super::cursor::{Cursor, CursorError};
use super::error::{ApiError, ErrorCode};
use super::{DEFAULT_PAGE, MAX_PAGE};
use crate::domain::id::KeyId;
use crate::domain::org::OrgId;
use crate::domain::redaction::quoted;

/// What an operation accepts besides its path: the query parameters it
/// reads and the body fields it reads. Anything else is a 400 on every
/// route, from this one table.
struct Accepts {
    query: &'static [&'static str],
    body: Body,
}

enum Body {
    /// No body, or an empty JSON object.
    None,
    /// A JSON object with these fields, or no body at all.
    Optional(&'static [&'static str]),
    /// A JSON object with (some of) these fields.
    Required(&'static [&'static str]),
}

/// The fields of a create body.
pub(super) const CREATE_FIELDS: &[&str] = &[
    "name",
    "description",
    "key_type",
    "owner",
    "permissions",
    "expires_at",
    "limits",
];

/// The fields of a limits object (a create's `limits`, a set-limits body).
pub(super) const LIMITS_FIELDS: &[&str] = &["rate", "quota"];
/// The fields of an update body: a key's labels, nothing else.
pub(super) const UPDATE_FIELDS: &[&str] = &["name", "description"];

fn accepts(op: Operation) -> Accepts {
    let (query, body): (&'static [&'static str], Body) = match op {
        Operation::CreateKey => (&[], Body::Required(CREATE_FIELDS)),
        Operation::ListKeys => (
            &["status", "name", "key_type", "owner", "limit", "cursor"],
            Body::None,
        ),
        Operation::ListAuditEvents => (
            &[
                "key_id",
                "actor_key_id",
                "action",
                "since",
                "until",
                "limit",
                "cursor",
            ],
            Body::None,
        ),
        Operation::RevokeKey => (&[], Body::Required(&["reason"])),
        Operation::UpdateKey => (&[], Body::Required(UPDATE_FIELDS)),
        Operation::RotateKey => (&[], Body::Optional(&["grace_period_seconds", "reason"])),
        Operation::SetLimits => (&[], Body::Required(LIMITS_FIELDS)),
        Operation::GetKey
        | Operation::SuspendKey
        | Operation::ReactivateKey
        | Operation::DeleteKey
        | Operation::ListScopes
        | Operation::GetUsage
        | Operation::ResetUsage => (&[], Body::None),
    };
    Accepts { query, body }
}

/// A request's query and body, checked against what its operation accepts.
pub(super) struct Input {
    pub query: Query,
    pub body: Fields,
}

impl Input {
    pub(super) fn of(op: Operation, req: &Request) -> Result<Self, ApiError> {
        let accepts = accepts(op);
        let raw = req.body().as_ref();
        let body = match accepts.body {
            Body::None => Fields::from_optional_body(raw, &[])?,
            Body::Optional(fields) => Fields::from_optional_body(raw, fields)?,
            Body::Required(fields) => Fields::new(parse_object(raw)?, fields)?,
        };
        Ok(Self {
            query: Query::of(req, accepts.query)?,
            body,
        })
    }
}

/// The body as a JSON object.
pub(super) fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let invalid = |message: String| ApiError::new(ErrorCode::InvalidJson, message);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid("the request body must be a JSON object".into()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid("the request body must be a JSON object".into())),
        // serde_json's syntax errors give a position, never the input.
        Err(e) => Err(invalid(format!("the request body is not valid JSON: {e}"))),
    }
}

/// Typed access to a JSON object's fields, with errors that name the field.
pub(super) struct Fields(pub(super) Map<String, Value>);

impl Fields {
    /// The object, refusing fields outside `allowed` (typos such as
    /// `permisions` are caught rather than ignored).
    pub(super) fn new(map: Map<String, Value>, allowed: &[&str]) -> Result<Self, ApiError> {
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            let expected = if allowed.is_empty() {
                "this call takes no body fields".to_owned()
            } else {
                format!("expected one of {}", allowed.join(", "))
            };
            return Err(ApiError::bad_request(
                &quoted(unknown),
                format!("unknown field; {expected}"),
            ));
        }
        Ok(Self(map))
    }

    /// The body as an object with `allowed` fields; an empty body is `{}`.
    pub(super) fn from_optional_body(body: &[u8], allowed: &[&str]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Map::new()));
        }
        Self::new(parse_object(body)?, allowed)
    }

    pub(super) fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    /// Whether the body has `field` at all (also as `null`).
    pub(super) fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    pub(super) fn optional_str(&self, field: &str) -> Result<Option<&str>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::bad_request(field, "must be a string")),
        }
    }

    pub(super) fn required_str(&self, field: &str) -> Result<&str, ApiError> {
        self.optional_str(field)?
            .ok_or_else(|| ApiError::bad_request(field, "is required"))
    }

    /// A whole number in `range`, if present.
    pub(super) fn optional_int(
        &self,
        field: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Option<u64>, ApiError> {
        let problem = || {
            ApiError::bad_request(
                field,
                format!(
                    "must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )
        };
        match self.get(field) {
            None => Ok(None),
            // JSON has one number type: 575.0 is the whole number 575.
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
                        .map(|f| f as u64)
                })
                .filter(|v| range.contains(v))
                .map(Some)
                .ok_or_else(problem),
            Some(_) => Err(problem()),
        }
    }
}

/// The query string: each parameter once, as API Gateway's payload 2.0 gives
/// it (repeated values joined with commas, so `status=a&status=b` is the
/// value `a,b`), refusing parameters outside `allowed`.
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    pub(super) fn of(req: &Request, allowed: &[&str]) -> Result<Self, ApiError> {
        let mut params: Vec<(String, String)> = vec![];
        if let Some(query) = req.query_string_parameters_ref() {
            for (name, _) in query.iter() {
                if params.iter().any(|(n, _)| n == name) {
                    continue;
                }
                if !allowed.contains(&name) {
                    let expected = if allowed.is_empty() {
                        "this call takes no query parameters".to_owned()
                    } else {
                        format!("expected {}", allowed.join(", "))
                    };
                    return Err(ApiError::bad_request(
                        &quoted(name),
                        format!("unknown query parameter; {expected}"),
                    ));
                }
                let joined = query.all(name).unwrap_or_default().join(",");
                if joined.is_empty() {
                    return Err(ApiError::bad_request(
                        &quoted(name),
                        "is empty; leave the parameter out for its default",
                    ));
                }
                params.push((name.to_owned(), joined));
            }
        }
        Ok(Self(params))
    }

    /// A parameter's value (never empty: [`Query::of`] refuses that).
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `limit`: 1–[`MAX_PAGE`], default [`DEFAULT_PAGE`].
    pub(super) fn limit(&self) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(DEFAULT_PAGE),
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "limit",
                        format!("{} is not a number from 1 to {MAX_PAGE}", quoted(s)),
                    )
                }),
        }
    }

    /// `cursor`, checked to belong to this org and this list's `scope`.
    pub(super) fn cursor(&self, org: &OrgId, scope: &str) -> Result<Option<u128>, ApiError> {
        Ok(self.decoded_cursor(org, scope)?.map(|c| c.after))
    }

    /// A search's `cursor`: the sort key it stopped at.
    pub(super) fn search_cursor(
        &self,
        org: &OrgId,
        scope: &str,
    ) -> Result<Option<String>, ApiError> {
        match self.decoded_cursor(org, scope)? {
            None => Ok(None),
            Some(Cursor {
                after_key: Some(key),
                ..
            }) => Ok(Some(key)),
            Some(_) => Err(ApiError::bad_request("cursor", CursorError::Malformed)),
        }
    }

    fn decoded_cursor(&self, org: &OrgId, scope: &str) -> Result<Option<Cursor>, ApiError> {
        self.get("cursor")
            .map(|c| Cursor::decode(c, org, scope))
            .transpose()
            .map_err(|e: CursorError| ApiError::bad_request("cursor", e))
    }
}

/// The next page's cursor, when there is one.
pub(super) fn next_cursor(org: &OrgId, scope: &str, after: Option<u128>) -> Option<String> {
    after.map(|after| {
        Cursor {
            org: org.clone(),
            scope: scope.to_owned(),
            after,
            after_key: None,
        }
        .encode()
    })
}

/// The next page's cursor of a search, after the key `after` with its sort
/// key `after_key`.
pub(super) fn next_search_cursor(
    org: &OrgId,
    scope: &str,
    after: Option<(u128, String)>,
) -> Option<String> {
    after.map(|(after, after_key)| {
        Cursor {
            org: org.clone(),
            scope: scope.to_owned(),
            after,
            after_key: Some(after_key),
        }
        .encode()
    })
}

/// The `{id}` path parameter. A malformed id cannot name a key: the same
/// answer as an unknown one.
pub(super) fn path_id(req: &Request) -> Result<KeyId, ApiError> {
    let params = req.path_parameters_ref();
    let raw = params.and_then(|p| p.first("id")).unwrap_or_default();
    KeyId::parse(raw).map_err(|_| ApiError::no_such_key(raw))
}
