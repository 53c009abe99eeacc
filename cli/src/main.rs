//! The `keygate` command: run the API locally, mint first keys, create the
//! DynamoDB table, and manage keys through the HTTP API.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use keygate::api::App;
use keygate::config::Settings;
use keygate::model::OrgId;
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
    /// Run the whole API on 127.0.0.1 with the same authorizer and handlers as in Lambda.
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
    /// Mint a full-access key for an organization straight into the store; prints only the key.
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
    /// Manage the DynamoDB table.
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
    /// List the scope catalog and presets.
    Scopes {
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Args)]
struct StoreArgs {
    /// Directory of the embedded store (default ./.keygate).
    #[arg(long, conflicts_with = "table")]
    data: Option<PathBuf>,
    /// Use this DynamoDB table instead of the embedded store.
    #[arg(long)]
    table: Option<String>,
    /// DynamoDB endpoint URL (default: the standard AWS environment).
    #[arg(long, requires = "table")]
    dynamodb_endpoint: Option<String>,
}

#[derive(Subcommand)]
enum TableCommand {
    /// Create the keys table with its GSIs and wait until it is active.
    Create {
        #[arg(long)]
        table: String,
        #[arg(long)]
        dynamodb_endpoint: Option<String>,
    },
}

#[derive(Args)]
struct ApiArgs {
    /// Base URL of the keygate API.
    #[arg(long, env = "KEYGATE_API_URL", global = true, hide_env_values = true)]
    api_url: Option<String>,
    /// API key to call it with (needs api-keys scopes).
    #[arg(long, env = "KEYGATE_API_KEY", global = true, hide_env_values = true)]
    api_key: Option<String>,
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
        /// RFC 3339 expiry, e.g. 2030-01-31T00:00:00Z.
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
    /// Revoke a key for good.
    Revoke {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Delete a key's record.
    Delete { id: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
                    dynamodb_endpoint,
                },
        } => runtime.block_on(create_table(&table, dynamodb_endpoint.as_deref())),
        Command::Keys { api, command } => keys_command(&api, command),
        Command::Scopes { api } => scopes_command(&api),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("keygate: {message}");
    ExitCode::FAILURE
}

fn settings() -> Result<Settings, String> {
    Settings::from_env().map_err(|e| e.to_string())
}

async fn open_store(args: StoreArgs, settings: &Settings) -> Result<AnyStore, String> {
    match args.table {
        Some(table) => {
            let client =
                DynamoDbStore::client(args.dynamodb_endpoint.as_deref(), settings.timeouts, None)
                    .await;
            Ok(AnyStore::DynamoDb(DynamoDbStore::new(client, &table)))
        }
        None => {
            let dir = args.data.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA));
            EmbeddedStore::open(&dir)
                .map(AnyStore::Embedded)
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
    let org = OrgId::new(org)?;
    let settings = settings()?;
    let store = open_store(store, &settings).await?;
    let app = Arc::new(App::new(store, settings.keys).with_routes(settings.routes));
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
    let org = OrgId::new(org)?;
    let settings = settings()?;
    let store = open_store(store, &settings).await?;
    let app = App::new(store, settings.keys);
    let (_, key) = app
        .mint_root_key(&org, name)
        .await
        .map_err(|e| e.to_string())?;
    println!("{}", key.expose());
    Ok(())
}

async fn create_table(table: &str, endpoint: Option<&str>) -> Result<(), String> {
    let settings = settings()?;
    let client = DynamoDbStore::client(endpoint, settings.timeouts, None).await;
    DynamoDbStore::new(client, table)
        .create_table()
        .await
        .map_err(|e| e.to_string())?;
    println!("keygate: table {table} is active");
    Ok(())
}

fn api_client(api: &ApiArgs) -> Result<client::Client, String> {
    let url = api
        .api_url
        .as_deref()
        .ok_or("set KEYGATE_API_URL or pass --api-url")?;
    let key = api
        .api_key
        .as_deref()
        .ok_or("set KEYGATE_API_KEY or pass --api-key")?;
    Ok(client::Client::new(url, key))
}

fn key_path(id: &str, action: &str) -> String {
    let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/v1/api-keys/{id}{action}")
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
            let created = call("POST", "/v1/api-keys", Some(body))?;
            if api.json {
                println!("{created:#}");
            } else {
                print!("{}", client::render_record(&created));
                eprintln!();
                eprintln!("This is the only time the key is shown. Store it somewhere safe now:");
                println!("{}", created["key"].as_str().unwrap_or_default());
            }
        }
        KeysCommand::List {
            status,
            limit,
            cursor,
        } => {
            let mut query: Vec<(&str, String)> =
                vec![("status", status), ("limit", limit.to_string())];
            if let Some(c) = cursor {
                query.push(("cursor", c));
            }
            let query: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish();
            let page = call("GET", &format!("/v1/api-keys?{query}"), None)?;
            if api.json {
                println!("{page:#}");
            } else {
                let records = page["data"].as_array().cloned().unwrap_or_default();
                print!("{}", client::render_table(&records));
                if let Some(next) = page["next_cursor"].as_str() {
                    println!("more: keygate keys list --cursor {next}");
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
