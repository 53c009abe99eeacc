//! The `keygate` command: run the API locally, mint first keys, create the
//! DynamoDB tables, and manage keys through the HTTP API.

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory as _, FromArgMatches as _};

mod api;
mod args;
mod client;
mod commands;
mod explain;
mod http_server;
mod library;
mod output;
mod store;
mod table;

use args::{AuditCommand, CatalogCommand, Cli, Command, RoutesCommand, TableCommand};

fn main() -> ExitCode {
    // Help wraps at the width tables fit, and at most 100 columns.
    let matches = Cli::command()
        .term_width(output::terminal_width().min(100))
        .get_matches();
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
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Server text in a message is escaped where it is read; this
            // catches any that was not, line by line.
            let message = format!("{e:#}");
            let lines: Vec<String> = message.lines().map(output::terminal_safe).collect();
            eprintln!("keygate: {}", lines.join("\n"));
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// A mistake in how the command was called that only shows after parsing
/// (a missing `--yes`, a full key where an id belongs): exit 2, as for
/// clap's own usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| anyhow::anyhow!("cannot start the runtime: {e}"))
    };
    match cli.command {
        Command::Serve(args) => runtime()?.block_on(commands::serve::run(args)),
        Command::Bootstrap(args) => runtime()?.block_on(commands::bootstrap::run(args)),
        Command::Table {
            command:
                TableCommand::Create {
                    table,
                    audit_table,
                    dynamodb_endpoint,
                },
        } => runtime()?.block_on(commands::table::create(
            &table,
            audit_table,
            dynamodb_endpoint.as_deref(),
        )),
        Command::Table {
            command:
                TableCommand::Upgrade {
                    table,
                    audit_table,
                    dynamodb_endpoint,
                },
        } => runtime()?.block_on(commands::table::upgrade(
            &table,
            audit_table,
            dynamodb_endpoint.as_deref(),
        )),
        Command::Keys { api, command } => commands::keys::run(&api, command),
        Command::Catalog {
            command: CatalogCommand::Check { file },
        } => commands::catalog::check(file.as_deref()),
        Command::Catalog {
            command: CatalogCommand::Schema,
        } => commands::catalog::schema(),
        Command::Catalog {
            command: CatalogCommand::Diff { old, new },
        } => commands::catalog::diff(&old, &new),
        Command::Routes {
            command: RoutesCommand::Check { openapi, catalog },
        } => commands::catalog::check_routes(&openapi, catalog.as_deref()),
        Command::Audit {
            command: Some(AuditCommand::Verify(args)),
            ..
        } => runtime()?.block_on(commands::audit::verify(args)),
        Command::Audit {
            command: None,
            list,
        } => commands::audit::run(list),
        Command::Whoami { api } => commands::whoami::run(&api),
        Command::Scopes { api } => commands::scopes::run(&api),
        Command::Completions { shell } => {
            commands::completions::run(shell);
            Ok(())
        }
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
