//! The Python runner's config shape, for `App`'s `Deserialize` (feature `serde`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::app::{App, Buffering, Stderr, Transport};
use super::restart::Restart;
use crate::limit::Limit;

#[derive(Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum AppType {
    #[default]
    Stdio,
    Socket,
    Pty,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppConfig {
    command: String,
    #[serde(rename = "type", default)]
    kind: AppType,
    cwd: Option<PathBuf>,
    socket: Option<PathBuf>,
    #[serde(default)]
    buffering: Buffering,
    #[serde(default)]
    setpgrp: bool,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    stderr: Stderr,
    #[serde(default)]
    transport: Transport,
    /// Seconds.
    socket_wait: Option<f64>,
    /// Seconds.
    termination_grace: Option<f64>,
    #[serde(default)]
    restart: Restart,
    /// Seconds: `[initial, max]`.
    backoff: Option<(f64, f64)>,
    max_restarts: Option<u32>,
    /// Seconds.
    restart_window: Option<f64>,
    #[serde(default)]
    die_with_parent: bool,
    #[serde(default)]
    limits: LimitsConfig,
    /// Seconds: the bank of time a bot may go over its turns' deadlines.
    overage: Option<f64>,
}

/// `"limits": {"memory": 268435456, "cpu_time": 10, ...}`: bytes, seconds, counts.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitsConfig {
    memory: Option<u64>,
    /// Seconds.
    cpu_time: Option<f64>,
    open_files: Option<u64>,
    processes: Option<u64>,
    file_size: Option<u64>,
    core_dump: Option<u64>,
}

impl LimitsConfig {
    fn limits(&self) -> Result<Vec<Limit>, ConfigError> {
        let mut limits: Vec<Limit> = [
            self.memory.map(Limit::Memory),
            self.open_files.map(Limit::OpenFiles),
            self.processes.map(Limit::Processes),
            self.file_size.map(Limit::FileSize),
            self.core_dump.map(Limit::CoreDump),
        ]
        .into_iter()
        .flatten()
        .collect();
        if let Some(cpu) = self.cpu_time {
            limits.push(Limit::CpuTime(seconds(cpu, "limits.cpu_time")?));
        }
        Ok(limits)
    }
}

/// A config that names no way to reach its app.
#[derive(Debug)]
pub(crate) struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<AppConfig> for App {
    type Error = ConfigError;

    fn try_from(config: AppConfig) -> Result<App, ConfigError> {
        let mut app = App::new(config.command)
            .buffering(config.buffering)
            .setpgrp(config.setpgrp)
            .stderr(config.stderr)
            .transport(config.transport)
            .restart(config.restart)
            .die_with_parent(config.die_with_parent)
            .pty(config.kind == AppType::Pty);
        // As in the Python runner, `socket` means something only for socket apps,
        // which may also get their path at start.
        if config.kind == AppType::Socket {
            app.socket_type = true;
            if let Some(socket) = config.socket {
                app = app.socket(socket);
            }
        }
        if let Some(cwd) = config.cwd {
            app = app.cwd(cwd);
        }
        for (key, value) in config.env {
            app = app.env(key, value);
        }
        if let Some(wait) = config.socket_wait {
            app = app.socket_wait(seconds(wait, "socket_wait")?);
        }
        if let Some(grace) = config.termination_grace {
            app = app.termination_grace(seconds(grace, "termination_grace")?);
        }
        if let Some((initial, max)) = config.backoff {
            app = app.backoff(seconds(initial, "backoff")?, seconds(max, "backoff")?);
        }
        if let Some(bank) = config.overage {
            app = app.overage(seconds(bank, "overage")?);
        }
        for limit in config.limits.limits()? {
            app = app.limit(limit);
        }
        if config.max_restarts.is_some() || config.restart_window.is_some() {
            let window = config.restart_window.map(|w| seconds(w, "restart_window")).transpose()?;
            let n = config.max_restarts.unwrap_or(u32::MAX);
            app = app.max_restarts(n, window.unwrap_or(Duration::from_secs(60)));
        }
        Ok(app)
    }
}

fn seconds(value: f64, field: &str) -> Result<Duration, ConfigError> {
    Duration::try_from_secs_f64(value).map_err(|e| ConfigError(format!("{field}: {e}")))
}
