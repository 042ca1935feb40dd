//! `strongroom-host`: serve | migrate | tenant create NAME | tenant list | tenant delete NAME |
//! keys status | keys rotate [--no-wait] | keys reset --confirm.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use strongroom_host::config::{ConfigError, DbConfig, EnvSource, ServeConfig};
use strongroom_host::keys::cli as keys_cli;
use strongroom_host::{db, serve, tenants};

/// Exit status for invalid configuration (EX_USAGE).
const EXIT_CONFIG: u8 = 64;

#[derive(Parser)]
#[command(
    name = "strongroom-host",
    version,
    about = "Strongroom host: HTTP API over PostgreSQL; configured by the environment"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations, then serve the HTTP API until SIGTERM/SIGINT.
    Serve,
    /// Apply pending database migrations (as the DATABASE_URL owner) and exit.
    Migrate,
    /// Tenant administration.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Key ring: status, rotation, reset.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print the ring in use, the instances and the latest rotation.
    Status,
    /// Rotate: add a key version, re-seal every stored credential, retire the old ones.
    Rotate {
        /// Only request the rotation; do not wait for it to finish.
        #[arg(long)]
        no_wait: bool,
    },
    /// Abandon a lost key ring so the next boot creates a new one.
    Reset {
        /// Required: stored credentials become unusable.
        #[arg(long)]
        confirm: bool,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant and print its API key (shown only this once).
    Create { name: String },
    /// List tenants.
    List,
    /// Erase a tenant with its sessions, credentials and aggregates.
    Delete { name: String },
}

fn config_failure(e: &ConfigError) -> ExitCode {
    eprintln!("strongroom-host: configuration error: {e}");
    ExitCode::from(EXIT_CONFIG)
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("strongroom-host: {e}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LOG_LEVEL")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .thread_name("host-worker")
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    runtime.block_on(run(cli.command))
}

async fn run(command: Command) -> ExitCode {
    match command {
        Command::Serve => {
            let cfg = match ServeConfig::from_source(&EnvSource) {
                Ok(c) => c,
                Err(e) => return config_failure(&e),
            };
            match serve::serve(cfg, serve::shutdown_signal()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
        Command::Migrate => {
            let db = match DbConfig::from_source(&EnvSource) {
                Ok(c) => c,
                Err(e) => return config_failure(&e),
            };
            let Some(url) = db.owner_url() else {
                return config_failure(&ConfigError::Missing("DATABASE_URL"));
            };
            match db::migrate(url).await {
                Ok(applied) => {
                    for m in &applied {
                        println!("applied {m}");
                    }
                    println!("database is up to date");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Tenant(t) => tenant(t).await,
        Command::Keys(k) => keys(k).await,
    }
}

async fn keys(command: KeysCommand) -> ExitCode {
    let db = match DbConfig::from_source(&EnvSource) {
        Ok(c) => c,
        Err(e) => return config_failure(&e),
    };
    let Some(url) = db.owner_url() else {
        return config_failure(&ConfigError::Missing("DATABASE_URL"));
    };
    let result = async {
        db::migrate(url).await.map_err(keys_err)?;
        let mut client = db::connect(url).await.map_err(keys_err)?;
        match command {
            KeysCommand::Status => keys_cli::status(&client).await,
            KeysCommand::Rotate { no_wait } => keys_cli::rotate(&client, !no_wait).await,
            KeysCommand::Reset { confirm } => keys_cli::reset(&mut client, confirm).await,
        }
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn keys_err(e: db::DbError) -> keys_cli::CliError {
    keys_cli::CliError::Keys(e.into())
}

async fn tenant(command: TenantCommand) -> ExitCode {
    let db = match DbConfig::from_source(&EnvSource) {
        Ok(c) => c,
        Err(e) => return config_failure(&e),
    };
    let Some(url) = db.owner_url() else {
        return config_failure(&ConfigError::Missing("DATABASE_URL"));
    };
    let result = async {
        db::migrate(url).await?;
        let mut client = db::connect(url).await?;
        match command {
            TenantCommand::Create { name } => {
                let key = tenants::create(&mut client, &name).await?;
                println!("{}", key.as_str());
            }
            TenantCommand::List => {
                for t in tenants::list(&client).await? {
                    println!(
                        "{}\t{}\t{}\t{} active sessions",
                        t.name, t.id, t.created_at, t.active_sessions
                    );
                }
            }
            TenantCommand::Delete { name } => {
                let n = tenants::delete(&mut client, &name).await?;
                println!("deleted tenant {name} ({n} sessions erased)");
            }
        }
        Ok::<(), tenants::TenantError>(())
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}
