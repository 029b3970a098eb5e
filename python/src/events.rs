//! The event objects `Runner.poll()` returns, and their owned form, which
//! is what the loop collects while the GIL is released.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use procloop::{Event, TimerId, TurnId, TurnReport};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::errors::Pending;
use crate::turns::{self, TurnBook};

/// An event with owned bytes, collected while the GIL is released.
pub(crate) enum Owned {
    Data(String, Vec<u8>),
    Stderr(String, Vec<u8>),
    Closed(String),
    Exited(String, ExitStatus),
    Restarted(String, ExitStatus),
    GaveUp(String, ExitStatus),
    Timer(TimerId),
    Ready(String),
    StartFailed(String, Pending),
    Reply(TurnId, String, Vec<u8>, Duration),
    TurnEnded(TurnId, TurnReport),
}

impl Owned {
    /// The owned form of `event`; `None` for a kind this layer does not
    /// hand to Python (`Event::Reactor`: Python registers no channels of
    /// its own on a Runner's reactor, so none comes).
    pub(crate) fn of(event: Event<'_>) -> Option<Owned> {
        Some(match event {
            Event::Data { alias, data } => Owned::Data(alias.into(), data.to_vec()),
            Event::Stderr { alias, data } => Owned::Stderr(alias.into(), data.to_vec()),
            Event::Closed { alias } => Owned::Closed(alias.into()),
            Event::Exited { alias, status } => Owned::Exited(alias.into(), status),
            Event::Restarted { alias, status } => Owned::Restarted(alias.into(), status),
            Event::GaveUp { alias, status } => Owned::GaveUp(alias.into(), status),
            Event::Timer { id } => Owned::Timer(id),
            Event::Ready { alias } => Owned::Ready(alias.into()),
            Event::StartFailed { alias, error } => Owned::StartFailed(alias.into(), Pending::of(error)),
            Event::Reply { turn, alias, data, elapsed } => {
                Owned::Reply(turn, alias.into(), data.to_vec(), elapsed)
            }
            Event::TurnEnded { turn, report } => Owned::TurnEnded(turn, report.clone()),
            _ => return None,
        })
    }
}

/// Collects owned events; with `batch`, a process's output that follows its
/// own output straight away joins it, so that one `Data` holds several lines.
pub(crate) fn collect(owned: &mut Vec<Owned>, event: Owned, batch: bool) {
    if batch {
        match (owned.last_mut(), &event) {
            (Some(Owned::Data(last, bytes)), Owned::Data(alias, data))
            | (Some(Owned::Stderr(last, bytes)), Owned::Stderr(alias, data))
                if last == alias =>
            {
                bytes.extend_from_slice(data);
                return;
            }
            _ => {}
        }
    }
    owned.push(event);
}

/// `subprocess`'s returncode: the exit code, or minus the signal that ended
/// it; `None` for an exit whose status someone else took (the host ignores
/// SIGCHLD, or reaps with `waitpid(-1)`: see `procloop::is_unknown_exit`).
pub(crate) fn returncode(status: ExitStatus) -> Option<i32> {
    if procloop::is_unknown_exit(status) {
        return None;
    }
    status.code().or(status.signal().map(|s| -s))
}

/// Bytes from a process's stdout (or its socket); one line when
/// line-buffered, several whole lines with ``poll(batch=True)``.
#[pyclass(module = "procloop._native", frozen, get_all)]
pub(crate) struct Data {
    /// The process.
    alias: Py<PyString>,
    /// The bytes.
    data: Py<PyBytes>,
}

/// Bytes from a process's captured stderr (``stderr="capture"``).
#[pyclass(module = "procloop._native", frozen, get_all)]
pub(crate) struct Stderr {
    /// The process.
    alias: Py<PyString>,
    /// The bytes.
    data: Py<PyBytes>,
}

/// End of stream on a process's channel, after its last byte.
#[pyclass(module = "procloop._native", frozen, get_all)]
pub(crate) struct Closed {
    /// The process.
    alias: Py<PyString>,
}

/// A process exited and was reaped, after all its output was handed over.
/// Its alias stays taken until ``terminate``.
#[pyclass(module = "procloop._native", frozen, get_all)]
pub(crate) struct Exited {
    /// The process.
    alias: Py<PyString>,
    /// As ``subprocess``'s: the exit code, or minus the signal; None if the
    /// status was taken by someone else (the host ignores SIGCHLD, or reaps
    /// with ``os.waitpid(-1, ...)``).
    returncode: Option<i32>,
}

/// The restart policy started the alias again; a new channel is in place.
#[pyclass(module = "procloop._native", frozen, get_all)]
pub(crate) struct Restarted {
    /// The process.
    alias: Py<PyString>,
    /// The returncode of the exit that caused the restart (None if unknown).
    returncode: Option<i32>,
}

/// The restart policy gave up: the alias stays exited.
#[pyclass(module = "procloop._native", frozen, get_all)]
pub(crate) struct GaveUp {
    /// The process.
    alias: Py<PyString>,
    /// The returncode of its last exit (None if unknown).
    returncode: Option<i32>,
}

/// A timer set with ``Runner.set_timer`` fired.
#[pyclass(module = "procloop._native", frozen, get_all)]
pub(crate) struct Timer {
    /// What ``set_timer`` returned.
    id: u64,
}

/// A socket app started with ``nowait=True`` is connected: its channel is
/// in place (``get_channel`` gave None until now).
#[pyclass(module = "procloop._native", frozen, get_all)]
pub(crate) struct Ready {
    /// The process.
    alias: Py<PyString>,
}

/// A socket app started with ``nowait=True`` could not be connected: its
/// socket did not appear within the app's ``socket_wait`` (the process is
/// then killed), the app exited first, or connecting failed. The start is
/// undone: the alias is free, nothing runs, and no ``Exited`` follows.
#[pyclass(module = "procloop._native", frozen, get_all)]
pub(crate) struct StartFailed {
    /// The process.
    alias: Py<PyString>,
    /// Why, as the exception a waiting start would have raised
    /// (``SocketError``, or an ``OSError``); ``str(error)`` is the message.
    error: Py<PyAny>,
}

/// What an exited process used, from the kernel's accounting when it was
/// reaped (``Runner.usage``); it counts the children it waited for too.
#[pyclass(module = "procloop._native", frozen, get_all)]
pub(crate) struct Usage {
    /// Seconds of CPU time in user mode.
    user: f64,
    /// Seconds of CPU time in the kernel on its behalf.
    system: f64,
    /// Peak resident set size, in bytes.
    max_rss: u64,
}

impl Usage {
    pub(crate) fn of(usage: procloop::Usage) -> Usage {
        Usage { user: usage.user.as_secs_f64(), system: usage.system.as_secs_f64(), max_rss: usage.max_rss }
    }
}

#[pymethods]
impl Usage {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str) {
        ("user", "system", "max_rss")
    }

    /// User and system CPU time together, in seconds.
    #[getter]
    fn cpu_time(&self) -> f64 {
        self.user + self.system
    }

    fn __repr__(&self) -> String {
        format!("Usage(user={:?}, system={:?}, max_rss={})", self.user, self.system, self.max_rss)
    }
}

macro_rules! alias_repr {
    ($($class: ident),*) => {$(
        #[pymethods]
        impl $class {
            #[classattr]
            fn __match_args__() -> (&'static str,) {
                ("alias",)
            }

            fn __repr__(&self, py: Python<'_>) -> String {
                format!("{}(alias={:?})", stringify!($class), self.alias.bind(py).to_string())
            }
        }
    )*};
}

macro_rules! data_repr {
    ($($class: ident),*) => {$(
        #[pymethods]
        impl $class {
            /// An event as ``poll`` makes it; ``procloop.aio`` hands back
            /// output it took and did not give out this way.
            #[new]
            fn new(alias: Bound<'_, PyString>, data: Bound<'_, PyBytes>) -> Self {
                $class { alias: alias.unbind(), data: data.unbind() }
            }

            #[classattr]
            fn __match_args__() -> (&'static str, &'static str) {
                ("alias", "data")
            }

            fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
                let data = self.data.bind(py).repr()?;
                Ok(format!("{}(alias={:?}, data={data})", stringify!($class), self.alias.bind(py).to_string()))
            }
        }
    )*};
}

macro_rules! status_repr {
    ($($class: ident),*) => {$(
        #[pymethods]
        impl $class {
            #[classattr]
            fn __match_args__() -> (&'static str, &'static str) {
                ("alias", "returncode")
            }

            fn __repr__(&self, py: Python<'_>) -> String {
                let code = self.returncode.map_or("None".to_string(), |c| c.to_string());
                format!("{}(alias={:?}, returncode={code})", stringify!($class), self.alias.bind(py).to_string())
            }
        }
    )*};
}

data_repr!(Data, Stderr);
status_repr!(Exited, Restarted, GaveUp);
alias_repr!(Closed, Ready);

#[pymethods]
impl StartFailed {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str) {
        ("alias", "error")
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let error = self.error.bind(py).repr()?;
        Ok(format!("StartFailed(alias={:?}, error={error})", self.alias.bind(py).to_string()))
    }
}

#[pymethods]
impl Timer {
    #[classattr]
    fn __match_args__() -> (&'static str,) {
        ("id",)
    }

    fn __repr__(&self) -> String {
        format!("Timer(id={})", self.id)
    }
}

/// Makes the Python object of an owned event; `timer_id` maps a fired
/// timer to the number `set_timer` returned, `turns` a turn to its number.
pub(crate) fn to_python(
    py: Python<'_>,
    event: Owned,
    timer_id: impl FnOnce(TimerId) -> u64,
    turns: &mut TurnBook,
) -> PyResult<Py<PyAny>> {
    let alias = |a: &str| PyString::new(py, a).unbind();
    let bytes = |d: &[u8]| PyBytes::new(py, d).unbind();
    Ok(match event {
        Owned::Data(a, d) => Py::new(py, Data { alias: alias(&a), data: bytes(&d) })?.into_any(),
        Owned::Stderr(a, d) => Py::new(py, Stderr { alias: alias(&a), data: bytes(&d) })?.into_any(),
        Owned::Closed(a) => Py::new(py, Closed { alias: alias(&a) })?.into_any(),
        Owned::Exited(a, s) => {
            Py::new(py, Exited { alias: alias(&a), returncode: returncode(s) })?.into_any()
        }
        Owned::Restarted(a, s) => {
            Py::new(py, Restarted { alias: alias(&a), returncode: returncode(s) })?.into_any()
        }
        Owned::GaveUp(a, s) => {
            Py::new(py, GaveUp { alias: alias(&a), returncode: returncode(s) })?.into_any()
        }
        Owned::Timer(id) => Py::new(py, Timer { id: timer_id(id) })?.into_any(),
        Owned::Ready(a) => Py::new(py, Ready { alias: alias(&a) })?.into_any(),
        Owned::StartFailed(a, e) => {
            let error = e.into_py(py).into_value(py).into_any();
            Py::new(py, StartFailed { alias: alias(&a), error })?.into_any()
        }
        Owned::Reply(id, a, d, elapsed) => turns::reply(py, turns, id, &a, &d, elapsed)?,
        Owned::TurnEnded(id, report) => turns::ended(py, turns, id, &report)?,
    })
}
