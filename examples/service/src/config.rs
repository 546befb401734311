//! The service's settings, from the environment.

use std::net::IpAddr;
use std::time::Duration;

/// What the service runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where the events and read models live (`DATABASE_URL`); a SQLite file by default.
    pub database_url: String,
    /// The address to serve on (`HOST`, 127.0.0.1 by default; `0.0.0.0` in a container).
    pub host: IpAddr,
    /// The port to serve on (`PORT`, 3000 by default; 0 picks a free one).
    pub port: u16,
    /// How long a projection's claim lasts unless renewed (`HANDLER_LEASE_MS`): how long a
    /// killed process's projections wait before another process takes them over.
    pub lease: Duration,
    /// How many times a command is decided again after a version conflict
    /// (`COMMAND_RETRIES`, 10 by default).
    pub command_retries: u32,
}

/// The database used when `DATABASE_URL` is not set: a file beside the working directory,
/// created on first run.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://service.db?mode=rwc";

impl Config {
    /// Reads the settings from the environment.
    ///
    /// # Errors
    /// A message naming the variable whose value is not a number.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings from `lookup` (the environment, or a test's map).
    ///
    /// # Errors
    /// A message naming the variable whose value is not a number.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let number = |name: &str, default: u64| -> Result<u64, String> {
            match lookup(name) {
                None => Ok(default),
                Some(value) => value
                    .trim()
                    .parse()
                    .map_err(|_| format!("{name} must be a whole number, not `{value}`")),
            }
        };
        let port = number("PORT", 3000)?;
        let port =
            u16::try_from(port).map_err(|_| format!("PORT must be at most 65535, not {port}"))?;
        let lease_ms = number(
            "HANDLER_LEASE_MS",
            u64::try_from(evtstore::DEFAULT_LEASE.as_millis()).unwrap_or(10_000),
        )?;
        let retries = number("COMMAND_RETRIES", 10)?;
        let host = match lookup("HOST") {
            None => IpAddr::from([127, 0, 0, 1]),
            Some(host) => host
                .trim()
                .parse()
                .map_err(|_| format!("HOST must be an IP address, not `{host}`"))?,
        };
        Ok(Config {
            database_url: lookup("DATABASE_URL")
                .filter(|url| !url.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            host,
            port,
            lease: Duration::from_millis(lease_ms.max(1)),
            command_retries: u32::try_from(retries)
                .map_err(|_| format!("COMMAND_RETRIES is too large: {retries}"))?,
        })
    }
}

/// `url` with its password, if any, replaced by `***`, for the log.
#[must_use]
pub fn redacted(url: &str) -> String {
    let Some(authority_start) = url.find("://").map(|at| at + 3) else {
        return url.to_owned();
    };
    let authority_end = url[authority_start..]
        .find(['/', '?'])
        .map_or(url.len(), |end| authority_start + end);
    let authority = &url[authority_start..authority_end];
    let Some((user_info, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let Some((user, _password)) = user_info.split_once(':') else {
        return url.to_owned();
    };
    format!(
        "{}{user}:***@{host}{}",
        &url[..authority_start],
        &url[authority_end..]
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::{Config, DEFAULT_DATABASE_URL, redacted};

    #[test]
    fn passwords_stay_out_of_the_log() {
        assert_eq!(
            redacted("postgres://app:s3cret@db:5432/app?sslmode=require"),
            "postgres://app:***@db:5432/app?sslmode=require"
        );
        assert_eq!(
            redacted("mysql://root@127.0.0.1/test"),
            "mysql://root@127.0.0.1/test"
        );
        assert_eq!(
            redacted("sqlite://service.db?mode=rwc"),
            "sqlite://service.db?mode=rwc"
        );
    }

    fn config(vars: &[(&str, &str)]) -> Result<Config, String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_need_no_database_set_up() {
        let config = config(&[]).unwrap();
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.port, 3000);
        assert_eq!(config.host.to_string(), "127.0.0.1");
        assert_eq!(config.lease, evtstore::DEFAULT_LEASE);
        assert_eq!(config.command_retries, 10);
    }

    #[test]
    fn bad_numbers_name_their_variable() {
        assert_eq!(
            config(&[("PORT", "http")]).unwrap_err(),
            "PORT must be a whole number, not `http`"
        );
        assert_eq!(
            config(&[("PORT", "70000")]).unwrap_err(),
            "PORT must be at most 65535, not 70000"
        );
        assert_eq!(
            config(&[("HOST", "localhost")]).unwrap_err(),
            "HOST must be an IP address, not `localhost`"
        );
        let lease = config(&[("HANDLER_LEASE_MS", "1500")]).unwrap().lease;
        assert_eq!(lease, Duration::from_millis(1500));
    }
}
