//! App options and start options from Python keyword arguments (or a config
//! dict's entry), parsed by procloop's own config parser (its serde shape,
//! through `pythonize`): the Rust and Python packages take the same keys
//! and values, and each unknown key or bad value is a `ConfigError` naming it.

use std::path::PathBuf;
use std::time::Duration;

use procloop::{App, Buffering, Start};
use pyo3::conversion::FromPyObjectOwned;
use pyo3::exceptions::{PyOverflowError, PyTypeError};
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
    // `{:?}` shows 1e300 as such, not as its 301 digits.
    Duration::try_from_secs_f64(value)
        .map_err(|e| config_error(py, format!("{field}: {value:?} is not a number of seconds ({e})")))
}

/// A wait's ``timeout`` in seconds: a negative one is no wait (as
/// ``selectors`` takes it), NaN is an error, as ``select.select`` says.
pub(crate) fn timeout(py: Python<'_>, value: f64) -> PyResult<Duration> {
    if value.is_nan() {
        return seconds(py, value, "timeout");
    }
    seconds(py, value.max(0.0), "timeout")
}

/// An int argument as `T`: a ConfigError naming `field` and the value when
/// it is out of `T`'s range (pyo3's own OverflowError names neither), a
/// TypeError naming `field` when it is no int.
pub(crate) fn int<'py, T: FromPyObjectOwned<'py>>(value: &Bound<'py, PyAny>, field: &str) -> PyResult<T> {
    value.extract::<T>().map_err(|e| {
        let (py, e): (_, PyErr) = (value.py(), e.into());
        if e.is_instance_of::<PyOverflowError>(py) {
            config_error(py, format!("{field}: {value} is out of range"))
        } else {
            PyTypeError::new_err(format!("argument '{field}': {}", e.value(py)))
        }
    })
}

/// Parses `options` as procloop's config parser does, with `parser`
/// (`pythonize::depythonize` for the type wanted).
fn parse<'py, T>(
    options: &Bound<'py, PyDict>,
    parser: impl FnOnce(&Bound<'py, PyAny>) -> Result<T, pythonize::PythonizeError>,
) -> PyResult<T> {
    let py = options.py();
    let options = paths_as_text(options)?;
    parser(options.as_any()).map_err(|e| config_error(py, e.to_string()))
}

/// A copy of `options` whose paths (`cwd`, `socket`: any `os.PathLike`) are
/// strings, the one form of a path the config parser takes.
fn paths_as_text<'py>(options: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyDict>> {
    let copy = options.copy()?;
    for key in ["cwd", "socket"] {
        let Some(value) = copy.get_item(key)? else { continue };
        if value.is_none() || value.is_instance_of::<PyString>() {
            continue;
        }
        if let Ok(path) = value.extract::<PathBuf>()
            && let Some(text) = path.to_str()
        {
            copy.set_item(key, text)?;
        }
    }
    Ok(copy)
}

/// An app from its command and options (`options` may hold `command` too,
/// as a config dict's entry does).
pub(crate) fn app(
    py: Python<'_>,
    command: Option<String>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Configured> {
    let options = match options {
        Some(options) => options.copy()?,
        None => PyDict::new(py),
    };
    if let Some(command) = command {
        options.set_item("command", command)?;
    }
    let app = parse(&options, |o| pythonize::depythonize::<App>(o))?;
    let socket_type = app.socket_path().is_none()
        && options.get_item("type")?.is_some_and(|kind| kind.eq("socket").unwrap_or(false));
    Ok(Configured { app, socket_type })
}

/// Start options from the arguments of `start`: `alias`, `with_args`, and
/// the overrides `socket`, `cwd`, `setpgrp`, `buffering` and `nowait`.
/// Also whether it names a socket.
pub(crate) fn start(
    py: Python<'_>,
    alias: &str,
    with_args: Option<&Bound<'_, PyAny>>,
    overrides: Option<&Bound<'_, PyDict>>,
) -> PyResult<(Start, bool)> {
    let options = PyDict::new(py);
    for (key, value) in overrides.into_iter().flat_map(|d| d.iter()) {
        options.set_item(key, value)?;
    }
    let has_socket = options.get_item("socket")?.is_some_and(|s| !s.is_none());
    options.set_item("alias", alias)?;
    if let Some(args) = with_args {
        options.set_item("with_args", args)?;
    }
    Ok((parse(&options, |o| pythonize::depythonize::<Start>(o))?, has_socket))
}

/// Buffering from `"line"`, `"whole_lines"`, `"bytes"` or None (bytes), as the config
/// parser reads it; `field` names it in the error.
pub(crate) fn buffering(value: Option<&Bound<'_, PyAny>>, field: &str) -> PyResult<Buffering> {
    let Some(value) = value.filter(|v| !v.is_none()) else { return Ok(Buffering::Bytes) };
    pythonize::depythonize(value).map_err(|e| config_error(value.py(), format!("{field}: {e}")))
}
