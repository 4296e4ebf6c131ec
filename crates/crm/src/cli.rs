//! The `crm` command line.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{self, AppError, Application};
use crate::config::Config;
use crm_domain::roles::Role;
use tracing_subscriber::EnvFilter;

/// A headless CRM: REST/JSON API with a generated OpenAPI document.
#[derive(Parser)]
#[command(name = "crm", version)]
struct Cli {
    /// Configuration file (TOML). Defaults to ./crm.toml when present.
    #[arg(long, env = "CRM_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve {
        /// Do not run pending migrations at start.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Write the OpenAPI document, or check that the committed one matches the code.
    Openapi {
        /// Fail if the file differs from what the code generates.
        #[arg(long)]
        check: bool,
        #[arg(long, default_value = "openapi/openapi.json")]
        output: PathBuf,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API keys.
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Maintain the analytics.
    Analytics {
        #[command(subcommand)]
        command: AnalyticsCommand,
    },
}

#[derive(Subcommand)]
enum AnalyticsCommand {
    /// Recompute the per-customer monthly rollups from the raw orders, credit notes and returns.
    Rebuild,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. Without --password-stdin a password is generated and printed once.
    Create {
        #[arg(long)]
        email: String,
        /// admin, manager, sales, support, integration or customer.
        #[arg(long)]
        role: String,
        /// The company of a customer user.
        #[arg(long)]
        company_id: Option<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create an API key and print it once.
    Create {
        #[arg(long)]
        name: String,
        /// Comma-separated scopes, such as contacts:read,companies:write.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
    },
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if config.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Parses the arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(&config);
    match run(cli.command, config) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, mut config: Config) -> Result<ExitCode, AppError> {
    match command {
        Command::Serve { no_migrate } => {
            if no_migrate {
                config.migrate_on_start = false;
            }
            serve(config)?;
        }
        Command::Migrate => {
            let pool = app::connect(&config)?;
            let applied = app::migrate(&pool)?;
            println!("{applied} migration(s) applied");
        }
        Command::Openapi { check, output } => {
            let generated = crm_http::openapi_json().map_err(|e| AppError::Api(e.to_string()))?;
            if check {
                let committed = std::fs::read_to_string(&output).unwrap_or_default();
                if committed != generated {
                    eprintln!(
                        "{} differs from the code; run `make openapi` and commit it",
                        output.display()
                    );
                    return Ok(ExitCode::FAILURE);
                }
                println!("{} matches the code", output.display());
            } else {
                if let Some(parent) = output.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&output, generated)?;
                println!("wrote {}", output.display());
            }
        }
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    role,
                    company_id,
                    password_stdin,
                },
        } => {
            let role: Role = role
                .parse()
                .map_err(|e: crm_domain::Violation| AppError::Api(e.message))?;
            let password = if password_stdin {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text)?;
                Some(text.trim_end_matches(['\n', '\r']).to_owned())
            } else {
                None
            };
            let pool = app::connect(&config)?;
            app::migrate(&pool)?;
            let (id, generated) = app::create_user(&pool, &email, role, company_id, password)?;
            println!("created user {id} ({email}, {role})");
            if let Some(password) = generated {
                println!("password (shown once): {password}");
            }
        }
        Command::Analytics {
            command: AnalyticsCommand::Rebuild,
        } => {
            let pool = app::connect(&config)?;
            app::migrate(&pool)?;
            let rows = app::rebuild_rollups(&pool)?;
            println!("rebuilt {rows} rollup row(s)");
        }
        Command::ApiKey {
            command: ApiKeyCommand::Create { name, scopes },
        } => {
            let pool = app::connect(&config)?;
            app::migrate(&pool)?;
            let (id, key) = app::create_api_key(&pool, &name, &scopes)?;
            println!("created API key {id}");
            println!("key (shown once): {key}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[actix_web::main]
async fn serve(config: Config) -> Result<(), AppError> {
    let application = Application::build(&config)?;
    if let Some((email, password)) = app::bootstrap_admin(application.pool())? {
        println!("Created the first admin user. Log in with:");
        println!("  email:    {email}");
        println!("  password: {password}   (shown once; change it with PATCH /v1/users/{{id}})");
    }
    let address = config.bind.replace("0.0.0.0", "127.0.0.1");
    let shown = match address.rsplit_once(':') {
        Some((host, _)) => format!("{host}:{}", application.port()),
        None => address,
    };
    println!("CRM API listening on http://{shown}  (docs: http://{shown}/docs/)");
    tracing::info!(port = application.port(), "serving");
    application.run().await?;
    Ok(())
}
