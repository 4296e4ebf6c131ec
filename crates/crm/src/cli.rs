//! The `crm` command line.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{self, AppError, Application};
use crate::config::Config;
use crm_domain::access::roles::Role;
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
    /// Load a reproducible demo sales history (products, customers, two years of orders,
    /// returns, exchange rates), then rebuild the analytics.
    DemoData {
        /// Customers to create.
        #[arg(long, default_value_t = 200)]
        companies: usize,
        /// Orders over the two years, about five lines each.
        #[arg(long, default_value_t = 5_000)]
        orders: usize,
        /// The same seed (and --until) gives the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The last day of the history, YYYY-MM-DD (default: today).
        #[arg(long)]
        until: Option<chrono::NaiveDate>,
    },
}

#[derive(Subcommand)]
enum AnalyticsCommand {
    /// Recompute the per-customer monthly rollups from the raw orders, credit notes and returns.
    Rebuild,
    /// Fit the CLV models (BG/NBD purchases, Gamma-Gamma profit per purchase) on every
    /// customer's purchases, and store the fit. The server also refits weekly.
    Fit {
        /// Use purchases up to this day (YYYY-MM-DD); defaults to today.
        #[arg(long)]
        observed_until: Option<chrono::NaiveDate>,
    },
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
            let base = config.http_settings()?.base_currency;
            let facts = app::refresh_customer_facts(&pool, base)?;
            println!("recomputed the figures of {facts} customer(s)");
        }
        Command::Analytics {
            command: AnalyticsCommand::Fit { observed_until },
        } => {
            let pool = app::connect(&config)?;
            app::migrate(&pool)?;
            let base = config.http_settings()?.base_currency;
            let until = observed_until.unwrap_or_else(|| crm_store::now().date());
            let fit = app::fit_clv(&pool, base, until)?;
            println!(
                "fitted on {} customers ({} with repeat purchases) up to {}",
                fit.customers, fit.repeat_customers, fit.observed_until
            );
            println!(
                "BG/NBD r={:.4} alpha={:.4} a={:.4} b={:.4}; Gamma-Gamma p={:.4} q={:.4} gamma={:.4}",
                fit.purchases.r,
                fit.purchases.alpha,
                fit.purchases.a,
                fit.purchases.b,
                fit.spend.p,
                fit.spend.q,
                fit.spend.gamma
            );
        }
        Command::DemoData {
            companies,
            orders,
            seed,
            until,
        } => {
            let until = match until {
                Some(day) => day.and_time(chrono::NaiveTime::MIN) + chrono::Duration::days(1),
                None => crm_store::now(),
            };
            demo_data(
                &config,
                &crate::demo::DemoSpec {
                    companies,
                    orders,
                    seed,
                    until,
                },
            )?;
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

/// Creates the first admin of an empty database and shows its password once.
fn bootstrap_admin(pool: &crm_store::Pool) -> Result<(), AppError> {
    if let Some((email, password)) = app::bootstrap_admin(pool)? {
        println!("Created the first admin user. Log in with:");
        println!("  email:    {email}");
        println!("  password: {password}   (shown once; change it with PATCH /v1/users/{{id}})");
    }
    Ok(())
}

fn demo_data(config: &Config, spec: &crate::demo::DemoSpec) -> Result<(), AppError> {
    let pool = app::connect(config)?;
    app::migrate(&pool)?;
    // Before the demo salespeople exist: `serve` only creates an admin in a database
    // without users, so loading demo data first would leave nobody to log in as.
    bootstrap_admin(&pool)?;
    let step = (spec.orders / 10).max(1);
    let mut next = step;
    let loaded = app::load_demo_data(&pool, spec, &mut |counts| {
        if counts.orders >= next && counts.orders < spec.orders {
            println!("  {} orders, {} lines", counts.orders, counts.order_lines);
            next = counts.orders / step * step + step;
        }
    })?;
    let c = &loaded.counts;
    println!(
        "Loaded demo data of seed {} up to {} in {:.1} s:",
        spec.seed,
        spec.until.format("%Y-%m-%d %H:%M"),
        loaded.load.as_secs_f64()
    );
    println!(
        "  {} products, {} salespeople, {} companies, {} contacts, {} exchange rates",
        c.products, c.salespeople, c.companies, c.contacts, c.exchange_rates
    );
    println!(
        "  {} orders ({} cancelled), {} order lines",
        c.orders, c.cancelled_orders, c.order_lines
    );
    println!(
        "  {} returns ({} resolved), {} return lines",
        c.returns, c.resolved_returns, c.return_lines
    );
    println!(
        "Rebuilt {} rollup rows in {:.1} s",
        loaded.rollup_rows,
        loaded.rebuild.as_secs_f64()
    );
    let facts = app::refresh_customer_facts(&pool, config.http_settings()?.base_currency)?;
    println!("Recomputed the figures of {facts} customer(s) for segments");
    Ok(())
}

#[actix_web::main]
async fn serve(config: Config) -> Result<(), AppError> {
    let application = Application::build(&config)?;
    bootstrap_admin(application.pool())?;
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
