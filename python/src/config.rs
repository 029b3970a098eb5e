//! App options and start overrides from Python keyword arguments (or a
//! config dict's fields), with the names of the Rust config shape; each
//! unknown name or bad value is a `ConfigError` naming it.

use std::path::PathBuf;
use std::time::Duration;

use procloop::{App, Buffering, Limit, Restart, Start, Stderr, Transport};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::errors::config_error;

/// An app as configured, and whether it is a socket app still waiting for
/// its socket path (given at start then).
pub(crate) struct Configured {
    pub(crate) app: App,
    pub(crate) socket_type: bool,
}

/// Seconds as a `Duration`; `field` names the option in the error.
pub(crate) fn seconds(py: Python<'_>, value: f64, field: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|e| config_error(py, format!("{field}: {value} is not a number of seconds ({e})")))
}

fn choice<'a>(py: Python<'_>, value: &Bound<'_, PyAny>, field: &str, names: &[&'a str]) -> PyResult<&'a str> {
    let text: String =
        value.extract().map_err(|_| config_error(py, format!("{field}: expected a string")))?;
    names
        .iter()
        .find(|n| **n == text)
        .copied()
        .ok_or_else(|| config_error(py, format!("{field}: {text:?} is not one of {}", names.join(", "))))
}

fn extract<'a, 'py, T: FromPyObject<'a, 'py>>(
    py: Python<'_>,
    value: &'a Bound<'py, PyAny>,
    field: &str,
    what: &str,
) -> PyResult<T> {
    value.extract().map_err(|_| config_error(py, format!("{field}: expected {what}")))
}

/// Buffering from `"line"`, `"bytes"` or `None` (bytes); like the Python
/// runner, anything other than `"line"` means bytes.
pub(crate) fn buffering(value: &Bound<'_, PyAny>) -> Buffering {
    match value.extract::<String>() {
        Ok(text) if text == "line" => Buffering::Line,
        _ => Buffering::Bytes,
    }
}

/// An app from its command and options (`options` may hold `command` too,
/// as a config dict's entry does).
pub(crate) fn app(
    py: Python<'_>,
    command: Option<String>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Configured> {
    let mut command = command;
    let mut kind = "stdio";
    let mut socket: Option<PathBuf> = None;
    let mut backoff: Option<(Duration, Duration)> = None;
    let mut max_restarts: Option<u32> = None;
    let mut window: Option<Duration> = None;
    let mut settings: Vec<Box<dyn FnOnce(App) -> App>> = Vec::new();
    for (key, value) in options.into_iter().flat_map(|d| d.iter()) {
        let key: String = key
            .cast::<PyString>()
            .map_err(|_| config_error(py, "option names are strings".into()))?
            .to_string();
        let field = key.as_str();
        match field {
            "command" => command = Some(extract(py, &value, field, "a string")?),
            "type" => kind = choice(py, &value, field, &["stdio", "socket", "pty"])?,
            "pty" => {
                if extract::<bool>(py, &value, field, "a bool")? {
                    kind = "pty";
                }
            }
            "socket" => socket = Some(extract(py, &value, field, "a path")?),
            "cwd" => {
                if !value.is_none() {
                    let cwd: PathBuf = extract(py, &value, field, "a path")?;
                    settings.push(Box::new(move |app| app.cwd(cwd)));
                }
            }
            "buffering" => {
                let b = buffering(&value);
                settings.push(Box::new(move |app| app.buffering(b)));
            }
            "setpgrp" => {
                let on = value.is_truthy()?;
                settings.push(Box::new(move |app| app.setpgrp(on)));
            }
            "die_with_parent" => {
                let on = value.is_truthy()?;
                settings.push(Box::new(move |app| app.die_with_parent(on)));
            }
            "env" => {
                let env: Vec<(String, String)> = value
                    .cast::<PyDict>()
                    .map_err(|_| config_error(py, "env: expected a dict of strings".into()))?
                    .iter()
                    .map(|(k, v)| {
                        Ok((extract(py, &k, "env", "string keys")?, extract(py, &v, "env", "string values")?))
                    })
                    .collect::<PyResult<_>>()?;
                settings.push(Box::new(move |app| env.into_iter().fold(app, |app, (k, v)| app.env(k, v))));
            }
            "stderr" => {
                let s = match choice(py, &value, field, &["inherit", "null", "merge", "capture"])? {
                    "null" => Stderr::Null,
                    "merge" => Stderr::Merge,
                    "capture" => Stderr::Capture,
                    _ => Stderr::Inherit,
                };
                settings.push(Box::new(move |app| app.stderr(s)));
            }
            "transport" => {
                let t = match choice(py, &value, field, &["pipes", "socketpair"])? {
                    "socketpair" => Transport::SocketPair,
                    _ => Transport::Pipes,
                };
                settings.push(Box::new(move |app| app.transport(t)));
            }
            "restart" => {
                let r = match choice(py, &value, field, &["never", "on_failure", "always"])? {
                    "on_failure" => Restart::OnFailure,
                    "always" => Restart::Always,
                    _ => Restart::Never,
                };
                settings.push(Box::new(move |app| app.restart(r)));
            }
            "backoff" => {
                let (initial, max): (f64, f64) = extract(py, &value, field, "(initial, max) in seconds")?;
                backoff = Some((seconds(py, initial, field)?, seconds(py, max, field)?));
            }
            "max_restarts" => max_restarts = Some(extract(py, &value, field, "a count")?),
            "restart_window" => window = Some(seconds(py, extract(py, &value, field, "seconds")?, field)?),
            "socket_wait" => {
                let wait = seconds(py, extract(py, &value, field, "seconds")?, field)?;
                settings.push(Box::new(move |app| app.socket_wait(wait)));
            }
            "termination_grace" => {
                let grace = seconds(py, extract(py, &value, field, "seconds")?, field)?;
                settings.push(Box::new(move |app| app.termination_grace(grace)));
            }
            "limits" => {
                for limit in limits(py, &value)? {
                    settings.push(Box::new(move |app| app.limit(limit)));
                }
            }
            other => return Err(config_error(py, format!("unknown app option {other:?}"))),
        }
    }
    let command = command.ok_or_else(|| config_error(py, "an app needs a \"command\"".into()))?;
    let mut app = settings.into_iter().fold(App::new(command), |app, set| set(app));
    app = app.pty(kind == "pty");
    let mut socket_type = false;
    if kind == "socket" {
        match socket {
            Some(path) => app = app.socket(path),
            None => socket_type = true,
        }
    }
    if let Some((initial, max)) = backoff {
        app = app.backoff(initial, max);
    }
    if max_restarts.is_some() || window.is_some() {
        app = app.max_restarts(max_restarts.unwrap_or(u32::MAX), window.unwrap_or(Duration::from_secs(60)));
    }
    Ok(Configured { app, socket_type })
}

/// The names of the limits a `limits` dict may hold, as in the Rust config.
const LIMIT_NAMES: &str = "memory, cpu_time, open_files, processes, file_size, core_dump";

/// Resource limits from a `limits` dict (as the Rust config's `"limits"`):
/// `memory`, `file_size`, `core_dump` in bytes, `cpu_time` in seconds,
/// `open_files` and `processes` counts; a `None` value sets nothing.
fn limits(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Vec<Limit>> {
    if value.is_none() {
        return Ok(Vec::new());
    }
    let dict = value
        .cast::<PyDict>()
        .map_err(|_| config_error(py, format!("limits: expected a dict of {LIMIT_NAMES}")))?;
    let mut out = Vec::new();
    for (name, value) in dict.iter() {
        let name: String = extract(py, &name, "limits", "string keys")?;
        if value.is_none() {
            continue;
        }
        let field = format!("limits.{name}");
        let field = field.as_str();
        let bytes = "a number of bytes (an int, 0 or more)";
        let count = "a count (an int, 0 or more)";
        out.push(match name.as_str() {
            "memory" => Limit::Memory(extract(py, &value, field, bytes)?),
            "cpu_time" => Limit::CpuTime(seconds(py, extract(py, &value, field, "seconds")?, field)?),
            "open_files" => Limit::OpenFiles(extract(py, &value, field, count)?),
            "processes" => Limit::Processes(extract(py, &value, field, count)?),
            "file_size" => Limit::FileSize(extract(py, &value, field, bytes)?),
            "core_dump" => Limit::CoreDump(extract(py, &value, field, bytes)?),
            other => {
                return Err(config_error(
                    py,
                    format!("limits: unknown limit {other:?} (known: {LIMIT_NAMES})"),
                ));
            }
        });
    }
    Ok(out)
}

/// Start options: alias, extra arguments and the overrides `socket`, `cwd`,
/// `setpgrp`, `buffering`, and `nowait`.
pub(crate) fn start(
    py: Python<'_>,
    alias: Option<String>,
    args: Option<Vec<String>>,
    overrides: Option<&Bound<'_, PyDict>>,
) -> PyResult<(Start, bool)> {
    let mut start = Start::new();
    if let Some(alias) = alias {
        start = start.alias(alias);
    }
    if let Some(args) = args {
        start = start.args(args);
    }
    let mut has_socket = false;
    for (key, value) in overrides.into_iter().flat_map(|d| d.iter()) {
        let key: String = key.extract()?;
        match key.as_str() {
            "socket" => {
                has_socket = true;
                start = start.socket(extract::<PathBuf>(py, &value, "socket", "a path")?);
            }
            "cwd" => {
                if !value.is_none() {
                    start = start.cwd(extract::<PathBuf>(py, &value, "cwd", "a path")?);
                }
            }
            "setpgrp" => start = start.setpgrp(value.is_truthy()?),
            "buffering" => start = start.buffering(buffering(&value)),
            "nowait" => {
                if value.is_truthy()? {
                    start = start.nowait();
                }
            }
            other => return Err(config_error(py, format!("unknown start override {other:?}"))),
        }
    }
    Ok((start, has_socket))
}
