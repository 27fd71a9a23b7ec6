//! Configuration: built-in defaults, then an optional TOML file, then environment variables.
//!
//! Our own settings live here; the Leptos deployment settings (`LEPTOS_SITE_ADDR`,
//! `LEPTOS_SITE_ROOT`, `LEPTOS_SITE_PKG_DIR`, ...) keep their usual meaning and are read by
//! `leptos::config::get_configuration`.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Every setting's name, as `SIPAS_<NAME>` in the environment.
const SETTINGS: [&str; 22] = [
    "job_lease_secs",
    "database_url",
    "migrate_database_url",
    "throttle_secret",
    "metrics_token",
    "metrics_allow_from",
    "log_format",
    "database_max_connections",
    "database_connect_timeout_secs",
    "database_group_commit",
    "log",
    "client_ip_header",
    "max_connections",
    "max_requests_in_flight",
    "limit_open_link_per_minute",
    "limit_code_pages_per_minute",
    "limit_submissions_per_minute",
    "open_link_codes_per_hour",
    "header_read_timeout_secs",
    "public_origin",
    "session_idle_minutes",
    "session_absolute_hours",
];

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "sipas.toml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite://path` (the embedded default) or `postgres://user:password@host/db`.
    pub database_url: String,
    /// PostgreSQL: the schema owner's URL, used only by `sipas migrate`; the server runs as
    /// the role in `database_url`, which `sipas migrate` grants exactly what the application
    /// needs (docs/operations.md). Unset: `sipas migrate` connects with `database_url`.
    pub migrate_database_url: Option<String>,
    /// Keys the hashes of client addresses in the sign-in throttle. Servers sharing one
    /// database must share it, or each counts failed sign-ins apart. Unset: random per process
    /// (right for one server).
    pub throttle_secret: Option<String>,
    /// `/metrics` answers a request bearing `Authorization: Bearer <token>`, from anywhere.
    pub metrics_token: Option<String>,
    /// `/metrics` answers, without a token, clients in these address ranges (comma-separated
    /// CIDR; the connection's peer address, never a forwarded header). Empty: none.
    pub metrics_allow_from: String,
    /// `text` (readable) or `json` (one object a line, for a log collector).
    pub log_format: LogFormat,
    /// Seconds a background job (a results computation) may go without its server renewing
    /// its lease before another server, or this one after a restart, takes it over.
    pub job_lease_secs: u64,
    /// Upper bound of the connection pool.
    pub database_max_connections: u32,
    /// Seconds to wait for a database connection at start-up before giving up.
    pub database_connect_timeout_secs: u64,
    /// Submissions and draft saves are written by one task that commits the ones arriving
    /// together in one durable transaction (group commit). `false` commits each on its own (the benchmark's
    /// baseline).
    pub database_group_commit: bool,
    /// Log filter, `tracing_subscriber::EnvFilter` syntax; `RUST_LOG` overrides it.
    pub log: String,
    /// Behind a reverse proxy: the header that carries the client address (`x-forwarded-for`,
    /// whose last entry is taken, the one the proxy appended; or `x-real-ip`). Unset: the peer
    /// address of the connection. Only used in memory, for rate limits; never stored or logged.
    pub client_ip_header: Option<String>,
    /// Open connections at most; more wait in the operating system's backlog.
    pub max_connections: usize,
    /// Requests being handled at most; beyond it a request is answered at once with
    /// 503 and `Retry-After` (load shedding) rather than queued without bound.
    pub max_requests_in_flight: usize,
    /// Per client and minute (0 = no limit): open-link sign-ups.
    pub limit_open_link_per_minute: u32,
    /// Per client and minute (0 = no limit): survey pages and code look-ups.
    pub limit_code_pages_per_minute: u32,
    /// Per client and minute (0 = no limit): submissions and form posts.
    pub limit_submissions_per_minute: u32,
    /// Open-link codes a wave hands out per hour at most, over all clients (0 = no cap).
    pub open_link_codes_per_hour: u32,
    /// Seconds a client has to send a request's headers (slow-loris defence).
    pub header_read_timeout_secs: u64,
    /// The origin browsers use, e.g. `https://sipas.example.gov.vn`, when a reverse proxy
    /// rewrites Host: form posts must come from it, printed invitations link to it, and an
    /// `https://` origin makes the staff session cookie `Secure`. Unset: the request's Host.
    pub public_origin: Option<String>,
    /// A staff session unused this long ends (minutes).
    pub session_idle_minutes: u64,
    /// A staff session ends this long after sign-in, however busy (hours).
    pub session_absolute_hours: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://sipas.db".to_owned(),
            migrate_database_url: None,
            throttle_secret: None,
            metrics_token: None,
            metrics_allow_from: "127.0.0.1/32,::1/128".to_owned(),
            log_format: LogFormat::Text,
            job_lease_secs: 60,
            database_max_connections: 10,
            database_connect_timeout_secs: 10,
            database_group_commit: true,
            log: "info,sqlx=warn".to_owned(),
            client_ip_header: None,
            max_connections: 2048,
            max_requests_in_flight: 512,
            // Generous: many phones share one address behind carrier-grade NAT.
            limit_open_link_per_minute: 20,
            limit_code_pages_per_minute: 240,
            limit_submissions_per_minute: 120,
            open_link_codes_per_hour: 2000,
            header_read_timeout_secs: 10,
            public_origin: None,
            session_idle_minutes: 30,
            session_absolute_hours: 12,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path} does not exist")]
    MissingFile { path: PathBuf },
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
}

impl Config {
    /// Loads the layers. An explicitly named file must exist; the default one is optional.
    /// Environment: `DATABASE_URL`, and `SIPAS_<FIELD>` for every field (e.g. `SIPAS_LOG`).
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError::MissingFile {
                    path: path.to_owned(),
                });
            }
            Some(path) => figment = figment.merge(Toml::file(path)),
            None => figment = figment.merge(Toml::file(DEFAULT_CONFIG_FILE)),
        }
        // Only our own keys: other SIPAS_* variables (SIPAS_CONFIG, tooling) are not settings.
        figment
            .merge(Env::prefixed("SIPAS_").only(&SETTINGS))
            .merge(Env::raw().only(&["DATABASE_URL"]))
            .extract()
            .map_err(|err| ConfigError::Invalid(Box::new(err)))
    }

    /// The schema owner's URL (`sipas migrate`, `sipas restore`), and the application role to
    /// grant when the server's role (the user of `database_url`) is another one (PostgreSQL).
    /// The two URLs must name the same database: migrating one and serving another would
    /// leave the served one unmigrated, and a restore would go where the server does not look.
    pub fn owner_and_application_role(&self) -> Result<(&str, Option<String>), String> {
        let owner = self
            .migrate_database_url
            .as_deref()
            .unwrap_or(&self.database_url);
        let (served, migrated) = (database_named(&self.database_url), database_named(owner));
        if served != migrated {
            return Err(format!(
                "migrate_database_url names {migrated} but database_url names {served}: both \
                 must name the same database (only the role differs)"
            ));
        }
        let application_role = crate::store::postgres_user(&self.database_url)
            .filter(|role| crate::store::postgres_user(owner).as_ref() != Some(role));
        Ok((owner, application_role))
    }

    /// The public origin without a trailing slash, if set.
    pub fn public_origin(&self) -> Option<String> {
        self.public_origin
            .as_deref()
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
    }

    /// The staff side's settings.
    pub fn staff_settings(&self) -> crate::staff::StaffSettings {
        crate::staff::StaffSettings {
            session_idle: std::time::Duration::from_secs(self.session_idle_minutes.max(1) * 60),
            session_absolute: std::time::Duration::from_secs(
                self.session_absolute_hours.max(1) * 3600,
            ),
            secure_cookies: self
                .public_origin()
                .is_some_and(|o| o.starts_with("https://")),
            throttle_secret: self.throttle_secret.clone().filter(|s| !s.is_empty()),
            job_lease: std::time::Duration::from_secs(self.job_lease_secs.max(1)),
        }
    }

    /// The configuration as TOML with secrets replaced, for `sipas config`.
    pub fn redacted(&self) -> Self {
        Self {
            database_url: redact_url(&self.database_url),
            migrate_database_url: self.migrate_database_url.as_deref().map(redact_url),
            throttle_secret: self.throttle_secret.as_ref().map(|_| "***".to_owned()),
            metrics_token: self.metrics_token.as_ref().map(|_| "***".to_owned()),
            ..self.clone()
        }
    }
}

/// Which database a URL names, whoever connects: `postgres host:port/name` or `sqlite PATH`.
fn database_named(url: &str) -> String {
    if url.starts_with("sqlite:") {
        return format!("sqlite {}", crate::store::sqlite::path_of(url).display());
    }
    match url::Url::parse(url) {
        Ok(parsed) => format!(
            "the database {} on {}:{}",
            parsed.path().trim_start_matches('/'),
            parsed.host_str().unwrap_or("localhost"),
            parsed.port().unwrap_or(5432)
        ),
        Err(_) => redact_url(url),
    }
}

/// Hides the password of a `scheme://user:password@host/...` URL, and the value of a
/// `password=` (or `sslpassword=`) query parameter. The user part ends at the URL's last `@`,
/// so a password typed without percent-encoding (with `@`, `?`, `/` or `#` in it) is hidden
/// whole, not cut at its first special character.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return redact_query(url);
    };
    match rest.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split_once(':').map(|(user, _)| user);
            match user {
                Some(user) => format!("{scheme}://{user}:***@{}", redact_query(host)),
                None => format!("{scheme}://{credentials}@{}", redact_query(host)),
            }
        }
        None => format!("{scheme}://{}", redact_query(rest)),
    }
}

/// The values of `…password=` query parameters hidden.
fn redact_query(address: &str) -> String {
    let Some((before, query)) = address.split_once('?') else {
        return address.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.to_ascii_lowercase().ends_with("password") => {
                format!("{key}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{before}?{}", pairs.join("&"))
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("postgres://sipas:s3cret@db:5432/sipas"),
            "postgres://sipas:***@db:5432/sipas"
        );
        assert_eq!(
            redact_url("postgres://sipas@db/sipas"),
            "postgres://sipas@db/sipas"
        );
        assert_eq!(redact_url("sqlite://sipas.db"), "sqlite://sipas.db");
        assert_eq!(
            redact_url("postgres://db/sipas?user=sipas&password=s3cret&sslmode=require"),
            "postgres://db/sipas?user=sipas&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://u:p@db/sipas?sslpassword=k"),
            "postgres://u:***@db/sipas?sslpassword=***"
        );
        // A password typed without percent-encoding is hidden whole.
        assert_eq!(
            redact_url("postgres://app:Ap/p@x%20y:z?#1@127.0.0.1:5432/sipas"),
            "postgres://app:***@127.0.0.1:5432/sipas"
        );
    }

    #[test]
    fn the_owner_and_the_server_name_one_database() {
        let config = |served: &str, migrated: Option<&str>| Config {
            database_url: served.to_owned(),
            migrate_database_url: migrated.map(str::to_owned),
            ..Config::default()
        };
        let both = config(
            "postgres://app:a@db:5432/sipas",
            Some("postgres://owner:o@db/sipas"),
        );
        let (owner, role) = both.owner_and_application_role().expect("same database");
        assert_eq!(owner, "postgres://owner:o@db/sipas");
        assert_eq!(role.as_deref(), Some("app"));
        let other = config(
            "postgres://app:a@db/sipas",
            Some("postgres://owner:o@db/sipas_restored"),
        );
        let err = other
            .owner_and_application_role()
            .expect_err("two databases");
        assert!(err.contains("sipas_restored on db:5432"), "{err}");
        assert!(!err.contains(":o@"), "no password in the message: {err}");
        let alone = config("postgres://owner:o@db/sipas", None);
        assert_eq!(alone.owner_and_application_role().expect("one URL").1, None);
    }

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "custom.toml",
                "database_url = \"sqlite://from-file.db\"\nlog = \"debug\"",
            )?;
            jail.set_env("SIPAS_LOG", "warn");
            jail.set_env("SIPAS_BIN", "/not/a/setting");
            let config = Config::load(Some(Path::new("custom.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.database_url, "sqlite://from-file.db");
            assert_eq!(config.log, "warn");
            jail.set_env("DATABASE_URL", "postgres://u:p@h/d");
            let config = Config::load(Some(Path::new("custom.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.database_url, "postgres://u:p@h/d");
            assert_eq!(config.database_max_connections, 10);
            Ok(())
        });
    }

    #[test]
    fn named_file_must_exist_and_unknown_keys_are_refused() {
        figment::Jail::expect_with(|jail| {
            assert!(matches!(
                Config::load(Some(Path::new("nope.toml"))),
                Err(ConfigError::MissingFile { .. })
            ));
            jail.create_file("bad.toml", "databse_url = \"x\"")?;
            assert!(Config::load(Some(Path::new("bad.toml"))).is_err());
            Ok(())
        });
    }
}
