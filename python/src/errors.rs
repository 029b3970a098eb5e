//! procloop's errors as Python exceptions: the classes live in
//! `procloop/errors.py` (so they can also be `KeyError`s or `OSError`s),
//! looked up once and cached.

use std::io;

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

    fn err_with<A: pyo3::PyErrArguments + Send + Sync + 'static>(&self, py: Python<'_>, args: A) -> PyErr {
        match self.cell.import(py, "procloop.errors", self.name) {
            Ok(class) => PyErr::from_type(class.clone(), args),
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
static LIMIT_TOO_HIGH: Class = Class::new("LimitTooHighError");
static LIMIT_UNSUPPORTED: Class = Class::new("LimitUnsupportedError");
static CGROUPS_UNAVAILABLE: Class = Class::new("CgroupsUnavailableError");
static BUSY: Class = Class::new("BusyError");
static WAIT_TIMEOUT: Class = Class::new("WaitTimeout");
static FORKED_COPY: Class = Class::new("ForkedCopyError");
static TURN_IN_PROGRESS: Class = Class::new("TurnInProgressError");
static PROCLOOP: Class = Class::new("ProcloopError");

/// `EndpointClosedException`, raised without a message.
pub(crate) fn endpoint_closed(py: Python<'_>) -> PyErr {
    ENDPOINT_CLOSED.err(py, String::new())
}

/// `NoSuchProcessError` with `message`.
pub(crate) fn no_such_process(py: Python<'_>, message: String) -> PyErr {
    NO_SUCH_PROCESS.err(py, message)
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
            "this {what} is in use by another call: another thread's (a poll may be waiting on it), \
             or one this thread is inside (a signal handler run by a waiting poll); use it from one \
             thread, outside its own waits"
        ),
    )
}

/// A Runner or Channel used in a forked child of the process that made it
/// (`ForkedCopyError`, also a `RuntimeError`).
pub(crate) fn forked_copy(py: Python<'_>, what: &str, owner: u32) -> PyErr {
    FORKED_COPY.err(
        py,
        format!(
            "this {what} belongs to pid {owner}: a forked copy of it (pid {}) must not use it; \
             make a new one in this process",
            std::process::id()
        ),
    )
}

/// ``wait`` timed out (``WaitTimeout``, also a ``subprocess.TimeoutExpired``).
pub(crate) fn wait_timeout(py: Python<'_>, alias: &str, seconds: f64) -> PyErr {
    WAIT_TIMEOUT.err_with(py, (alias.to_string(), seconds))
}

/// A procloop error as data, without the GIL (what `Event::StartFailed`
/// lends is turned into this while the loop runs), and made a Python
/// exception later.
pub(crate) struct Pending {
    class: Kind,
    message: String,
}

enum Kind {
    Procloop(&'static Class),
    Os(io::Error),
}

impl Pending {
    /// The Python exception procloop's `error` maps to, with its message.
    pub(crate) fn of(error: &procloop::Error) -> Pending {
        use procloop::Error as E;
        let message = error.to_string();
        let class = match error {
            E::EndpointClosed => Kind::Procloop(&ENDPOINT_CLOSED),
            E::ProcessExists(_) => Kind::Procloop(&PROCESS_EXISTS),
            E::UnknownApp(_) => Kind::Procloop(&UNKNOWN_APP),
            E::NoSuchProcess(_) => Kind::Procloop(&NO_SUCH_PROCESS),
            E::BadCommand { .. } => Kind::Procloop(&BAD_COMMAND),
            E::Spawn { .. } => Kind::Procloop(&SPAWN),
            E::SocketTimeout { .. }
            | E::SocketAppExited { .. }
            | E::SocketImpostor { .. }
            | E::SocketPathTaken { .. }
            | E::InvalidSocketPath { .. }
            | E::NotConnected(_) => Kind::Procloop(&SOCKET),
            E::InvalidSetting { .. } => Kind::Procloop(&CONFIG),
            E::LimitTooHigh { .. } => Kind::Procloop(&LIMIT_TOO_HIGH),
            E::LimitUnsupported { .. } => Kind::Procloop(&LIMIT_UNSUPPORTED),
            E::CgroupsUnavailable(_) => Kind::Procloop(&CGROUPS_UNAVAILABLE),
            E::QueueFull { .. } => Kind::Procloop(&QUEUE_FULL),
            E::ForkedCopy { .. } => Kind::Procloop(&FORKED_COPY),
            E::TurnInProgress(_) => Kind::Procloop(&TURN_IN_PROGRESS),
            // A bad argument (an fd that is not open, a pty call on a
            // pipe app): a ConfigError, so still a ValueError.
            E::Io(e) if e.kind() == io::ErrorKind::InvalidInput => Kind::Procloop(&CONFIG),
            // The same error, owned: by its OS error number, or its kind
            // and message.
            E::Io(e) => Kind::Os(match e.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(e.kind(), message.clone()),
            }),
            // A kind newer than this mapping: still one of procloop's own.
            _ => Kind::Procloop(&PROCLOOP),
        };
        Pending { class, message }
    }

    /// The Python exception.
    pub(crate) fn into_py(self, py: Python<'_>) -> PyErr {
        match self.class {
            Kind::Procloop(class) => class.err(py, self.message),
            Kind::Os(e) => PyErr::from(e),
        }
    }
}

/// Maps a procloop error to its Python exception, with procloop's message.
pub(crate) fn to_py(py: Python<'_>, error: procloop::Error) -> PyErr {
    Pending::of(&error).into_py(py)
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
