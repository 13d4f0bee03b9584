//! Process settings from the environment and an optional `.env` file in the working
//! directory (the keys the Python SDK reads), without setting any environment variable.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use crate::bedrock::client::NetworkSettings;

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

#[derive(Debug, Clone)]
pub struct Settings {
    pub install_method: InstallMethod,
    pub heartbeat_interval: Duration,
    /// Most sessions served at once; later requests wait (the SDK's `MAX_WORKER`).
    pub max_workers: usize,
    /// How long in-flight sessions may run on after stdin closes or SIGTERM arrives.
    pub shutdown_grace: Duration,
    /// Timeouts and retries of calls to AWS.
    pub network: NetworkSettings,
}

impl Settings {
    /// Reads the process environment, then `.env` in the working directory for keys the
    /// environment does not set.
    pub fn load() -> Result<Settings, SettingsError> {
        let mut vars: HashMap<String, String> = HashMap::new();
        if let Ok(iter) = dotenvy::from_path_iter(".env") {
            for (k, v) in iter.flatten() {
                vars.insert(k, v);
            }
        }
        vars.extend(std::env::vars());
        Settings::from_vars(&vars)
    }

    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Settings, SettingsError> {
        let get = |k: &str| vars.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let install_method = match get("INSTALL_METHOD")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("local") => InstallMethod::Local,
            Some("remote") => InstallMethod::Remote,
            Some("serverless") | Some("aws_lambda") => InstallMethod::Serverless,
            Some(other) => {
                return Err(SettingsError {
                    variable: "INSTALL_METHOD",
                    message: format!(
                        "INSTALL_METHOD={other} is not one of local, remote, serverless"
                    ),
                });
            }
        };
        let number = |k: &'static str, default: u64| -> Result<u64, SettingsError> {
            match get(k) {
                None => Ok(default),
                Some(v) => v.parse::<u64>().map_err(|_| SettingsError {
                    variable: k,
                    message: format!("{k}={v} is not a whole number"),
                }),
            }
        };
        let defaults = NetworkSettings::default();
        let secs = |k: &'static str, d: Duration| -> Result<Duration, SettingsError> {
            Ok(Duration::from_secs(number(k, d.as_secs())?.max(1)))
        };
        let network = NetworkSettings {
            connect_timeout: secs(
                "DIFY_BEDROCK_CONNECT_TIMEOUT_SECS",
                defaults.connect_timeout,
            )?,
            read_timeout: secs("DIFY_BEDROCK_READ_TIMEOUT_SECS", defaults.read_timeout)?,
            stream_idle_timeout: secs(
                "DIFY_BEDROCK_STREAM_IDLE_TIMEOUT_SECS",
                defaults.stream_idle_timeout,
            )?,
            max_attempts: number("DIFY_BEDROCK_MAX_ATTEMPTS", defaults.max_attempts as u64)?
                .clamp(1, 10) as u32,
            initial_backoff: Duration::from_millis(number(
                "DIFY_BEDROCK_RETRY_BACKOFF_MS",
                defaults.initial_backoff.as_millis() as u64,
            )?),
            ca_bundle: crate::bedrock::client::CaBundle::from_vars(vars),
        };
        Ok(Settings {
            network,
            install_method,
            heartbeat_interval: Duration::from_secs(number("HEARTBEAT_INTERVAL", 10)?.max(1)),
            max_workers: number("MAX_WORKER", 1000)?.max(1) as usize,
            shutdown_grace: Duration::from_millis(number("DIFY_BEDROCK_SHUTDOWN_GRACE_MS", 5000)?),
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
    fn defaults_match_the_sdk() {
        let s = Settings::from_vars(&vars(&[])).expect("defaults");
        assert_eq!(s.install_method, InstallMethod::Local);
        assert_eq!(s.heartbeat_interval, Duration::from_secs(10));
        assert_eq!(s.max_workers, 1000);
    }

    #[test]
    fn bad_values_are_named() {
        let e =
            Settings::from_vars(&vars(&[("INSTALL_METHOD", "carrier-pigeon")])).expect_err("bad");
        assert_eq!(e.variable, "INSTALL_METHOD");
        assert!(e.message.contains("carrier-pigeon"));
        let e = Settings::from_vars(&vars(&[("MAX_WORKER", "lots")])).expect_err("bad");
        assert_eq!(e.variable, "MAX_WORKER");
        assert!(e.message.contains("MAX_WORKER"));
    }
}
