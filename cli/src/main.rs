//! The `keygate` command: run the API locally, mint first keys, create the
//! DynamoDB tables, and manage keys through the HTTP API.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use keygate::app::App;
use keygate::domain::org::OrgId;
use keygate::runtime::config::Settings;
use keygate::store::dynamodb::Tables;
use keygate::store::{AnyStore, DynamoDbStore, EmbeddedStore, Store};
use serde_json::{Value, json};

mod client;
mod serve;

const DEFAULT_PORT: u16 = 8787;
const DEFAULT_DATA: &str = ".keygate";
const DEFAULT_ORG: &str = "default";

#[derive(Parser)]
#[command(
    name = "keygate",
    version,
    about = "API keys with scoped permissions for APIs behind AWS API Gateway"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole API and the console on 127.0.0.1, with the same authorizer and handlers as in Lambda.
    Serve {
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = DEFAULT_PORT)]
        port: u16,
        #[command(flatten)]
        store: StoreArgs,
        /// Organization created on first start with an empty store.
        #[arg(long, default_value = DEFAULT_ORG)]
        org: String,
    },
    /// Mint a full-access key for an organization, new or existing, straight into the store; prints only the key.
    ///
    /// This is also how a locked-out organization is recovered: whoever can
    /// write the store can mint it a new full-access key. The audit trail
    /// records it as a `bootstrap` event.
    Bootstrap {
        /// Organization id: 1-64 of a-z, 0-9, '-' and '_'.
        #[arg(long)]
        org: String,
        /// Name of the new key.
        #[arg(long, default_value = "bootstrap")]
        name: String,
        #[command(flatten)]
        store: StoreArgs,
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
    /// List the organization's audit trail, newest first.
    Audit {
        #[command(flatten)]
        api: ApiArgs,
        /// Only the events of this key (a key id).
        #[arg(long = "key", value_name = "ID")]
        key_id: Option<String>,
        /// Only this action: create, rotate, suspend, reactivate, revoke, delete or bootstrap.
        #[arg(long)]
        action: Option<String>,
        /// Page size, 1-100.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Continue from a previous page's next_cursor.
        #[arg(long)]
        cursor: Option<String>,
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
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Args)]
struct StoreArgs {
    /// Directory of the embedded store (default ./.keygate).
    #[arg(long, conflicts_with = "table")]
    data: Option<PathBuf>,
    /// Use this DynamoDB keys table instead of the embedded store.
    #[arg(long)]
    table: Option<String>,
    /// The DynamoDB audit table (default: <table>-audit).
    #[arg(long, requires = "table")]
    audit_table: Option<String>,
    /// DynamoDB endpoint URL (default: the standard AWS environment).
    #[arg(long, requires = "table")]
    dynamodb_endpoint: Option<String>,
}

#[derive(Subcommand)]
enum TableCommand {
    /// Create the keys table and the audit table with their GSIs and wait until they are active.
    Create {
        #[arg(long)]
        table: String,
        /// The audit table (default: <table>-audit).
        #[arg(long)]
        audit_table: Option<String>,
        #[arg(long)]
        dynamodb_endpoint: Option<String>,
    },
}

#[derive(Args)]
struct ApiArgs {
    /// Base URL of the keygate API.
    #[arg(long, env = "KEYGATE_API_URL", global = true, hide_env_values = true)]
    api_url: Option<String>,
    /// API key to call it with. Prefer KEYGATE_API_KEY or --api-key-file: other users of this machine can read command lines.
    #[arg(long, env = "KEYGATE_API_KEY", global = true, hide_env_values = true)]
    api_key: Option<String>,
    /// Read the API key from FILE, or from standard input with `-`.
    #[arg(long, global = true, value_name = "FILE")]
    api_key_file: Option<PathBuf>,
    /// Allow a plain http:// URL to a host other than this machine (the key would cross the network unencrypted).
    #[arg(long, global = true)]
    allow_http: bool,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key; prints the full key once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// service (automated systems) or user (one person; needs --owner).
        #[arg(long = "type", default_value = "service")]
        key_type: String,
        #[arg(long)]
        owner: Option<String>,
        /// Comma-separated scopes; default full access.
        #[arg(long, value_delimiter = ',', conflicts_with = "preset")]
        scopes: Vec<String>,
        /// read_only, run_evaluations or upload_conversations.
        #[arg(long)]
        preset: Option<String>,
        /// RFC 3339 expiry, e.g. 2030-01-31T00:00:00Z (default: never, or the calling key's own expiry).
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List keys, newest first.
    List {
        /// all, active, suspended or revoked.
        #[arg(long, default_value = "all")]
        status: String,
        /// Page size, 1-100.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Continue from a previous page's next_cursor.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show one key.
    Get { id: String },
    /// Suspend an active key (reversible).
    Suspend { id: String },
    /// Reactivate a suspended key.
    Reactivate { id: String },
    /// Replace a key by a new one with the same name, scopes and expiry; prints the new key once.
    Rotate {
        id: String,
        /// How long the old key keeps working: 0 (revoke it now, the default) up to 7d, e.g. 30m, 24h.
        #[arg(long, default_value = "0", value_parser = parse_grace)]
        grace: u32,
        /// Why (recorded on the old key and in the audit trail).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Revoke a key for good.
    Revoke {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Delete a key's record (its audit trail stays).
    Delete { id: String },
}

/// A grace period: seconds, or a duration such as `30m`, `24h`, `7d`.
fn parse_grace(text: &str) -> Result<u32, String> {
    let secs = match text.parse::<u64>() {
        Ok(secs) => secs,
        Err(_) => humantime::parse_duration(text)
            .map_err(|e| format!("{e} (e.g. 0, 3600, 30m, 24h, 7d)"))?
            .as_secs(),
    };
    let max = keygate::domain::lifecycle::MAX_GRACE_SECS;
    u32::try_from(secs)
        .ok()
        .filter(|s| *s <= max)
        .ok_or_else(|| format!("at most 7 days ({max} seconds)"))
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if key_from_command_line(&matches) {
        eprintln!(
            "keygate: warning: --api-key puts the key on the command line, where other users of \
             this machine can read it (ps, /proc); use KEYGATE_API_KEY or --api-key-file instead"
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    let result = match cli.command {
        Command::Serve { port, store, org } => runtime.block_on(serve_command(port, store, &org)),
        Command::Bootstrap { org, name, store } => {
            runtime.block_on(bootstrap_command(&org, &name, store))
        }
        Command::Table {
            command:
                TableCommand::Create {
                    table,
                    audit_table,
                    dynamodb_endpoint,
                },
        } => runtime.block_on(create_tables(
            &table,
            audit_table,
            dynamodb_endpoint.as_deref(),
        )),
        Command::Keys { api, command } => keys_command(&api, command),
        Command::Audit {
            api,
            key_id,
            action,
            limit,
            cursor,
        } => audit_command(&api, key_id, action, limit, cursor),
        Command::Whoami { api } => whoami_command(&api),
        Command::Scopes { api } => scopes_command(&api),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "keygate",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

/// Whether `--api-key` was given on the command line (not from the environment).
fn key_from_command_line(matches: &ArgMatches) -> bool {
    let mut current = Some(matches);
    while let Some(m) = current {
        if m.try_contains_id("api_key").unwrap_or(false)
            && m.value_source("api_key") == Some(ValueSource::CommandLine)
        {
            return true;
        }
        current = m.subcommand().map(|(_, sub)| sub);
    }
    false
}

fn fail(message: &str) -> ExitCode {
    eprintln!("keygate: {message}");
    ExitCode::FAILURE
}

fn settings() -> Result<Settings, String> {
    Settings::from_env().map_err(|e| e.to_string())
}

/// The keys table `table` and its audit table: `--audit-table`, else `<table>-audit`.
fn tables(table: &str, audit_table: Option<String>) -> Tables {
    let mut tables = Tables::named(table);
    if let Some(audit) = audit_table {
        tables.audit = audit;
    }
    tables
}

async fn open_store(args: StoreArgs, settings: &Settings) -> Result<AnyStore, String> {
    let retention = settings.audit_retention_days;
    match args.table {
        Some(table) => {
            let client = keygate::store::dynamodb::client(
                args.dynamodb_endpoint.as_deref(),
                settings.timeouts,
            )
            .await;
            let tables = tables(&table, args.audit_table);
            Ok(AnyStore::DynamoDb(
                DynamoDbStore::new(client, &tables).with_audit_retention(retention),
            ))
        }
        None => {
            let dir = args.data.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA));
            EmbeddedStore::open(&dir)
                .map(|s| AnyStore::Embedded(s.with_audit_retention(retention)))
                .map_err(|e| e.to_string())
        }
    }
}

fn init_local_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn serve_command(port: u16, store: StoreArgs, org: &str) -> Result<(), String> {
    init_local_tracing();
    let org = OrgId::new(org).map_err(|e| e.to_string())?;
    let settings = settings()?;
    let keys = settings.key_format().await.map_err(|e| e.to_string())?;
    let store = open_store(store, &settings).await?;
    let app = Arc::new(App::new(store, keys).with_routes(settings.routes));
    if app.store.is_empty().await.map_err(|e| e.to_string())? {
        let (_, key) = app
            .mint_root_key(&org, "root")
            .await
            .map_err(|e| e.to_string())?;
        println!(
            "keygate: new store; created organization \"{org}\" and its first full-access key."
        );
        println!("keygate: it is shown only this once, so store it now:");
        println!("{}", key.expose());
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("keygate: console at http://{addr}/ (API under /v1, OpenAPI at /openapi.json)");
    println!("keygate: listening on http://{addr}");
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    serve::run(app, listener, shutdown)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("keygate: stopped");
    Ok(())
}

async fn bootstrap_command(org: &str, name: &str, store: StoreArgs) -> Result<(), String> {
    let org = OrgId::new(org).map_err(|e| e.to_string())?;
    let settings = settings()?;
    let keys = settings.key_format().await.map_err(|e| e.to_string())?;
    let store = open_store(store, &settings).await?;
    let app = App::new(store, keys);
    let (_, key) = app
        .mint_root_key(&org, name)
        .await
        .map_err(|e| e.to_string())?;
    println!("{}", key.expose());
    Ok(())
}

async fn create_tables(
    table: &str,
    audit_table: Option<String>,
    endpoint: Option<&str>,
) -> Result<(), String> {
    let settings = settings()?;
    let client = keygate::store::dynamodb::client(endpoint, settings.timeouts).await;
    let tables = tables(table, audit_table);
    DynamoDbStore::new(client, &tables)
        .create_tables()
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "keygate: tables {} and {} are active",
        tables.keys, tables.audit
    );
    Ok(())
}

/// The API key: from `--api-key-file` (a file, or standard input with `-`),
/// else `--api-key` / `KEYGATE_API_KEY`.
fn api_key(api: &ApiArgs) -> Result<String, String> {
    let from_file = match &api.api_key_file {
        Some(path) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read the API key from standard input: {e}"))?;
            Some(text)
        }
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the API key from {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let key = match from_file {
        Some(text) => text.trim().to_owned(),
        None => api
            .api_key
            .clone()
            .ok_or("set KEYGATE_API_KEY, or pass --api-key-file FILE (or - for standard input)")?,
    };
    if key.is_empty() {
        return Err("the API key is empty".into());
    }
    Ok(key)
}

/// A client of the configured API with `key` (read once: standard input
/// cannot be read twice).
fn api_client_with(api: &ApiArgs, key: &str) -> Result<client::Client, String> {
    let url = api
        .api_url
        .as_deref()
        .ok_or("set KEYGATE_API_URL or pass --api-url")?;
    client::Client::new(url, key, api.allow_http)
}

fn api_client(api: &ApiArgs) -> Result<client::Client, String> {
    if api.api_url.is_none() {
        return Err("set KEYGATE_API_URL or pass --api-url".into());
    }
    api_client_with(api, &api_key(api)?)
}

fn escape(part: &str) -> String {
    form_urlencoded::byte_serialize(part.as_bytes()).collect()
}

fn key_path(id: &str, action: &str) -> String {
    format!("/v1/api-keys/{}{action}", escape(id))
}

fn query_string(pairs: Vec<(&str, String)>) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Print a new key's record, then the key itself once (stdout), with the
/// warning to store it (stderr).
fn print_new_key(api: &ApiArgs, created: &Value) {
    if api.json {
        println!("{created:#}");
    } else {
        print!("{}", client::render_record(created));
        eprintln!();
        eprintln!("This is the only time the key is shown. Store it somewhere safe now:");
        println!("{}", created["key"].as_str().unwrap_or_default());
    }
}

fn keys_command(api: &ApiArgs, command: KeysCommand) -> Result<(), String> {
    let client = api_client(api)?;
    let call = |method: &str, path: &str, body: Option<Value>| {
        client.call(method, path, body).map_err(|e| e.0)
    };
    let print_record = |value: &Value| {
        if api.json {
            println!("{value:#}");
        } else {
            print!("{}", client::render_record(value));
        }
    };
    match command {
        KeysCommand::Create {
            name,
            description,
            key_type,
            owner,
            scopes,
            preset,
            expires_at,
        } => {
            let permissions = match (preset, scopes.is_empty()) {
                (Some(p), _) => json!({ "preset": p }),
                (None, false) => json!(scopes),
                (None, true) => json!("full"),
            };
            let body = json!({
                "name": name,
                "description": description,
                "key_type": key_type,
                "owner": owner,
                "permissions": permissions,
                "expires_at": expires_at,
            });
            print_new_key(api, &call("POST", "/v1/api-keys", Some(body))?);
        }
        KeysCommand::List {
            status,
            limit,
            cursor,
        } => {
            let mut query = vec![("status", status.clone()), ("limit", limit.to_string())];
            if let Some(c) = cursor {
                query.push(("cursor", c));
            }
            let page = call(
                "GET",
                &format!("/v1/api-keys?{}", query_string(query)),
                None,
            )?;
            if api.json {
                println!("{page:#}");
            } else {
                let records = page["data"].as_array().cloned().unwrap_or_default();
                print!("{}", client::render_table(&records));
                if let Some(next) = page["next_cursor"].as_str() {
                    println!(
                        "more: keygate keys list --status {status} --limit {limit} --cursor {next}"
                    );
                }
            }
        }
        KeysCommand::Get { id } => print_record(&call("GET", &key_path(&id, ""), None)?),
        KeysCommand::Suspend { id } => {
            print_record(&call("POST", &key_path(&id, "/suspend"), None)?)
        }
        KeysCommand::Reactivate { id } => {
            print_record(&call("POST", &key_path(&id, "/reactivate"), None)?)
        }
        KeysCommand::Rotate { id, grace, reason } => {
            let body = json!({ "grace_period_seconds": grace, "reason": reason });
            let successor = call("POST", &key_path(&id, "/rotate"), Some(body))?;
            if !api.json {
                let old = if grace == 0 {
                    "revoked now".to_owned()
                } else {
                    format!(
                        "keeps working for {}",
                        humantime::format_duration(Duration::from_secs(u64::from(grace)))
                    )
                };
                eprintln!("Rotated {id}: the old key {old}; the new key follows.");
            }
            print_new_key(api, &successor);
        }
        KeysCommand::Revoke { id, reason } => print_record(&call(
            "POST",
            &key_path(&id, "/revoke"),
            Some(json!({ "reason": reason })),
        )?),
        KeysCommand::Delete { id } => {
            call("DELETE", &key_path(&id, ""), None)?;
            if api.json {
                println!("{}", json!({ "deleted": id }));
            } else {
                println!("deleted {id}");
            }
        }
    }
    Ok(())
}

fn audit_command(
    api: &ApiArgs,
    key_id: Option<String>,
    action: Option<String>,
    limit: u32,
    cursor: Option<String>,
) -> Result<(), String> {
    let client = api_client(api)?;
    let mut query = vec![("limit", limit.to_string())];
    let mut more = format!("keygate audit --limit {limit}");
    if let Some(k) = key_id {
        more.push_str(&format!(" --key {k}"));
        query.push(("key_id", k));
    }
    if let Some(a) = action {
        more.push_str(&format!(" --action {a}"));
        query.push(("action", a));
    }
    if let Some(c) = cursor {
        query.push(("cursor", c));
    }
    let page = client
        .call(
            "GET",
            &format!("/v1/audit-events?{}", query_string(query)),
            None,
        )
        .map_err(|e| e.0)?;
    if api.json {
        println!("{page:#}");
    } else {
        let events = page["data"].as_array().cloned().unwrap_or_default();
        print!("{}", client::render_events(&events));
        if let Some(next) = page["next_cursor"].as_str() {
            println!("more: {more} --cursor {next}");
        }
    }
    Ok(())
}

fn whoami_command(api: &ApiArgs) -> Result<(), String> {
    let key = api_key(api)?;
    let id = keygate::domain::id::KeyId::in_key(&key)
        .ok_or("the API key is not a keygate key (expected <prefix>_ and 65 letters or digits)")?
        .to_string();
    let client = api_client_with(api, &key)?;
    let record = client.call("GET", &key_path(&id, ""), None).map_err(|e| {
        if e.0.starts_with("403") {
            format!(
                "{}; the key {id} is valid only if it holds api-keys:read, which reading its \
                     own record needs",
                e.0
            )
        } else {
            e.0
        }
    })?;
    if api.json {
        println!("{record:#}");
    } else {
        print!("{}", client::render_record(&record));
    }
    Ok(())
}

fn scopes_command(api: &ApiArgs) -> Result<(), String> {
    let catalog = api_client(api)?
        .call("GET", "/v1/scopes", None)
        .map_err(|e| e.0)?;
    if api.json {
        println!("{catalog:#}");
    } else {
        print!("{}", client::render_scopes(&catalog));
    }
    Ok(())
}
