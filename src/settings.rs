//! Process settings from the environment and an optional `.env` file in the working
//! directory — the variables the Python SDK reads (`dify_plugin/config/config.py`) and
//! the daemon's own knobs the plugin inherits — with command-line overrides on top.
//! Nothing here sets an environment variable.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use crate::bedrock::client::NetworkSettings;
use crate::bedrock::secret::Secret;

/// How the daemon talks to this process (`INSTALL_METHOD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallMethod {
    /// Installed plugin: the daemon's pipes on stdin/stdout.
    Local,
    /// Remote debugging: a TCP connection to the daemon.
    Remote,
    /// Serverless: an HTTP server.
    Serverless,
}

/// A variable whose value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    pub variable: &'static str,
    pub message: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SettingsError {}

/// Where remote debugging connects, and the key Dify showed for it.
#[derive(Debug, Clone)]
pub struct RemoteSettings {
    pub host: String,
    pub port: u16,
    pub key: Option<Secret>,
}

/// The serverless HTTP server.
#[derive(Debug, Clone)]
pub struct ServerlessSettings {
    pub host: String,
    pub port: u16,
    /// Request bodies above this are refused (the daemon's `MAX_SERVERLESS_REQUEST_BYTES`).
    pub max_request_bytes: usize,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub install_method: InstallMethod,
    pub heartbeat_interval: Duration,
    /// Most sessions served at once; later requests wait (the SDK's `MAX_WORKER`).
    pub max_workers: usize,
    /// A session silent this long is ended with an error (the SDK's `MAX_REQUEST_TIMEOUT`).
    pub max_request_timeout: Duration,
    /// How long in-flight sessions may run on after input ends or SIGTERM arrives.
    pub shutdown_grace: Duration,
    /// The longest line the daemon reads from a local plugin's stdout.
    pub local_max_line: usize,
    /// The longest line the daemon reads from a serverless response.
    pub serverless_max_line: usize,
    pub remote: RemoteSettings,
    pub serverless: ServerlessSettings,
    /// Timeouts and retries of calls to AWS.
    pub network: NetworkSettings,
    /// `RUST_LOG`: log level and filters.
    pub log_filter: Option<String>,
    /// What was adjusted (a value clamped into range), to log once logging is set up.
    pub notes: Vec<String>,
}

/// The daemon kills a local plugin after 120 s without output and drops a remote one
/// after 60 s without a heartbeat; 30 s keeps a wide margin under both.
pub const MAX_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);

/// The daemon's default line limit (`PLUGIN_RUNTIME_MAX_BUFFER_SIZE`).
pub const DEFAULT_MAX_LINE: usize = 5_242_880;

/// The daemon's default `MAX_SERVERLESS_REQUEST_BYTES`.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 5_242_880;

impl Settings {
    /// Reads `overrides` (the command line), then the process environment, then `.env`
    /// in the working directory, the first that sets a variable winning. Names are read
    /// without regard to case, as the SDK reads them.
    pub fn load(overrides: &[(&str, String)]) -> Result<Settings, SettingsError> {
        let mut vars: HashMap<String, String> = HashMap::new();
        if let Ok(iter) = dotenvy::from_path_iter(".env") {
            for (k, v) in iter.flatten() {
                vars.insert(k.to_ascii_uppercase(), v);
            }
        }
        vars.extend(std::env::vars().map(|(k, v)| (k.to_ascii_uppercase(), v)));
        vars.extend(overrides.iter().map(|(k, v)| (k.to_string(), v.clone())));
        Settings::from_vars(&vars)
    }

    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Settings, SettingsError> {
        let vars = Vars(vars);
        let install_method = match vars
            .get("INSTALL_METHOD")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("local") => InstallMethod::Local,
            Some("remote") => InstallMethod::Remote,
            Some("serverless") => InstallMethod::Serverless,
            Some(other) => {
                return Err(SettingsError {
                    variable: "INSTALL_METHOD",
                    message: format!(
                        "INSTALL_METHOD={other} is not one of local, remote, serverless"
                    ),
                });
            }
        };
        let mut notes = Vec::new();
        let defaults = NetworkSettings::default();
        let network = NetworkSettings {
            connect_timeout: vars.secs(
                "DIFY_BEDROCK_CONNECT_TIMEOUT_SECS",
                defaults.connect_timeout,
            )?,
            read_timeout: vars.secs("DIFY_BEDROCK_READ_TIMEOUT_SECS", defaults.read_timeout)?,
            stream_idle_timeout: vars.secs(
                "DIFY_BEDROCK_STREAM_IDLE_TIMEOUT_SECS",
                defaults.stream_idle_timeout,
            )?,
            max_attempts: vars
                .number("DIFY_BEDROCK_MAX_ATTEMPTS", defaults.max_attempts as u64)?
                .clamp(1, 10) as u32,
            initial_backoff: Duration::from_millis(vars.number(
                "DIFY_BEDROCK_RETRY_BACKOFF_MS",
                defaults.initial_backoff.as_millis() as u64,
            )?),
            ca_bundle: crate::bedrock::client::CaBundle::from_vars(vars.0),
            pool_max_idle: vars.parsed(
                "DIFY_BEDROCK_POOL_MAX_IDLE",
                defaults.pool_max_idle,
                "a whole number",
            )?,
            pool_idle_timeout: vars.secs(
                "DIFY_BEDROCK_POOL_IDLE_TIMEOUT_SECS",
                defaults.pool_idle_timeout,
            )?,
        };
        let heartbeat = vars.seconds("HEARTBEAT_INTERVAL", 10.0)?;
        let heartbeat_interval = if heartbeat > MAX_HEARTBEAT_INTERVAL {
            notes.push(format!(
                "HEARTBEAT_INTERVAL={} s is too long: the daemon drops a plugin silent for 60 s (remote) or 120 s (local); using {} s",
                heartbeat.as_secs_f64(),
                MAX_HEARTBEAT_INTERVAL.as_secs()
            ));
            MAX_HEARTBEAT_INTERVAL
        } else {
            heartbeat.max(Duration::from_millis(100))
        };
        let remote = remote_settings(&vars)?;
        if install_method == InstallMethod::Remote && remote.key.is_none() {
            return Err(SettingsError {
                variable: "REMOTE_INSTALL_KEY",
                message: "REMOTE_INSTALL_KEY is required for remote debugging: copy the debugging key from Dify (Plugins → the bug icon) into .env or the environment".into(),
            });
        }
        let serverless_default_grace = if install_method == InstallMethod::Serverless {
            // A container gets 30 s between SIGTERM and SIGKILL by default (Kubernetes,
            // ECS): let streams use most of it.
            25_000
        } else {
            5000
        };
        let runtime_max_line = vars.size("PLUGIN_RUNTIME_MAX_BUFFER_SIZE", DEFAULT_MAX_LINE)?;
        // The daemon prefers the legacy name when it is set to anything but its default
        // or 0 (`config.go::GetLocalRuntimeMaxBufferSize`).
        let local_max_line = match vars.size("PLUGIN_STDIO_MAX_BUFFER_SIZE", DEFAULT_MAX_LINE)? {
            n if n != DEFAULT_MAX_LINE && n != 0 => n,
            _ => runtime_max_line,
        };
        Ok(Settings {
            install_method,
            heartbeat_interval,
            max_workers: vars.number("MAX_WORKER", 1000)?.max(1) as usize,
            max_request_timeout: vars.secs("MAX_REQUEST_TIMEOUT", Duration::from_secs(300))?,
            shutdown_grace: Duration::from_millis(
                vars.number("DIFY_BEDROCK_SHUTDOWN_GRACE_MS", serverless_default_grace)?,
            ),
            local_max_line: local_max_line.max(1024),
            serverless_max_line: runtime_max_line.max(1024),
            remote,
            serverless: ServerlessSettings {
                host: vars.get("SERVERLESS_HOST").unwrap_or("0.0.0.0").to_string(),
                port: vars.port("SERVERLESS_PORT", 8080)?,
                max_request_bytes: vars
                    .size("MAX_SERVERLESS_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES)?
                    .max(1),
            },
            network,
            log_filter: vars.get("RUST_LOG").map(str::to_string),
            notes,
        })
    }
}

/// `REMOTE_INSTALL_URL` (`host:port` or `scheme://host:port`) wins over
/// `REMOTE_INSTALL_HOST` and `REMOTE_INSTALL_PORT`, as in the SDK.
fn remote_settings(vars: &Vars) -> Result<RemoteSettings, SettingsError> {
    let key = vars.get("REMOTE_INSTALL_KEY").map(Secret::new);
    let Some(url) = vars.get("REMOTE_INSTALL_URL") else {
        return Ok(RemoteSettings {
            host: vars
                .get("REMOTE_INSTALL_HOST")
                .unwrap_or("localhost")
                .to_string(),
            port: vars.port("REMOTE_INSTALL_PORT", 5003)?,
            key,
        });
    };
    let bad = || SettingsError {
        variable: "REMOTE_INSTALL_URL",
        message: format!(
            "REMOTE_INSTALL_URL={url} should be host:port, as Dify shows it (e.g. debug.dify.ai:5003)"
        ),
    };
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = authority.trim_end_matches('/');
    let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok(RemoteSettings {
        host: host.to_string(),
        port,
        key,
    })
}

/// The variables, trimmed; empty counts as unset.
struct Vars<'a>(&'a HashMap<String, String>);

impl Vars<'_> {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn parsed<T: std::str::FromStr>(
        &self,
        k: &'static str,
        default: T,
        what: &str,
    ) -> Result<T, SettingsError> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => v.parse::<T>().map_err(|_| SettingsError {
                variable: k,
                message: format!("{k}={v} is not {what}"),
            }),
        }
    }

    fn number(&self, k: &'static str, default: u64) -> Result<u64, SettingsError> {
        self.parsed(k, default, "a whole number")
    }

    fn size(&self, k: &'static str, default: usize) -> Result<usize, SettingsError> {
        self.parsed(k, default, "a number of bytes")
    }

    fn port(&self, k: &'static str, default: u16) -> Result<u16, SettingsError> {
        self.parsed(k, default, "a port number (1 to 65535)")
    }

    fn secs(&self, k: &'static str, default: Duration) -> Result<Duration, SettingsError> {
        Ok(Duration::from_secs(
            self.number(k, default.as_secs())?.max(1),
        ))
    }

    /// Seconds that may have a fraction (the SDK reads HEARTBEAT_INTERVAL as a float).
    fn seconds(&self, k: &'static str, default: f64) -> Result<Duration, SettingsError> {
        let v: f64 = self.parsed(k, default, "a number of seconds")?;
        Duration::try_from_secs_f64(v).map_err(|_| SettingsError {
            variable: k,
            message: format!("{k}={v} is not a number of seconds"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_the_sdk_and_the_daemon() {
        let s = Settings::from_vars(&vars(&[])).expect("defaults");
        assert_eq!(s.install_method, InstallMethod::Local);
        assert_eq!(s.heartbeat_interval, Duration::from_secs(10));
        assert_eq!(s.max_workers, 1000);
        assert_eq!(s.max_request_timeout, Duration::from_secs(300));
        assert_eq!((s.remote.host.as_str(), s.remote.port), ("localhost", 5003));
        assert_eq!(
            (s.serverless.host.as_str(), s.serverless.port),
            ("0.0.0.0", 8080)
        );
        assert_eq!(s.local_max_line, 5_242_880);
        assert_eq!(s.serverless.max_request_bytes, 5_242_880);
        assert!(s.notes.is_empty());
        assert_eq!(s.network.pool_max_idle, 10);
        assert_eq!(s.network.pool_idle_timeout, Duration::from_secs(60));
        let s = Settings::from_vars(&vars(&[
            ("DIFY_BEDROCK_POOL_MAX_IDLE", "0"),
            ("DIFY_BEDROCK_POOL_IDLE_TIMEOUT_SECS", "5"),
        ]))
        .expect("pool settings");
        assert_eq!(s.network.pool_max_idle, 0);
        assert_eq!(s.network.pool_idle_timeout, Duration::from_secs(5));
    }

    #[test]
    fn bad_values_are_named() {
        let e =
            Settings::from_vars(&vars(&[("INSTALL_METHOD", "carrier-pigeon")])).expect_err("bad");
        assert_eq!(e.variable, "INSTALL_METHOD");
        assert!(e.message.contains("carrier-pigeon"));
        for (k, v) in [
            ("MAX_WORKER", "lots"),
            ("SERVERLESS_PORT", "70000"),
            ("HEARTBEAT_INTERVAL", "-1"),
            ("REMOTE_INSTALL_URL", "debug.dify.ai"),
            ("DIFY_BEDROCK_POOL_MAX_IDLE", "plenty"),
            ("DIFY_BEDROCK_POOL_IDLE_TIMEOUT_SECS", "-5"),
        ] {
            let e = Settings::from_vars(&vars(&[(k, v)])).expect_err(k);
            assert_eq!(e.variable, k);
            assert!(e.message.contains(k), "{e}");
        }
        let e = Settings::from_vars(&vars(&[("INSTALL_METHOD", "remote")])).expect_err("no key");
        assert_eq!(e.variable, "REMOTE_INSTALL_KEY");
    }

    #[test]
    fn remote_address_as_the_sdk_reads_it() {
        let s = Settings::from_vars(&vars(&[
            ("INSTALL_METHOD", "remote"),
            ("REMOTE_INSTALL_URL", "debug.dify.ai:5003"),
            ("REMOTE_INSTALL_HOST", "ignored"),
            ("REMOTE_INSTALL_KEY", "k"),
        ]))
        .expect("url");
        assert_eq!(
            (s.remote.host.as_str(), s.remote.port),
            ("debug.dify.ai", 5003)
        );
        let s = Settings::from_vars(&vars(&[("REMOTE_INSTALL_URL", "tcp://[::1]:6000")]))
            .expect("scheme and ipv6");
        assert_eq!((s.remote.host.as_str(), s.remote.port), ("::1", 6000));
        let s = Settings::from_vars(&vars(&[
            ("REMOTE_INSTALL_HOST", "10.0.0.5"),
            ("REMOTE_INSTALL_PORT", "7000"),
        ]))
        .expect("host and port");
        assert_eq!((s.remote.host.as_str(), s.remote.port), ("10.0.0.5", 7000));
    }

    #[test]
    fn the_heartbeat_stays_under_the_daemons_thresholds() {
        let s = Settings::from_vars(&vars(&[("HEARTBEAT_INTERVAL", "300")])).expect("clamped");
        assert_eq!(s.heartbeat_interval, MAX_HEARTBEAT_INTERVAL);
        assert_eq!(s.notes.len(), 1);
        let s = Settings::from_vars(&vars(&[("HEARTBEAT_INTERVAL", "2.5")])).expect("float");
        assert_eq!(s.heartbeat_interval, Duration::from_millis(2500));
    }

    #[test]
    fn line_limits_with_the_daemons_precedence() {
        let limit = |pairs: &[(&str, &str)]| {
            let s = Settings::from_vars(&vars(pairs)).expect("valid");
            (s.local_max_line, s.serverless_max_line)
        };
        assert_eq!(
            limit(&[("PLUGIN_RUNTIME_MAX_BUFFER_SIZE", "1048576")]),
            (1_048_576, 1_048_576)
        );
        // The legacy name wins for local plugins when customised; serverless ignores it.
        assert_eq!(
            limit(&[
                ("PLUGIN_RUNTIME_MAX_BUFFER_SIZE", "1048576"),
                ("PLUGIN_STDIO_MAX_BUFFER_SIZE", "2097152")
            ]),
            (2_097_152, 1_048_576)
        );
        // At its default (or 0) the legacy name does not count.
        assert_eq!(
            limit(&[
                ("PLUGIN_RUNTIME_MAX_BUFFER_SIZE", "1048576"),
                ("PLUGIN_STDIO_MAX_BUFFER_SIZE", "5242880")
            ]),
            (1_048_576, 1_048_576)
        );
    }
}
