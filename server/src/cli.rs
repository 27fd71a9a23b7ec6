//! The command line: `sipas [serve|migrate|demo|config|publish|wave|codes|export|compute|verify]`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError};
use crate::store::{self, ConnectOptions, OpenError};
use crate::web::{BindError, Listener};
use sipas_app::ports::Store;
use sipas_app::staff::port::AuditAction;

#[derive(Debug, Parser)]
#[command(
    name = "sipas",
    version,
    about = "SIPAS: citizen satisfaction surveys, indices and releases"
)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./sipas.toml when it exists.
    #[arg(long, global = true, env = "SIPAS_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web application (the default).
    Serve {
        /// Seed the demonstration data before serving.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit. On PostgreSQL this runs as the schema's
    /// owner (`migrate_database_url`) and grants the server's role (the user of
    /// `database_url`) exactly what it needs; the server itself never migrates PostgreSQL.
    Migrate,
    /// Seed demonstration data (idempotent) and exit: the current wave, and a published
    /// history (2023–2025 releases, the current wave's frame and paper forms).
    Demo {
        /// Only the current wave and its frame, with no forms or releases (fast; for tests and
        /// load benchmarks that issue their own codes).
        #[arg(long)]
        no_history: bool,
        /// Also write the current wave's population margins (sex and age band per province,
        /// `province,margin,category,total`) to this file, to try raking with.
        #[arg(long, value_name = "FILE")]
        margins: Option<PathBuf>,
    },
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Write a consistent copy of the database to FILE while the server runs (SQLite:
    /// `VACUUM INTO`; PostgreSQL: `pg_dump --format=custom`), and FILE.manifest: the SHA-256 of
    /// every published release's open-data files. A backup never overwrites a file.
    Backup {
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Restore a backup into the database of `database_url`: a new SQLite file, or an empty
    /// PostgreSQL database (restored as the owner of `migrate_database_url`, the application
    /// role granted again). Stop the server first.
    Restore {
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// Then check the restored database: every release file byte for byte against the
        /// backup's manifest (and SQLite's integrity check, always done before restoring).
        #[arg(long)]
        verify: bool,
        /// Replace an existing SQLite database file.
        #[arg(long)]
        force: bool,
    },
    /// Publish a questionnaire version from a TOML file (default: the built-in SIPAS 2023 one).
    /// Publishing the same content again is a no-op; different content needs a new version.
    Publish {
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Create a survey wave that answers a published questionnaire version.
    Wave {
        /// A short stable identifier, e.g. sipas-2027.
        #[arg(long)]
        code: String,
        #[arg(long)]
        title: String,
        #[arg(long)]
        year: i32,
        /// The provincial geography of the sample: 2025 (34 units) or 2004 (63 units).
        #[arg(long, default_value = "2025")]
        geography: String,
        #[arg(long, default_value = "sipas-2023")]
        questionnaire: String,
        #[arg(long, default_value_t = 1)]
        version: u32,
        /// Accept respondents without a code at /s/open/{wave} (pilots: non-probability).
        #[arg(long)]
        open_link: bool,
    },
    /// Issue a batch of one-time invitation codes over the frame's PSUs (as the staff batch
    /// page does): one PSU, a stratum of a province, or a whole province, shared by target.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["psu", "province"])))]
    Codes {
        #[arg(long)]
        wave: String,
        /// One PSU of the wave's frame.
        #[arg(long, conflicts_with_all = ["province", "stratum"])]
        psu: Option<String>,
        /// A province of the frame (with --stratum, one of its strata).
        #[arg(long)]
        province: Option<String>,
        #[arg(long, requires = "province")]
        stratum: Option<String>,
        /// How many codes (1 to 5000, as on the staff page).
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// Where the printed links and QR codes point.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        base_url: String,
        /// The CSV to write (code, link, sample point).
        #[arg(long)]
        out: PathBuf,
        /// Also write the printable sheet (one card with a QR code per invitation).
        #[arg(long)]
        sheet: Option<PathBuf>,
    },
    /// Export a wave's responses to a CSV (one row per response, one column per item).
    Export {
        #[arg(long)]
        wave: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Staff accounts: create the first administrator (there is no default password).
    Admin {
        #[command(subcommand)]
        action: AdminCommand,
    },
    /// Staff accounts: add, disable, enable, reset a password, list.
    User {
        #[command(subcommand)]
        action: UserCommand,
    },
    /// Compute indices offline from a microdata CSV or a totals file (no database).
    #[command(group(clap::ArgGroup::new("input").required(true).args(["data", "totals", "wave"])))]
    Compute {
        /// Microdata CSV, one row per response (docs/methodology.md).
        #[arg(long)]
        data: Option<PathBuf>,
        /// A totals file instead of microdata (`--write-totals`, or a release's open data):
        /// every number is reproduced exactly.
        #[arg(long, conflicts_with = "population")]
        totals: Option<PathBuf>,
        /// A wave in the database: its probability sample, weighted from its frame (and raked
        /// to --population when the methodology calibrates).
        #[arg(long)]
        wave: Option<String>,
        /// Also write the sufficient statistics (per-PSU totals, no microdata) to this file.
        #[arg(long, requires = "data")]
        write_totals: Option<PathBuf>,
        /// Methodology TOML: scale, intervals, lonely-PSU policy, index tree.
        #[arg(long)]
        methodology: PathBuf,
        /// Results file; `.csv` or `.json`.
        #[arg(long)]
        out: PathBuf,
        /// Population totals (`province,margin,category,total`) for a methodology with
        /// `[calibration]`: each province's weights are raked to them.
        #[arg(long)]
        population: Option<PathBuf>,
        /// Last year's microdata CSV, or its totals file (`.json`, e.g. last year's release):
        /// adds the change of every publishable cell, tested with t on Satterthwaite df.
        #[arg(long)]
        previous_data: Option<PathBuf>,
        /// Last year is on the 63-province map (before July 2025): merge its provinces into
        /// today's 34 with the built-in crosswalk before comparing.
        // Communes are matched by stratum and name: across the 2025 reform the same names are
        // other areas, so linked years and re-aggregation exclude each other.
        #[arg(long, requires = "previous_data", conflicts_with = "linked_psus")]
        reaggregate_previous: bool,
        /// Last year's population totals, when the methodology calibrates.
        #[arg(long, requires = "previous_data")]
        previous_population: Option<PathBuf>,
        /// Both years surveyed the same communes (PSUs matched by stratum and name): the change's
        /// variance includes their covariance.
        #[arg(long, requires = "previous_data")]
        linked_psus: bool,
        /// Accept open-link rows (`sample = open`) and flag every result `non_probability`.
        #[arg(long)]
        non_probability: bool,
        /// Compute with the rows the quality review excluded (`quality = excluded:…`), which
        /// are refused otherwise: the platform's indices leave them out.
        #[arg(long)]
        keep_excluded: bool,
    },
    /// Check a downloaded release: recompute every published number from its public files
    /// (results.csv, aggregates.csv, methodology.toml in FOLDER) and report any that differs,
    /// by row and column. Exits with 1 when one does.
    Verify {
        /// The folder the release's files were downloaded to.
        folder: PathBuf,
        /// Last year's published table (its results.csv, or results-2025-map.csv when it was
        /// on the 63-province map), when the release shows changes: its README names it.
        #[arg(long)]
        previous: Option<PathBuf>,
        /// Check the year on today's 34 units (results-2025-map.csv and
        /// aggregates-2025-map.csv) of a release on the 63-province map.
        #[arg(long, value_parser = ["2025"])]
        map: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator account. The password is asked for (or read from standard
    /// input when it is not a terminal: `printf '%s\n' "$PASSWORD" | sipas admin create ...`).
    Create {
        #[arg(long)]
        username: String,
        /// The person's name as shown in the workspace.
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an account (password asked for, or read from standard input).
    Add {
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: String,
        /// admin, central, provincial, statistician, approver, viewer or field.
        #[arg(long)]
        role: String,
        /// For provincial officers and field workers: the province code (34-unit geography).
        #[arg(long)]
        province: Option<String>,
    },
    /// Disable an account (its sessions end at once).
    Disable {
        #[arg(long)]
        username: String,
    },
    /// Enable a disabled account.
    Enable {
        #[arg(long)]
        username: String,
    },
    /// Set a new password (asked for, or read from standard input); sessions end.
    ResetPassword {
        #[arg(long)]
        username: String,
    },
    /// List the accounts.
    List,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error("cannot read the Leptos settings (LEPTOS_* variables): {0}")]
    Leptos(String),
    #[error("seeding demonstration data failed: {0}")]
    Demo(sipas_app::ports::StoreError),
    #[error("the server stopped with an error: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Compute(#[from] crate::services::compute::ComputeError),
    #[error(transparent)]
    Issue(#[from] crate::services::invitations::IssueError),
    #[error(transparent)]
    Export(#[from] crate::services::export::ExportError),
    #[error("{0}")]
    Invalid(String),
    #[error("the database failed: {0}")]
    Store(sipas_app::ports::StoreError),
    #[error("cannot print the configuration: {0}")]
    Print(String),
    #[error(transparent)]
    Verify(#[from] crate::services::verify::VerifyError),
    #[error(
        "refusing to serve: the database role could change published releases:\n  - {}\nRun \
         the server as the application role that `sipas migrate` grants (README, \"Deploying on \
         PostgreSQL\"; docs/operations.md)",
        .0.join("\n  - ")
    )]
    OwnerRole(Vec<String>),
    #[error("invalid configuration: {0}")]
    Settings(String),
    #[error(transparent)]
    Backup(#[from] crate::services::backup::BackupError),
    #[error("{0} published values were not reproduced")]
    NotReproduced(usize),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Cli {
    pub async fn run(self) -> Result<(), CliError> {
        let config = Config::load(self.config.as_deref())?;
        crate::telemetry::init(&config.log, config.log_format);
        match self.command.unwrap_or(Command::Serve { demo: false }) {
            Command::Serve { demo } => serve(&config, demo).await,
            Command::Migrate => migrate(&config).await,
            Command::Demo {
                no_history,
                margins,
            } => {
                let store = open(&config).await?;
                let created = crate::services::demo::seed(&store)
                    .await
                    .map_err(CliError::Demo)?;
                if no_history {
                    crate::services::demo::seed_current_frame(&store)
                        .await
                        .map_err(CliError::Demo)?;
                } else {
                    crate::services::demo::seed_history(&store)
                        .await
                        .map_err(CliError::Demo)?;
                }
                if let Some(path) = margins {
                    let current = crate::services::demo::demo_waves().remove(0);
                    let frame = sipas_app::staff::FieldStore::frame(&store, &current.code, None)
                        .await
                        .map_err(CliError::Demo)?;
                    if frame.strata.is_empty() {
                        return Err(CliError::Invalid(format!(
                            "the demonstration wave {} has no frame (this database has real \
                             waves, so the demonstration was not seeded): no margins written",
                            current.code
                        )));
                    }
                    // Complete or not at all, as every output file.
                    let written =
                        crate::services::files::temp_beside(&path).and_then(|mut file| {
                            use std::io::Write;
                            file.write_all(
                                crate::services::demo::population_margins(&frame).as_bytes(),
                            )?;
                            crate::services::files::persist(file, &path)
                        });
                    written.map_err(|source| CliError::Write {
                        path: path.clone(),
                        source,
                    })?;
                }
                let published: Vec<String> =
                    sipas_app::staff::release::ReleaseStore::releases(&store)
                        .await
                        .map_err(CliError::Demo)?
                        .iter()
                        .map(|r| format!("{} v{}", r.year, r.version))
                        .collect();
                println!(
                    "demonstration data: {created} new wave(s); published: {}",
                    if published.is_empty() {
                        "none".to_owned()
                    } else {
                        published.join(", ")
                    }
                );
                store.close().await;
                Ok(())
            }
            Command::Config => print_config(&config),
            Command::Backup { to } => {
                let summary = crate::services::backup::backup(&config.database_url, &to).await?;
                print!("{}: at its start, {}", to.display(), summary.render());
                Ok(())
            }
            Command::Restore {
                from,
                verify,
                force,
            } => {
                let (owner_url, application_role) = config
                    .owner_and_application_role()
                    .map_err(CliError::Settings)?;
                let restored = crate::services::backup::restore(
                    &from,
                    &config.database_url,
                    owner_url,
                    application_role.as_deref(),
                    force,
                    verify,
                )
                .await?;
                print!("restored: {}", restored.summary.render());
                if let Some(manifest) = restored.manifest_checked {
                    println!(
                        "verified: every release file matches {}{}",
                        manifest.display(),
                        match restored.newer_releases {
                            0 => String::new(),
                            n => format!(" ({n} release(s) published while the backup ran)"),
                        }
                    );
                }
                if let Some(aside) = restored.replaced {
                    println!("the database it replaced was kept as {}", aside.display());
                }
                Ok(())
            }
            Command::Verify {
                folder,
                previous,
                map,
            } => {
                let report =
                    crate::services::verify::verify(&folder, previous.as_deref(), map.is_some())?;
                print!("{}", report.render());
                if report.ok() {
                    Ok(())
                } else {
                    Err(CliError::NotReproduced(report.mismatches.len()))
                }
            }
            Command::Publish { file } => {
                let (text, source) = match &file {
                    Some(path) => (
                        std::fs::read_to_string(path).map_err(|e| {
                            CliError::Invalid(format!("cannot read {}: {e}", path.display()))
                        })?,
                        path.display().to_string(),
                    ),
                    None => (
                        crate::services::questionnaires::SIPAS_2023.to_owned(),
                        "the built-in SIPAS 2023 questionnaire".to_owned(),
                    ),
                };
                let questionnaire = crate::services::questionnaires::parse(&text)
                    .map_err(|e| CliError::Invalid(format!("{source}: {e}")))?;
                let store = open(&config).await?;
                let entry = cli_entry(AuditAction::QuestionnairePublished, None)
                    .detail(format!("{} v{}", questionnaire.code, questionnaire.version));
                let published = sipas_app::staff::FieldStore::publish_questionnaire(
                    &store,
                    &questionnaire,
                    &entry,
                )
                .await;
                store.close().await;
                published.map_err(|err| match err {
                    sipas_app::ports::StoreError::Conflict(message) => {
                        CliError::Invalid(message.to_string())
                    }
                    other => CliError::Store(other),
                })?;
                println!(
                    "published {} version {}",
                    questionnaire.code, questionnaire.version
                );
                Ok(())
            }
            Command::Wave {
                code,
                title,
                year,
                geography,
                questionnaire,
                version,
                open_link,
            } => {
                let form = sipas_app::staff::pages::WaveForm {
                    code,
                    title,
                    year: year.to_string(),
                    geography,
                    questionnaire: format!("{questionnaire}@{version}"),
                    ..Default::default()
                };
                let store = open(&config).await?;
                let entry = |wave: &sipas_app::domain::Wave| {
                    cli_entry(AuditAction::WaveCreated, None)
                        .wave(&wave.code)
                        .detail(format!("{} ({})", wave.title, wave.year))
                };
                let result = crate::services::waves::create(&store, &form, open_link, entry).await;
                store.close().await;
                let wave = result.map_err(|err| match err {
                    crate::services::waves::WaveError::Store(err) => CliError::Store(err),
                    invalid => CliError::Invalid(invalid.to_string()),
                })?;
                println!("created wave {}", wave.code);
                Ok(())
            }
            Command::Codes {
                wave,
                psu,
                province,
                stratum,
                count,
                base_url,
                out,
                sheet,
            } => {
                use crate::services::invitations::{self, BatchRequest, Target};
                let target = match (psu, province, stratum) {
                    (Some(psu), _, _) => Target::Psu(psu),
                    (None, Some(province), Some(stratum)) => Target::Stratum { province, stratum },
                    (None, Some(province), None) => Target::Province(province),
                    (None, None, _) => {
                        return Err(CliError::Invalid("give --psu or --province".into()));
                    }
                };
                let store = open(&config).await?;
                let request = BatchRequest {
                    wave_code: &wave,
                    target: &target,
                    count: &count.to_string(),
                    batch_id: invitations::batch_id(&store::random_token()),
                    issued_by: "cli",
                    scope: &sipas_app::staff::Scope::All,
                };
                let issued = invitations::issue_to_files(
                    &store,
                    &request,
                    base_url.trim_end_matches('/'),
                    &out,
                    sheet.as_deref(),
                )
                .await;
                store.close().await;
                let issued = issued?;
                println!(
                    "issued {} code(s) in batch {} for {}: {}",
                    issued.codes.len(),
                    issued.batch.id,
                    issued.batch.scope,
                    out.display()
                );
                Ok(())
            }
            Command::Export { wave, out } => {
                let store = open(&config).await?;
                let summary = crate::services::export::export_responses(&store, &wave, &out).await;
                store.close().await;
                let summary = summary?;
                println!("wrote {} response(s) to {}", summary.rows, out.display());
                if summary.open_link > 0 {
                    println!(
                        "note: {} of them came through the open link: a non-probability sample \
                         (column sample = open); results that use them are not design-based",
                        summary.open_link
                    );
                }
                Ok(())
            }
            Command::Admin {
                action: AdminCommand::Create { username, name },
            } => {
                let store = open(&config).await?;
                let result = add_user(&store, &username, &name, "admin", None).await;
                store.close().await;
                result
            }
            Command::User { action } => {
                let store = open(&config).await?;
                let result = user_command(&store, action).await;
                store.close().await;
                result
            }
            Command::Compute {
                data,
                totals,
                wave,
                write_totals,
                methodology,
                out,
                population,
                previous_data,
                previous_population,
                reaggregate_previous,
                linked_psus,
                non_probability,
                keep_excluded,
            } => {
                let previous = previous_data.map(|data| crate::services::compute::Previous {
                    data,
                    population: previous_population,
                    linked_psus,
                    reaggregate: reaggregate_previous,
                });
                let from_wave = match &wave {
                    Some(code) => {
                        let text = std::fs::read_to_string(&methodology).map_err(|e| {
                            CliError::Invalid(format!("cannot read {}: {e}", methodology.display()))
                        })?;
                        let methodology_def =
                            sipas_stats::methodology::Methodology::from_toml(&text).map_err(
                                |e| CliError::Invalid(format!("{}: {e}", methodology.display())),
                            )?;
                        let population_text = population
                            .as_ref()
                            .map(|path| {
                                std::fs::read_to_string(path).map_err(|e| {
                                    CliError::Invalid(format!(
                                        "cannot read {}: {e}",
                                        path.display()
                                    ))
                                })
                            })
                            .transpose()?;
                        let store = open(&config).await?;
                        let stats = crate::jobs::wave_totals::wave_totals_reporting(
                            &store,
                            code,
                            &methodology_def,
                            population_text.as_deref(),
                            &crate::jobs::wave_totals::Progress::default(),
                        )
                        .await
                        .map(|t| t.stats)
                        .map_err(|e| CliError::Invalid(format!("wave {code}: {e}")));
                        store.close().await;
                        Some((stats?, PathBuf::from(format!("wave {code}"))))
                    }
                    None => None,
                };
                let input = match (&data, &totals, &from_wave) {
                    (Some(path), _, _) => crate::services::compute::Input::Data {
                        path,
                        population: population.as_deref(),
                    },
                    (None, Some(path), _) => crate::services::compute::Input::Totals(path),
                    (None, None, Some((stats, source))) => {
                        crate::services::compute::Input::Stats { stats, source }
                    }
                    (None, None, None) => {
                        return Err(CliError::Invalid("give --data, --totals or --wave".into()));
                    }
                };
                let computed = crate::services::compute::run(&crate::services::compute::Request {
                    input,
                    methodology: &methodology,
                    previous: previous.as_ref(),
                    out: &out,
                    write_totals: write_totals.as_deref(),
                    non_probability,
                    keep_excluded,
                })?;
                println!(
                    "wrote {} estimates to {} (input digest sha256:{})",
                    computed.cells,
                    out.display(),
                    computed.input_digest
                );
                if let Some(path) = write_totals {
                    println!("wrote the totals to {}", path.display());
                }
                Ok(())
            }
        }
    }
}

/// A password from a prompt without echo, or the first line of standard input when that is
/// not a terminal (scripts).
fn read_password() -> Result<String, CliError> {
    use std::io::{BufRead, IsTerminal};
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password (at least 12 characters): ")
            .map_err(|e| CliError::Invalid(format!("cannot read the password: {e}")))?;
        let again = rpassword::prompt_password("Again: ")
            .map_err(|e| CliError::Invalid(format!("cannot read the password: {e}")))?;
        if first != again {
            return Err(CliError::Invalid("the two passwords differ".into()));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::Invalid(format!("cannot read the password: {e}")))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    Ok(password)
}

async fn add_user(
    store: &store::SqlStore,
    username: &str,
    name: &str,
    role: &str,
    province: Option<&str>,
) -> Result<(), CliError> {
    use crate::services::accounts::{self, AccountError, NewAccount};
    if role.trim() == sipas_app::staff::Role::Researcher.key() {
        return Err(CliError::Invalid(
            "role: a researcher's account carries an approval (project, expiry, releases): an \
             administrator creates it in the browser, /staff/users"
                .into(),
        ));
    }
    let provinces: Vec<String> = store
        .provinces(sipas_app::domain::Geography::G2025)
        .await
        .map_err(CliError::Store)?
        .into_iter()
        .map(|p| p.code)
        .collect();
    let password = read_password()?;
    let account = NewAccount {
        username,
        display_name: name,
        role,
        province: province.unwrap_or(""),
        password: &password,
        ..NewAccount::default()
    };
    let entry = |province: Option<&str>, detail| {
        cli_entry(AuditAction::AccountCreated, province).detail(detail)
    };
    let today = sipas_app::api::today_iso();
    match accounts::create(store, &account, &provinces, &today, entry).await {
        Ok((username, role)) => {
            println!("created {} account {username}", role.key());
            Ok(())
        }
        Err(AccountError::Invalid(message) | AccountError::Taken(message)) => {
            Err(CliError::Invalid(message.to_string()))
        }
        Err(AccountError::Store(err)) => Err(CliError::Store(err)),
    }
}

/// An audit entry of the command line (actor `cli`).
fn cli_entry(action: AuditAction, province: Option<&str>) -> sipas_app::staff::port::AuditEntry {
    sipas_app::staff::port::AuditEntry::new("cli", action).province(province)
}

async fn user_command(store: &store::SqlStore, action: UserCommand) -> Result<(), CliError> {
    use sipas_app::ports::StoreError;
    use sipas_app::staff::AccountStore;
    let find = |username: String| async move {
        match store
            .user_for_sign_in(&username.trim().to_lowercase())
            .await
        {
            Ok((user, _)) => Ok(user),
            Err(StoreError::NotFound) => Err(CliError::Invalid(format!("no account {username:?}"))),
            Err(err) => Err(CliError::Store(err)),
        }
    };
    match action {
        UserCommand::Add {
            username,
            name,
            role,
            province,
        } => add_user(store, &username, &name, &role, province.as_deref()).await,
        UserCommand::Disable { username } => {
            let user = find(username).await?;
            let audit = cli_entry(AuditAction::AccountDisabled, None).detail(user.username.clone());
            store
                .set_active(user.id, false, &audit)
                .await
                .map_err(CliError::Store)?;
            println!("disabled {}", user.username);
            Ok(())
        }
        UserCommand::Enable { username } => {
            let user = find(username).await?;
            let audit = cli_entry(AuditAction::AccountEnabled, None).detail(user.username.clone());
            store
                .set_active(user.id, true, &audit)
                .await
                .map_err(CliError::Store)?;
            println!("enabled {}", user.username);
            Ok(())
        }
        UserCommand::ResetPassword { username } => {
            let user = find(username).await?;
            let password = read_password()?;
            let audit = cli_entry(AuditAction::PasswordReset, None).detail(user.username.clone());
            match crate::services::accounts::reset_password(store, &user, password, &audit).await {
                Ok(()) => {}
                Err(crate::services::accounts::AccountError::Store(err)) => {
                    return Err(CliError::Store(err));
                }
                Err(other) => return Err(CliError::Invalid(other.to_string())),
            }
            println!("new password set for {}", user.username);
            Ok(())
        }
        UserCommand::List => {
            for user in store.users().await.map_err(CliError::Store)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    user.username,
                    user.role.key(),
                    user.province.map(|p| p.code).unwrap_or_else(|| "-".into()),
                    if user.active { "active" } else { "disabled" },
                    user.display_name
                );
            }
            Ok(())
        }
    }
}

fn connect_options(config: &Config) -> ConnectOptions {
    ConnectOptions {
        max_connections: config.database_max_connections,
        connect_timeout: Duration::from_secs(config.database_connect_timeout_secs),
        group_commit: config.database_group_commit,
    }
}

async fn open(config: &Config) -> Result<store::SqlStore, OpenError> {
    store::open(&config.database_url, &connect_options(config)).await
}

/// `sipas migrate`: the owner's URL applies the migrations; on PostgreSQL the application's
/// role, when it is another one, is granted its privileges.
async fn migrate(config: &Config) -> Result<(), CliError> {
    let (owner_url, application_role) = config
        .owner_and_application_role()
        .map_err(CliError::Settings)?;
    let (store, applied) = store::migrate_counting(
        owner_url,
        &connect_options(config),
        application_role.as_deref(),
    )
    .await?;
    let engine = store.engine_name();
    tracing::info!(engine, applied, "migrations applied");
    match (&application_role, store.engine_kind()) {
        (Some(role), _) => {
            tracing::info!(engine, role = %role, "database is up to date; the application role has its privileges")
        }
        (None, store::Engine::Postgres) => tracing::warn!(
            engine,
            "database is up to date, but `sipas serve` will refuse to run as its owner: set \
             migrate_database_url to the owner's URL and database_url to the application role's \
             (docs/operations.md)"
        ),
        (None, store::Engine::Sqlite) => tracing::info!(engine, "database is up to date"),
    }
    store.close().await;
    Ok(())
}

/// The shared lock a server holds on its SQLite file (see `store::sqlite::serving_lock`).
fn serving_lock(url: &str) -> Result<std::fs::File, CliError> {
    let path = store::sqlite::serving_lock(&store::sqlite::path_of(url));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| CliError::Write {
            path: path.clone(),
            source,
        })?;
    match file.try_lock_shared() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(CliError::Invalid(format!(
            "{} is being restored (sipas restore): start the server when it has finished",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(source)) => Err(CliError::Write { path, source }),
    }
}

/// `sipas serve` refuses a PostgreSQL role that could change a published release (its owner,
/// a superuser, or one granted UPDATE, DELETE, TRUNCATE or TRIGGER on the published records);
/// on SQLite it says where the protection ends.
async fn check_published_records_guard(store: &store::SqlStore) -> Result<(), CliError> {
    match store.published_records_guard().await {
        Ok(store::PublishedRecordsGuard::Enforced) => Ok(()),
        Ok(store::PublishedRecordsGuard::FileOwner) => {
            tracing::warn!(
                "SQLite: published releases are guarded by triggers against the application's \
                 statements, but whoever can write the database file can change anything; keep \
                 the file's permissions to the service account and back it up \
                 (docs/operations.md)"
            );
            Ok(())
        }
        Ok(store::PublishedRecordsGuard::Weak(reasons)) => Err(CliError::OwnerRole(reasons)),
        Err(err) => Err(CliError::OwnerRole(vec![format!(
            "the role's privileges could not be read: {err}"
        )])),
    }
}

fn leptos_options() -> Result<leptos::config::LeptosOptions, CliError> {
    leptos::config::get_configuration(None)
        .map(|conf| conf.leptos_options)
        .map_err(|err| CliError::Leptos(err.to_string()))
}

async fn serve(config: &Config, demo: bool) -> Result<(), CliError> {
    let leptos_options = leptos_options()?;
    let addr = leptos_options.site_addr;
    let listener = Listener::bind(addr).await?;
    let store = open(config).await?;
    check_published_records_guard(&store).await?;
    // SQLite: held while serving, so `sipas restore` cannot replace the file under us.
    let _serving = match store.engine_kind() {
        store::Engine::Sqlite => Some(serving_lock(&config.database_url)?),
        store::Engine::Postgres => None,
    };
    if demo {
        crate::services::demo::seed(&store)
            .await
            .map_err(CliError::Demo)?;
        crate::services::demo::seed_history(&store)
            .await
            .map_err(CliError::Demo)?;
    }
    let engine = store.engine_name();
    let pkg = std::path::Path::new(leptos_options.site_root.as_ref())
        .join(leptos_options.site_pkg_dir.as_ref());
    let mount = format!("/{}", leptos_options.site_pkg_dir);
    let settings = crate::startup::Settings::from_config(config, leptos_options)
        .map_err(CliError::Settings)?;
    settings.assets.load(pkg, mount).await;
    let application = crate::startup::Application::build(std::sync::Arc::new(store), settings);
    tracing::info!(%addr, engine, "listening on http://{addr}");
    listener
        .run_until(
            application.state,
            crate::web::ServeSettings::from_config(config),
            crate::web::shutdown_signal(),
        )
        .await
        .map_err(CliError::Serve)
}

fn print_config(config: &Config) -> Result<(), CliError> {
    let ours =
        toml::to_string_pretty(&config.redacted()).map_err(|e| CliError::Print(e.to_string()))?;
    println!("# sipas settings (defaults < file < SIPAS_* / DATABASE_URL)\n{ours}");
    match leptos_options() {
        Ok(options) => {
            println!("# Leptos settings (LEPTOS_*)");
            println!("site_addr = \"{}\"", options.site_addr);
            println!("site_root = \"{}\"", options.site_root);
            println!("site_pkg_dir = \"{}\"", options.site_pkg_dir);
            println!("output_name = \"{}\"", options.output_name);
            println!("env = \"{:?}\"", options.env);
        }
        Err(err) => println!("# Leptos settings unavailable: {err}"),
    }
    Ok(())
}
