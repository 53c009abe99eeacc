//! The authorizer's context: what the authorizer tells the backend about the
//! calling key, in `requestContext.authorizer.lambda`. One struct, written by
//! the authorizer and read by keygate's handlers (and by a deployer's own
//! backend, which sees the same JSON object). API Gateway passes only
//! strings, numbers and booleans, so every field is a flat string.

use lambda_http::Request;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use serde::{Deserialize, Serialize};

use crate::domain::authority::Caller;
use crate::domain::id::KeyId;
use crate::domain::limits::Limits;
use crate::domain::org::OrgId;
use crate::domain::record::KeyRecord;
use crate::domain::scope::Permissions;
use crate::domain::text::KeyName;
use crate::domain::time::Timestamp;

/// What a request over its key's limits is answered with (`defer` mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    /// 429, or 503 when the request could not be counted.
    pub status: u16,
    /// Whole seconds, for `Retry-After`.
    pub retry_after: u64,
    pub message: String,
}

/// The calling key, as the authorizer allows it through.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizerContext {
    pub org_id: String,
    pub key_id: String,
    /// `service` or `user`.
    pub key_type: String,
    /// The user key's owner; `""` for service keys.
    pub owner: String,
    /// Space-separated scopes; `*` for full access.
    pub scopes: String,
    /// `<prefix>_...` and the key's last 4 characters, for the audit trail.
    pub hint: String,
    /// The key's name, which the audit trail records beside its hint.
    /// Absent from contexts written before it was added: read as `""`.
    #[serde(default)]
    pub name: String,
    /// RFC 3339; `""` when the key never expires. A key that expires cannot
    /// mint a key that outlives it.
    pub expires_at: String,
    /// The key's limits, `rate=100/60;quota=10000/month`. This and the
    /// fields below are absent for a key without limits, so its context is
    /// what it was before limits existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub limits: String,
    /// The budget the key draws on, when it is not the key's own id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub budget: String,
    /// In `defer` mode, the limit this request exceeds: `rate` or `quota`;
    /// `unavailable` when it could not be counted. Absent within limits.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub limit: String,
    /// With `limit`: whole seconds until a request would fit.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub retry_after: String,
    /// The IETF `RateLimit` and `RateLimit-Policy` field values for the
    /// key's limits after this request, ready to send.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ratelimit: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ratelimit_policy: String,
}

impl AuthorizerContext {
    /// The context of `record`, presented with the id text `key_id` (the
    /// same text `record.id` shows, taken from the key to save formatting).
    pub fn of(record: &KeyRecord, key_id: &str) -> Self {
        Self {
            org_id: record.org_id.as_str().to_owned(),
            key_id: key_id.to_owned(),
            key_type: record.key_type.as_str().to_owned(),
            owner: record
                .owner
                .as_ref()
                .map_or_else(String::new, |o| o.as_str().to_owned()),
            scopes: record.permissions.to_context_string(),
            hint: record.hint.clone(),
            name: record.name.as_str().to_owned(),
            expires_at: record.expires_at.map(|t| t.to_string()).unwrap_or_default(),
            limits: if record.limits.is_none() {
                String::new()
            } else {
                record.limits.canonical()
            },
            budget: if record.budget == record.id {
                String::new()
            } else {
                record.budget.to_string()
            },
            limit: String::new(),
            retry_after: String::new(),
            ratelimit: String::new(),
            ratelimit_policy: String::new(),
        }
    }

    /// In `defer` mode, what a request over its key's limits gets instead
    /// of being served: 429 (503 when it could not be counted), and the
    /// whole seconds to wait. `None` within limits. A deployer's backend
    /// does the same with the `limit` and `retry_after` fields.
    pub fn over_limit(&self) -> Option<OverLimit> {
        if self.limit.is_empty() {
            return None;
        }
        let retry_after = self.retry_after.parse::<u64>().unwrap_or(1).max(1);
        let limits = Limits::parse_canonical(&self.limits).unwrap_or_default();
        let (status, message) = match self.limit.as_str() {
            "rate" => (
                429,
                match limits.rate {
                    Some(r) => format!("this key is over its rate limit of {r}"),
                    None => "this key is over its rate limit".to_owned(),
                },
            ),
            "quota" => (
                429,
                match limits.quota {
                    Some(q) => format!("this key has used its quota of {q}"),
                    None => "this key has used its quota".to_owned(),
                },
            ),
            _ => (503, "this key's usage could not be counted".to_owned()),
        };
        Some(OverLimit {
            status,
            retry_after,
            message: format!("{message}; retry after {retry_after} s"),
        })
    }

    /// The IETF `RateLimit` and `RateLimit-Policy` header fields to send
    /// with any answer to a key with limits (none for other keys).
    pub fn ratelimit_headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("ratelimit", self.ratelimit.as_str()),
            ("ratelimit-policy", self.ratelimit_policy.as_str()),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
    }

    /// The context API Gateway put on a request, if the request came
    /// through an authorizer that allowed it.
    pub fn of_request(req: &Request) -> Option<Self> {
        let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
            return None;
        };
        let fields = &ctx.authorizer.as_ref()?.fields;
        let object = fields
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<serde_json::Map<_, _>>();
        serde_json::from_value(serde_json::Value::Object(object)).ok()
    }

    /// The calling key as the handlers check it; `None` when a field is not
    /// what the keygate authorizer writes.
    pub fn caller(&self) -> Option<Caller> {
        let scopes: Vec<&str> = self.scopes.split_whitespace().collect();
        let key_id = KeyId::parse(&self.key_id).ok()?;
        Some(Caller {
            org: OrgId::new(&self.org_id).ok()?,
            key_id,
            hint: self.hint.clone(),
            name: (!self.name.is_empty()).then(|| KeyName::from_stored(&self.name)),
            permissions: Permissions::from_strings(&scopes).ok()?,
            expires_at: match self.expires_at.as_str() {
                "" => None,
                at => Some(Timestamp::parse_rfc3339(at).ok()?),
            },
            limits: match self.limits.as_str() {
                "" => Limits::NONE,
                text => Limits::parse_canonical(text)?,
            },
            budget: match self.budget.as_str() {
                "" => key_id,
                id => KeyId::parse(id).ok()?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::key::KeyFormat;
    use crate::domain::record::KeyType;
    use crate::domain::text::KeyName;

    #[test]
    fn what_the_authorizer_writes_the_handlers_read() {
        let mut record = KeyRecord::new_active(
            &KeyFormat::default().generate(),
            OrgId::new("acme").unwrap(),
            KeyName::new("ci").unwrap(),
            KeyType::Service,
            Permissions::from_strings(&["runs:read", "api-keys:write"]).unwrap(),
            Timestamp::from_unix(1_000),
        );
        record.expires_at = Some(Timestamp::from_unix(9_000));
        let context = AuthorizerContext::of(&record, &record.id.to_string());
        let json = serde_json::to_value(&context).unwrap();
        assert_eq!(json["scopes"], "api-keys:write runs:read");
        assert_eq!(json["owner"], "");
        assert_eq!(json["expires_at"], "1970-01-01T02:30:00Z");
        let back: AuthorizerContext = serde_json::from_value(json.clone()).unwrap();
        let caller = back.caller().unwrap();
        assert_eq!(caller.key_id, record.id);
        assert_eq!(caller.org, record.org_id);
        assert_eq!(caller.permissions, record.permissions);
        assert_eq!(caller.expires_at, record.expires_at);
        assert_eq!(caller.hint, record.hint);
        assert_eq!(caller.name, Some(record.name.clone()));
        // A context from before names were passed on still reads.
        let mut older = serde_json::to_value(&context).unwrap();
        older.as_object_mut().unwrap().remove("name");
        let older: AuthorizerContext = serde_json::from_value(older).unwrap();
        assert_eq!(older.caller().unwrap().name, None);
        assert_eq!((caller.limits, caller.budget), (Limits::NONE, record.id));
        // A key without limits has the context it had before limits existed.
        let mut fields: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        fields.sort();
        assert_eq!(
            fields,
            [
                "expires_at",
                "hint",
                "key_id",
                "key_type",
                "name",
                "org_id",
                "owner",
                "scopes"
            ]
        );
        record.limits = Limits::parse_canonical("rate=10/1;quota=100/day").unwrap();
        record.budget = KeyId::generate();
        let json =
            serde_json::to_value(AuthorizerContext::of(&record, &record.id.to_string())).unwrap();
        assert_eq!(json["limits"], "rate=10/1;quota=100/day");
        let caller = serde_json::from_value::<AuthorizerContext>(json)
            .unwrap()
            .caller()
            .unwrap();
        assert_eq!(
            (caller.limits, caller.budget),
            (record.limits, record.budget)
        );
    }
}
