//! procloop's errors as Python exceptions: the classes live in
//! `procloop/errors.py` (so they can also be `KeyError`s or `OSError`s),
//! looked up once and cached.

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// One exception class of `procloop.errors`, found on first use.
struct Class {
    name: &'static str,
    cell: PyOnceLock<Py<PyType>>,
}

impl Class {
    const fn new(name: &'static str) -> Class {
        Class { name, cell: PyOnceLock::new() }
    }

    fn err(&self, py: Python<'_>, message: String) -> PyErr {
        match self.cell.import(py, "procloop.errors", self.name) {
            Ok(class) => PyErr::from_type(class.clone(), message),
            Err(e) => e,
        }
    }
}

static ENDPOINT_CLOSED: Class = Class::new("EndpointClosedException");
static PROCESS_EXISTS: Class = Class::new("ProcessExistsException");
static UNKNOWN_APP: Class = Class::new("UnknownAppError");
static NO_SUCH_PROCESS: Class = Class::new("NoSuchProcessError");
static BAD_COMMAND: Class = Class::new("BadCommandError");
static SPAWN: Class = Class::new("SpawnError");
static SOCKET: Class = Class::new("SocketError");
static QUEUE_FULL: Class = Class::new("QueueFullError");
static CONFIG: Class = Class::new("ConfigError");
static BUSY: Class = Class::new("BusyError");

/// `EndpointClosedException`, raised without a message.
pub(crate) fn endpoint_closed(py: Python<'_>) -> PyErr {
    ENDPOINT_CLOSED.err(py, String::new())
}

/// A bad option or config value (`ConfigError`, also a `ValueError`).
pub(crate) fn config_error(py: Python<'_>, message: String) -> PyErr {
    CONFIG.err(py, message)
}

/// The object is in use by another thread (`BusyError`, also a `RuntimeError`).
pub(crate) fn busy(py: Python<'_>, what: &str) -> PyErr {
    BUSY.err(
        py,
        format!(
            "this {what} is in use by another thread (a poll may be waiting on it): use it from one thread"
        ),
    )
}

/// Maps a procloop error to its Python exception, with procloop's message.
pub(crate) fn to_py(py: Python<'_>, error: procloop::Error) -> PyErr {
    use procloop::Error as E;
    let message = error.to_string();
    match error {
        E::EndpointClosed => ENDPOINT_CLOSED.err(py, message),
        E::ProcessExists(_) => PROCESS_EXISTS.err(py, message),
        E::UnknownApp(_) => UNKNOWN_APP.err(py, message),
        E::NoSuchProcess(_) => NO_SUCH_PROCESS.err(py, message),
        E::BadCommand { .. } => BAD_COMMAND.err(py, message),
        E::Spawn { .. } => SPAWN.err(py, message),
        E::SocketTimeout { .. }
        | E::SocketAppExited { .. }
        | E::SocketPathTaken { .. }
        | E::InvalidSocketPath { .. } => SOCKET.err(py, message),
        E::QueueFull { .. } => QUEUE_FULL.err(py, message),
        E::Io(e) if e.kind() == std::io::ErrorKind::InvalidInput => PyValueError::new_err(message),
        E::Io(e) => PyErr::from(e),
        _ => PyRuntimeError::new_err(message),
    }
}

/// `Result` of procloop into `PyResult`.
pub(crate) trait IntoPy<T> {
    /// Maps the error with [`to_py`].
    fn py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for procloop::Result<T> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}
