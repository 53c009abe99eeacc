//! The command line: every command, option and argument, with its help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

use crate::http_server::upstream::Upstream;
use crate::library::MAX_GRACE_SECS;

pub const DEFAULT_PORT: u16 = 8787;
pub const DEFAULT_DATA: &str = ".keygate";
pub const DEFAULT_ORG: &str = "default";

#[derive(Parser)]
#[command(
    name = "keygate",
    version,
    about = "API keys with scoped permissions for APIs behind AWS API Gateway"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the whole API and the console on 127.0.0.1, with the same authorizer and handlers as in Lambda.
    Serve(ServeArgs),
    /// Mint a full-access key for an organization, new or existing, straight into the store; prints only the key.
    ///
    /// This is also how a locked-out organization is recovered: whoever can
    /// write the store can mint it a new full-access key. The audit trail
    /// records it as a `bootstrap` event.
    Bootstrap(BootstrapArgs),
    /// Check a catalog file (your scopes, presets and routes), or what a change to one does.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Check the catalog's routes against your API.
    Routes {
        #[command(subcommand)]
        command: RoutesCommand,
    },
    /// Manage the DynamoDB tables.
    Table {
        #[command(subcommand)]
        command: TableCommand,
    },
    /// Manage API keys through the HTTP API.
    Keys {
        #[command(flatten)]
        api: ApiArgs,
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// List the organization's audit trail, newest first; or verify it.
    #[command(args_conflicts_with_subcommands = true)]
    Audit {
        #[command(subcommand)]
        command: Option<AuditCommand>,
        #[command(flatten)]
        list: AuditArgs,
    },
    /// Show the calling key's own record: organization, name, scopes, expiry.
    Whoami {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List the scope catalog and presets.
    Scopes {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Print a shell completion script (e.g. `keygate completions bash > /etc/bash_completion.d/keygate`).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Args)]
pub struct ServeArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// The catalog file: your scopes, presets and routes (default: KEYGATE_CATALOG, else the catalog keygate ships with).
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Organization created on first start with an empty store.
    #[arg(long, default_value = DEFAULT_ORG)]
    pub org: String,
    /// Your API's backend on this machine, for your own routes: allowed
    /// requests go to it, denied ones never do. http://HOST:PORT[/base] for a
    /// web server (the caller arrives in X-Keygate-* headers, the key does
    /// not), lambda+http://HOST:PORT for a Lambda function under the Runtime
    /// Interface Emulator (the payload-2.0 event). Loopback hosts only.
    #[arg(long, value_name = "URL", value_parser = Upstream::parse)]
    pub upstream: Option<Upstream>,
    /// What a request over its key's rate limit or quota gets: deny (403, as
    /// API Gateway answers an authorizer's deny) or defer (429 with
    /// Retry-After and RateLimit headers). Default: KEYGATE_LIMIT_MODE, else deny.
    #[arg(long, value_enum)]
    pub limit_mode: Option<LimitModeArg>,
    /// What a limited key's request gets when its use cannot be counted:
    /// closed (refused) or open (let through uncounted). Default:
    /// KEYGATE_LIMIT_FAILURE, else closed.
    #[arg(long, value_enum)]
    pub limit_failure: Option<LimitFailureArg>,
}

/// `--limit-mode`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LimitModeArg {
    Deny,
    Defer,
}

/// `--limit-failure`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LimitFailureArg {
    Closed,
    Open,
}

#[derive(Args)]
pub struct BootstrapArgs {
    /// Organization id: 1-64 of a-z, 0-9, '-' and '_'.
    #[arg(long)]
    pub org: String,
    /// Name of the new key.
    #[arg(long, default_value = "bootstrap")]
    pub name: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Args)]
pub struct StoreArgs {
    /// Directory of the embedded store (default ./.keygate).
    #[arg(long, conflicts_with = "table")]
    pub data: Option<PathBuf>,
    /// Use this DynamoDB keys table instead of the embedded store.
    #[arg(long)]
    pub table: Option<String>,
    /// The DynamoDB audit table (default: <table>-audit).
    #[arg(long, requires = "table")]
    pub audit_table: Option<String>,
    /// DynamoDB endpoint URL (default: the standard AWS environment).
    #[arg(long, requires = "table")]
    pub dynamodb_endpoint: Option<String>,
}

#[derive(Subcommand)]
pub enum CatalogCommand {
    /// Read a catalog file, report the first mistake (file, line, field), or summarize it.
    Check {
        /// The catalog file (default: KEYGATE_CATALOG, else the catalog keygate ships with).
        file: Option<PathBuf>,
    },
    /// Print the JSON Schema of a catalog file (docs/catalog.schema.json), for editors.
    Schema,
    /// What changing a catalog from OLD to NEW does to keys and routes.
    ///
    /// A scope taken out without being listed under [retired] is an error
    /// (exit 1): its name could come back with another meaning for keys that
    /// still hold it. A scope whose description changed, or that comes back
    /// out of [retired], is a warning: keys that hold it get the new meaning.
    Diff {
        /// The catalog as it is.
        old: PathBuf,
        /// The catalog as it would be.
        new: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum RoutesCommand {
    /// Every operation of your API has a rule in the catalog's [routes], and no rule names a route your API lacks.
    Check {
        /// Your API's OpenAPI document (YAML or JSON).
        #[arg(long, value_name = "FILE")]
        openapi: PathBuf,
        /// The catalog file (default: KEYGATE_CATALOG, else the catalog keygate ships with).
        #[arg(long, value_name = "FILE")]
        catalog: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum TableCommand {
    /// Bring tables written by an earlier keygate up to date: keys findable by name and type, each organization counted.
    ///
    /// Reads the whole keys table once (a consistent scan): run it once,
    /// after deploying this version (which adds the search indexes). Safe
    /// while the API serves: a key that changes meanwhile is already up to
    /// date, and an organization's counts are written only while nothing
    /// changed it since it was counted (else it is counted again, or named
    /// as left for another run, exit 1).
    Upgrade {
        /// Name of the keys table.
        #[arg(long)]
        table: String,
        /// The audit table (default: <table>-audit).
        #[arg(long)]
        audit_table: Option<String>,
        /// DynamoDB endpoint URL (default: the standard AWS environment).
        #[arg(long)]
        dynamodb_endpoint: Option<String>,
    },
    /// Create the keys table and the audit table with their GSIs and wait until they are active.
    Create {
        /// Name of the keys table.
        #[arg(long)]
        table: String,
        /// The audit table (default: <table>-audit).
        #[arg(long)]
        audit_table: Option<String>,
        /// DynamoDB endpoint URL (default: the standard AWS environment).
        #[arg(long)]
        dynamodb_endpoint: Option<String>,
    },
}

#[derive(Args)]
#[command(next_help_heading = "Connection")]
pub struct ApiArgs {
    /// Base URL of the keygate API.
    #[arg(long, env = "KEYGATE_API_URL", global = true, hide_env_values = true)]
    pub api_url: Option<String>,
    /// API key to call it with. Prefer KEYGATE_API_KEY or --api-key-file: other users of this machine can read command lines.
    #[arg(long, env = "KEYGATE_API_KEY", global = true, hide_env_values = true)]
    pub api_key: Option<String>,
    /// Read the API key from FILE, or from standard input with `-`.
    #[arg(long, global = true, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Allow a plain http:// URL to a host other than this machine (the key would cross the network unencrypted).
    #[arg(long, global = true)]
    pub allow_http: bool,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Args)]
pub struct AuditArgs {
    /// Only the events of this key (the key changed): its id, or its exact name.
    #[arg(long = "key", value_name = "KEY", conflicts_with = "actor")]
    pub key: Option<String>,
    /// Only the events this key made (the key that acted): its id, or its exact name.
    #[arg(long, value_name = "KEY")]
    pub actor: Option<String>,
    /// Only events recorded at or after WHEN: a time (2026-01-31T12:00:00Z), a date (midnight UTC) or a duration ago (24h, 7d).
    #[arg(long, value_name = "WHEN", value_parser = parse_since)]
    pub since: Option<String>,
    /// Only events recorded before WHEN: a time, a date (midnight UTC) or a duration ago.
    #[arg(long, value_name = "WHEN", value_parser = parse_since)]
    pub until: Option<String>,
    /// Only the events of this action.
    #[arg(long, value_enum)]
    pub action: Option<AuditAction>,
    /// Page size, 1-100.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: u32,
    /// Continue from a previous page's next_cursor.
    #[arg(long)]
    pub cursor: Option<String>,
    // Flattened last: its "Connection" help heading would otherwise head
    // the options after it too.
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check an organization's audit trail, straight from the store, against its hash chain.
    ///
    /// Every event carries its place in the trail and the hash of the one
    /// before it; the store keeps the chain's head. This reads every event
    /// and reports the first broken link: an event altered, removed (a gap,
    /// or the newest ones), or the oldest ones removed before their
    /// retention (KEYGATE_AUDIT_RETENTION_DAYS) ended. Prints the head
    /// (`SEQ:HASH`); each change also logs it, so a head from the logs can
    /// be checked with --expect. Exits 1 when the trail is broken.
    Verify(VerifyArgs),
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The organization whose trail to check.
    #[arg(long)]
    pub org: String,
    /// A head the trail must still contain, `SEQ:HASH`, e.g. from a function's log line "audit chain head".
    #[arg(long, value_name = "SEQ:HASH")]
    pub expect: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key; prints the full key once, and only it, on standard output.
    Create(CreateArgs),
    /// List keys, newest first; or find them by the start of a name, or by type and owner.
    List {
        /// Only the keys of this status.
        #[arg(long, value_enum, default_value_t = StatusFilter::All)]
        status: StatusFilter,
        /// Only keys whose name starts with this, whatever its case (listed A-Z).
        #[arg(long, conflicts_with_all = ["key_type", "owner"])]
        name: Option<String>,
        /// Only keys of this type.
        #[arg(long = "type", value_enum)]
        key_type: Option<KeyType>,
        /// Only user keys of this owner (the whole owner, whatever its case).
        #[arg(long)]
        owner: Option<String>,
        /// Page size, 1-100.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: u32,
        /// Continue from a previous page's next_cursor.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show one key.
    Get {
        /// The key: its id, or its exact name.
        key: String,
    },
    /// Rename a key (what it may do never changes); recorded in the audit trail.
    Rename {
        /// The key: its id, or its exact name.
        key: String,
        /// Its new name, 1-100 characters.
        name: String,
    },
    /// Change a key's name or description (at least one); recorded in the audit trail.
    Edit {
        /// The key: its id, or its exact name.
        key: String,
        /// Its new name, 1-100 characters.
        #[arg(long)]
        name: Option<String>,
        /// Its new description, up to 500 characters.
        #[arg(long, value_name = "TEXT", conflicts_with = "no_description")]
        description: Option<String>,
        /// Remove its description.
        #[arg(long)]
        no_description: bool,
    },
    /// Suspend an active key (reversible).
    Suspend {
        /// The key: its id, or its exact name.
        key: String,
    },
    /// Reactivate a suspended key.
    Reactivate {
        /// The key: its id, or its exact name.
        key: String,
    },
    /// Replace a key by a new one with the same name, scopes and expiry; prints the new key once, and only it, on standard output.
    Rotate {
        /// The key: its id, or its exact name.
        key: String,
        /// How long the old key keeps working: 0 (revoke it now, the default) up to 7d, e.g. 30m, 24h.
        #[arg(long, default_value = "0", value_parser = parse_grace)]
        grace: u32,
        /// Why (recorded on the old key and in the audit trail).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Revoke a key for good; asks first on a terminal.
    Revoke {
        /// The key: its id, or its exact name.
        key: String,
        /// Why (recorded on the key and in the audit trail).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        confirm: Confirm,
    },
    /// Delete a key's record (its audit trail stays); asks first on a terminal.
    Delete {
        /// The key: its id, or its exact name.
        key: String,
        #[command(flatten)]
        confirm: Confirm,
    },
    /// Set, change or remove a key's rate limit and quota (the others stay as they are).
    Limits {
        /// The key: its id, or its exact name.
        key: String,
        #[command(flatten)]
        limits: LimitArgs,
        /// Remove its rate limit.
        #[arg(long, conflicts_with = "rate")]
        no_rate: bool,
        /// Remove its quota.
        #[arg(long, conflicts_with = "quota")]
        no_quota: bool,
    },
    /// Show a key's usage: each limit's count, what is left and when it resets.
    Usage {
        /// The key: its id, or its exact name.
        key: String,
    },
    /// Set the usage counts of a key's budget back to zero; asks first on a terminal.
    ResetUsage {
        /// The key: its id, or its exact name.
        key: String,
        #[command(flatten)]
        confirm: Confirm,
    },
}

/// A key's usage limits, as flags.
#[derive(Args, Debug, Clone, Default)]
pub struct LimitArgs {
    /// At most N requests per window (sliding), e.g. 100/1m, 10/1s, 5000/1h, 100000/1d; a bare window is seconds (100/60).
    #[arg(long, value_name = "N/WINDOW", value_parser = parse_rate)]
    pub rate: Option<(u64, u64)>,
    /// At most N requests per calendar day or month (UTC), e.g. 10000/day, 1000000/month.
    #[arg(long, value_name = "N/PERIOD", value_parser = parse_quota)]
    pub quota: Option<(u64, String)>,
}

/// `--rate N/WINDOW`: a number of requests and a window of 1 s to 1 day.
fn parse_rate(text: &str) -> Result<(u64, u64), String> {
    let (requests, window) = text
        .split_once('/')
        .ok_or_else(|| "expected N/WINDOW, e.g. 100/1m or 10/1s".to_owned())?;
    let requests = requests
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=1_000_000_000).contains(n))
        .ok_or_else(|| format!("{requests:?} is not a number of requests from 1 to 1000000000"))?;
    let window = window.trim();
    let secs = match window.parse::<u64>() {
        Ok(secs) => secs,
        Err(_) => humantime::parse_duration(window)
            .map_err(|e| format!("{e} (a window such as 1s, 1m, 1h, 1d)"))?
            .as_secs(),
    };
    if !(1..=86_400).contains(&secs) {
        return Err(format!(
            "the window must be 1 second to 1 day, not {window}"
        ));
    }
    Ok((requests, secs))
}

/// `--quota N/PERIOD`: a number of requests per day or month.
fn parse_quota(text: &str) -> Result<(u64, String), String> {
    let (requests, period) = text
        .split_once('/')
        .ok_or_else(|| "expected N/day or N/month, e.g. 10000/day".to_owned())?;
    let requests = requests
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=1_000_000_000_000).contains(n))
        .ok_or_else(|| {
            format!("{requests:?} is not a number of requests from 1 to 1000000000000")
        })?;
    match period.trim() {
        p @ ("day" | "month") => Ok((requests, p.to_owned())),
        other => Err(format!("{other:?} is not day or month")),
    }
}

#[derive(Args)]
pub struct Confirm {
    /// Do not ask for confirmation; needed when standard input is not a terminal.
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Args)]
pub struct CreateArgs {
    /// Name of the key, 1-100 characters.
    #[arg(long)]
    pub name: String,
    /// What the key is for, up to 500 characters.
    #[arg(long)]
    pub description: Option<String>,
    /// Who uses the key.
    #[arg(long = "type", value_enum, default_value_t = KeyType::Service)]
    pub key_type: KeyType,
    /// The person a user key belongs to, e.g. an email address (user keys only).
    #[arg(long)]
    pub owner: Option<String>,
    /// Comma-separated scopes; default full access.
    #[arg(long, value_delimiter = ',', conflicts_with = "preset")]
    pub scopes: Vec<String>,
    /// A preset of the catalog, e.g. read_only, run_evaluations or upload_conversations (`keygate scopes` lists them).
    #[arg(long)]
    pub preset: Option<String>,
    /// When the key stops working: a time (2030-01-31T00:00:00Z), a date (2030-01-31, midnight UTC) or a duration from now (30d, 90d, 12h). Default: never, or the calling key's own expiry.
    #[arg(long, value_name = "WHEN", value_parser = parse_expiry)]
    pub expires_at: Option<String>,
    /// Usage limits. Default: none, or, when your key has limits, your key's (its keys draw on its budget).
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Who uses a key.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyType {
    /// For automated systems.
    Service,
    /// For one person, named by --owner.
    User,
}

/// Which keys a list shows.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusFilter {
    /// Every key.
    All,
    /// Keys that work (unless expired).
    Active,
    /// Keys stopped for now; they can be reactivated.
    Suspended,
    /// Keys stopped for good.
    Revoked,
}

/// What an audit event records.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AuditAction {
    Create,
    Rotate,
    Suspend,
    Reactivate,
    Revoke,
    Delete,
    /// A full-access key minted straight into the store.
    Bootstrap,
    /// A key's rate limit or quota set, changed or removed.
    #[value(name = "set_limits")]
    SetLimits,
    /// A budget's usage counts set back to zero.
    #[value(name = "reset_usage")]
    ResetUsage,
    /// A new name or description.
    Update,
}

/// Each value as the API spells it, which is as the command line does.
macro_rules! display_as_on_the_command_line {
    ($($name:ty),*) => {$(
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.to_possible_value() {
                    Some(value) => f.write_str(value.get_name()),
                    None => Ok(()),
                }
            }
        }
    )*};
}
display_as_on_the_command_line!(KeyType, StatusFilter, AuditAction);

/// An expiry, as the RFC 3339 UTC time the API takes: a time, a date
/// (midnight UTC at its start) or a duration from now; in the future.
fn parse_expiry(text: &str) -> Result<String, String> {
    let now = OffsetDateTime::now_utc();
    let at = if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        at
    } else if let Ok(date) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        date.midnight().assume_utc()
    } else if let Ok(duration) = humantime::parse_duration(text) {
        time::Duration::try_from(duration)
            .ok()
            .and_then(|d| now.checked_add(d))
            .ok_or_else(|| "that is too far in the future".to_owned())?
    } else {
        return Err(
            "expected a time (2030-01-31T00:00:00Z), a date (2030-01-31) or a duration from now \
             (30d, 90d, 12h)"
                .into(),
        );
    };
    if at <= now {
        return Err("that is in the past".into());
    }
    at.to_offset(UtcOffset::UTC)
        .replace_nanosecond(0)
        .map_err(|e| e.to_string())?
        .format(&Rfc3339)
        .map_err(|e| e.to_string())
}

/// A time in the past, as the RFC 3339 UTC time the API takes: a time, a
/// date (midnight UTC at its start) or a duration before now.
fn parse_since(text: &str) -> Result<String, String> {
    let at = if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        at
    } else if let Ok(date) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        date.midnight().assume_utc()
    } else if let Ok(duration) = humantime::parse_duration(text) {
        time::Duration::try_from(duration)
            .ok()
            .and_then(|d| OffsetDateTime::now_utc().checked_sub(d))
            .ok_or_else(|| "that is too far in the past".to_owned())?
    } else {
        return Err(
            "expected a time (2026-01-31T12:00:00Z), a date (2026-01-31) or a duration ago \
             (24h, 7d)"
                .into(),
        );
    };
    at.to_offset(UtcOffset::UTC)
        .replace_nanosecond(0)
        .map_err(|e| e.to_string())?
        .format(&Rfc3339)
        .map_err(|e| e.to_string())
}

/// A grace period: seconds, or a duration such as `30m`, `24h`, `7d`.
fn parse_grace(text: &str) -> Result<u32, String> {
    let secs = match text.parse::<u64>() {
        Ok(secs) => secs,
        Err(_) => humantime::parse_duration(text)
            .map_err(|e| format!("{e} (e.g. 0, 3600, 30m, 24h, 7d)"))?
            .as_secs(),
    };
    u32::try_from(secs)
        .ok()
        .filter(|s| *s <= MAX_GRACE_SECS)
        .ok_or_else(|| format!("at most 7 days ({MAX_GRACE_SECS} seconds)"))
}
