//! The scope catalog, presets and permission checks. The catalog lives in
//! [`CATALOG`] and nowhere else.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

/// Every resource and its actions. Scopes are `resource:action`.
pub const CATALOG: &[(&str, &[&str])] = &[
    ("runs", &["read", "write"]),
    ("agents", &["read", "write"]),
    ("conversations", &["read", "submit", "delete"]),
    ("metrics", &["read", "write", "delete"]),
    ("test-sets", &["read", "write"]),
    ("test-cases", &["read", "write"]),
    ("personas", &["read", "write", "delete"]),
    ("simulations", &["read", "write"]),
    ("traces", &["read", "write"]),
    ("dashboards", &["read", "write", "delete"]),
    ("scheduled-runs", &["read", "write", "delete"]),
    ("run-templates", &["read", "write", "delete"]),
    ("api-keys", &["read", "write", "delete"]),
];

/// The scope text that stands for full access in records and contexts.
pub const FULL_ACCESS: &str = "*";

/// Every scope of the catalog, as `&'static str`, in catalog order.
fn all_scopes() -> &'static [Scope] {
    static ALL: std::sync::LazyLock<Vec<Scope>> = std::sync::LazyLock::new(|| {
        CATALOG
            .iter()
            .flat_map(|(resource, actions)| {
                actions.iter().map(move |action| {
                    Scope(Box::leak(format!("{resource}:{action}").into_boxed_str()))
                })
            })
            .collect()
    });
    &ALL
}

/// One scope of the catalog. Exists only for catalog entries.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Scope(&'static str);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?}")]
pub struct UnknownScope(pub String);

impl Scope {
    pub fn parse(s: &str) -> Result<Self, UnknownScope> {
        all_scopes()
            .iter()
            .copied()
            .find(|scope| scope.0 == s)
            .ok_or_else(|| UnknownScope(s.to_owned()))
    }

    pub fn all() -> &'static [Scope] {
        all_scopes()
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }

    pub fn resource(self) -> &'static str {
        self.0.split_once(':').map_or(self.0, |(r, _)| r)
    }

    pub fn action(self) -> &'static str {
        self.0.split_once(':').map_or("", |(_, a)| a)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Named bundles of scopes a create call can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    ReadOnly,
    RunEvaluations,
    UploadConversations,
}

impl Preset {
    pub const ALL: [Preset; 3] = [
        Preset::ReadOnly,
        Preset::RunEvaluations,
        Preset::UploadConversations,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Preset::ReadOnly => "read_only",
            Preset::RunEvaluations => "run_evaluations",
            Preset::UploadConversations => "upload_conversations",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == s)
    }

    pub fn scopes(self) -> BTreeSet<Scope> {
        let named: &[&str] = match self {
            Preset::ReadOnly => {
                return Scope::all()
                    .iter()
                    .copied()
                    .filter(|s| s.action() == "read")
                    .collect();
            }
            Preset::RunEvaluations => &[
                "runs:read",
                "runs:write",
                "agents:read",
                "test-sets:read",
                "test-cases:read",
                "personas:read",
                "metrics:read",
                "run-templates:read",
                "simulations:read",
            ],
            Preset::UploadConversations => &["conversations:submit", "conversations:read"],
        };
        named.iter().filter_map(|s| Scope::parse(s).ok()).collect()
    }
}

/// What a key may do: everything, or a set of catalog scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permissions {
    /// Every scope, including ones added to the catalog later.
    Full,
    Scopes(BTreeSet<Scope>),
}

impl Permissions {
    pub fn covers(&self, scope: Scope) -> bool {
        match self {
            Permissions::Full => true,
            Permissions::Scopes(set) => set.contains(&scope),
        }
    }

    /// The scopes of `requested` this key does not hold; empty when it may grant them.
    /// Full access can only be granted by a full-access key.
    pub fn missing_for(&self, requested: &Permissions) -> Result<(), Escalation> {
        match (self, requested) {
            (Permissions::Full, _) => Ok(()),
            (Permissions::Scopes(_), Permissions::Full) => Err(Escalation::FullAccess),
            (Permissions::Scopes(held), Permissions::Scopes(wanted)) => {
                let missing: Vec<Scope> = wanted.difference(held).copied().collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(Escalation::Scopes(missing))
                }
            }
        }
    }

    /// `["*"]` for full access, else the sorted scope list.
    pub fn to_strings(&self) -> Vec<String> {
        match self {
            Permissions::Full => vec![FULL_ACCESS.to_owned()],
            Permissions::Scopes(set) => set.iter().map(|s| s.as_str().to_owned()).collect(),
        }
    }

    /// Inverse of [`Permissions::to_strings`]; fails on scopes not in the catalog.
    pub fn from_strings<S: AsRef<str>>(items: &[S]) -> Result<Self, UnknownScope> {
        if items.len() == 1 && items[0].as_ref() == FULL_ACCESS {
            return Ok(Permissions::Full);
        }
        items
            .iter()
            .map(|s| Scope::parse(s.as_ref()))
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Permissions::Scopes)
    }

    /// Space-separated form used in the authorizer context.
    pub fn to_context_string(&self) -> String {
        match self {
            Permissions::Full => FULL_ACCESS.to_owned(),
            Permissions::Scopes(set) => {
                let mut out = String::with_capacity(set.len() * 16);
                for (i, scope) in set.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(scope.as_str());
                }
                out
            }
        }
    }
}

/// A create call asked for more than the calling key holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Escalation {
    #[error("a key without full access cannot create a full-access key")]
    FullAccess,
    #[error("the calling key does not hold {}", list(.0))]
    Scopes(Vec<Scope>),
}

/// Scopes as `a:b, c:d`.
pub fn list(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(items: &[&str]) -> Permissions {
        Permissions::from_strings(items).unwrap()
    }

    /// PRODUCT.md's catalog table, row by row, as the contract states it.
    const CONTRACT_CATALOG: &str = "\
        runs | runs:read, runs:write
        agents | agents:read, agents:write
        conversations | conversations:read, conversations:submit, conversations:delete
        metrics | metrics:read, metrics:write, metrics:delete
        test-sets | test-sets:read, test-sets:write
        test-cases | test-cases:read, test-cases:write
        personas | personas:read, personas:write, personas:delete
        simulations | simulations:read, simulations:write
        traces | traces:read, traces:write
        dashboards | dashboards:read, dashboards:write, dashboards:delete
        scheduled-runs | scheduled-runs:read, scheduled-runs:write, scheduled-runs:delete
        run-templates | run-templates:read, run-templates:write, run-templates:delete
        api-keys | api-keys:read, api-keys:write, api-keys:delete";

    /// Every scope the contract's table lists, in its order.
    fn contract_scopes() -> impl Iterator<Item = &'static str> {
        CONTRACT_CATALOG
            .lines()
            .flat_map(|row| row.split(" | ").nth(1).unwrap_or("").split(", "))
    }

    #[test]
    fn the_catalog_is_the_contract_s_table() {
        let rows: Vec<String> = CATALOG
            .iter()
            .map(|(resource, actions)| {
                let scopes: Vec<String> =
                    actions.iter().map(|a| format!("{resource}:{a}")).collect();
                format!("{resource} | {}", scopes.join(", "))
            })
            .collect();
        let contract: Vec<&str> = CONTRACT_CATALOG.lines().map(str::trim).collect();
        assert_eq!(rows, contract);
        let all: Vec<&str> = Scope::all().iter().map(|s| s.as_str()).collect();
        let listed: Vec<&str> = contract_scopes().collect();
        assert_eq!(all, listed, "Scope::all() is the catalog, in order");
        assert_eq!(
            Scope::parse("runs:delete").unwrap_err(),
            UnknownScope("runs:delete".into())
        );
    }

    #[test]
    fn presets_are_the_contract_s() {
        let names = |p: Preset| Permissions::Scopes(p.scopes()).to_strings();
        let read_only: Vec<String> = contract_scopes()
            .filter(|s| s.ends_with(":read"))
            .map(str::to_owned)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(names(Preset::ReadOnly), read_only);
        assert_eq!(read_only.len(), 13);
        let mut run_evaluations = vec![
            "runs:read",
            "runs:write",
            "agents:read",
            "test-sets:read",
            "test-cases:read",
            "personas:read",
            "metrics:read",
            "run-templates:read",
            "simulations:read",
        ];
        run_evaluations.sort_unstable();
        assert_eq!(names(Preset::RunEvaluations), run_evaluations);
        assert_eq!(
            names(Preset::UploadConversations),
            vec!["conversations:read", "conversations:submit"]
        );
        assert_eq!(Preset::parse("read_only"), Some(Preset::ReadOnly));
        assert_eq!(Preset::parse("readonly"), None);
    }

    #[test]
    fn full_access_covers_everything_and_round_trips() {
        let full = scopes(&["*"]);
        assert_eq!(full, Permissions::Full);
        assert!(Scope::all().iter().all(|s| full.covers(*s)));
        assert_eq!(full.to_strings(), vec!["*"]);
    }

    #[test]
    fn escalation_names_the_missing_scopes() {
        let caller = scopes(&["api-keys:write", "api-keys:read", "runs:read"]);
        assert_eq!(
            caller.missing_for(&scopes(&["runs:write", "runs:read"])),
            Err(Escalation::Scopes(vec![
                Scope::parse("runs:write").unwrap()
            ]))
        );
        assert_eq!(
            caller.missing_for(&Permissions::Full),
            Err(Escalation::FullAccess)
        );
        assert_eq!(caller.missing_for(&scopes(&["runs:read"])), Ok(()));
        assert_eq!(Permissions::Full.missing_for(&Permissions::Full), Ok(()));
    }
}
