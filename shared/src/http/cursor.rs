//! The opaque pagination cursor of every list: which organization and
//! filter it belongs to and the last id served, with a CRC, so a cursor
//! from another org or filter, or a damaged one, is a 400 and never a wrong
//! page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::audit::{AuditAction, EventFilter};
use crate::domain::id::KeyId;
use crate::domain::org::OrgId;

/// The opaque pagination cursor: which org and filter it belongs to and the
/// last id served, with a CRC so a damaged cursor is a 400, not a wrong page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub org: OrgId,
    /// The list and filter it continues, e.g. `active` or `events:<key>:`.
    pub scope: String,
    /// The last id served (a key id or an event id).
    pub after: u128,
    /// A search's sort key of the last key served (lists ordered by
    /// something else than id continue after it).
    pub after_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("cursor is not one keygate issued")]
    Malformed,
    #[error("cursor belongs to another organization")]
    OtherOrg,
    #[error("cursor was issued for another filter; repeat the filter it was issued with")]
    OtherFilter,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let mut payload = format!(
            "{}|{}|{}|{}",
            if self.after_key.is_some() { 2 } else { 1 },
            self.org.as_str(),
            self.scope,
            KeyId::from_u128(self.after)
        );
        if let Some(key) = &self.after_key {
            payload.push('|');
            payload.push_str(&URL_SAFE_NO_PAD.encode(key));
        }
        let crc = crc32fast::hash(payload.as_bytes());
        URL_SAFE_NO_PAD.encode(format!("{payload}|{crc:08x}"))
    }

    /// Decode a cursor and check that it belongs to this caller and filter.
    pub fn decode(text: &str, org: &OrgId, scope: &str) -> Result<Self, CursorError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| CursorError::Malformed)?;
        let text = String::from_utf8(bytes).map_err(|_| CursorError::Malformed)?;
        let (payload, crc) = text.rsplit_once('|').ok_or(CursorError::Malformed)?;
        if format!("{:08x}", crc32fast::hash(payload.as_bytes())) != crc {
            return Err(CursorError::Malformed);
        }
        let mut parts = payload.split('|');
        let (Some(version), Some(org_text), Some(scope_text), Some(id_text)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CursorError::Malformed);
        };
        let after_key = match (version, parts.next(), parts.next()) {
            ("1", None, None) => None,
            ("2", Some(key), None) => Some(
                URL_SAFE_NO_PAD
                    .decode(key)
                    .ok()
                    .and_then(|k| String::from_utf8(k).ok())
                    .ok_or(CursorError::Malformed)?,
            ),
            _ => return Err(CursorError::Malformed),
        };
        let cursor_org = OrgId::new(org_text).map_err(|_| CursorError::Malformed)?;
        let after = KeyId::parse(id_text)
            .map_err(|_| CursorError::Malformed)?
            .as_u128();
        if &cursor_org != org {
            return Err(CursorError::OtherOrg);
        }
        if scope_text != scope {
            return Err(CursorError::OtherFilter);
        }
        Ok(Cursor {
            org: cursor_org,
            scope: scope_text.to_owned(),
            after,
            after_key,
        })
    }
}

/// The scope a list of events binds its cursor to: its filter.
pub fn events_scope(filter: &EventFilter) -> String {
    let id = |k: Option<KeyId>| k.map(|k| k.to_string()).unwrap_or_default();
    let mut scope = format!(
        "events:{}:{}",
        id(filter.key_id),
        filter.action.map(AuditAction::as_str).unwrap_or_default()
    );
    // Only filters given add to it, so the cursors of the original filters
    // keep their form.
    if filter.actor.is_some() || filter.since.is_some() || filter.until.is_some() {
        let time =
            |t: Option<crate::domain::id::EventId>| t.map(|t| t.to_string()).unwrap_or_default();
        scope.push_str(&format!(
            ":{}:{}:{}",
            id(filter.actor),
            time(filter.since),
            time(filter.until)
        ));
    }
    scope
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(s: &str) -> OrgId {
        OrgId::new(s).unwrap()
    }

    #[test]
    fn cursors_round_trip_and_are_bound_to_org_and_filter() {
        let c = Cursor {
            org: org("acme"),
            scope: "active".into(),
            after: 42,
            after_key: None,
        };
        let text = c.encode();
        assert_eq!(Cursor::decode(&text, &org("acme"), "active"), Ok(c.clone()));
        assert_eq!(
            Cursor::decode(&text, &org("other"), "active"),
            Err(CursorError::OtherOrg)
        );
        assert_eq!(
            Cursor::decode(&text, &org("acme"), "all"),
            Err(CursorError::OtherFilter)
        );
        for bad in ["", "!!!", &text[1..], &format!("{text}A")] {
            assert!(
                Cursor::decode(bad, &org("acme"), "active").is_err(),
                "{bad}"
            );
        }
        // A search's cursor carries the sort key it stopped at, whatever it holds.
        let search = Cursor {
            after_key: Some("ci|deployer\u{1}0zZ".into()),
            ..c
        };
        let text = search.encode();
        assert_eq!(Cursor::decode(&text, &org("acme"), "active"), Ok(search));
    }
}
