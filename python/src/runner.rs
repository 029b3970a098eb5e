//! `procloop.Runner`: the Rust Runner for Python, thin: configured apps,
//! aliases, channels, the lifecycle (start, stop, signal, wait, terminate),
//! limits and usage, timers, and a `poll` that returns event objects,
//! waiting with the GIL released.

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use procloop::{Channel as RustChannel, Runner, Signal, TimerId};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyInt};

use crate::channel::PyChannel;
use crate::config;
use crate::errors::{IntoPy, busy, config_error, forked_copy, no_such_process, wait_timeout};
use crate::events::{self, Owned, Usage, returncode};
use crate::turns::{self, TurnBook};

/// How long one wait of `poll` lasts at most before Python's signal
/// handlers get a turn. A signal sent to this thread ends the wait at once
/// (EINTR); this bounds the delay when it went to another thread.
const WAIT_SLICE: Duration = Duration::from_millis(50);

/// The most events one `poll` returns when `max_events` is None. One poll
/// may read about 1 MiB of output: in short lines, hundreds of thousands
/// of events, each a Python object built while the caller waits. 4096
/// keeps a call's list to a few MB at most and its pause short, and still
/// costs a flood's reader only one call per 4096 events, little against
/// the events themselves. The rest stay queued for the next poll.
const DEFAULT_MAX_EVENTS: usize = 4096;

/// Runs many child processes and talks to them from one event loop.
///
/// Apps are configured with ``add(name, command, **options)`` or
/// ``update_config({name: {"command": ..., **options}})``; options:
/// ``type`` (``"stdio"``, ``"socket"``, ``"pty"``), ``cwd``, ``socket``,
/// ``buffering`` (``"line"``/``"whole_lines"``/``"bytes"``), ``setpgrp``, ``env``, ``stderr``
/// (``"inherit"``, ``"null"``, ``"merge"``, ``"capture"``), ``transport``
/// (``"pipes"``, ``"socketpair"``), ``socket_wait``, ``termination_grace``,
/// ``restart`` (``"never"``, ``"on_failure"``, ``"always"``), ``backoff``
/// (``(initial, max)`` seconds), ``max_restarts``, ``restart_window``,
/// ``die_with_parent``, for untrusted code ``user`` (``(uid, gid)``),
/// ``no_new_privileges``, ``isolate_network``, ``isolate_pids``, ``nice``,
/// ``scheduler`` (``"normal"``, ``"batch"``, ``"idle"``), ``cpu_affinity``,
/// and ``limits`` (a dict: ``memory``, ``file_size``, ``core_dump`` in
/// bytes, ``cpu_time`` in seconds, ``open_files``, ``processes``; for the
/// whole tree, with a cgroup, ``tree_memory`` in bytes, ``tasks``, ``cpus``).
///
/// ``poll(timeout, max_events)`` waits (GIL released) and returns event
/// objects: ``Data``, ``Stderr``, ``Closed``, ``Exited``, ``Restarted``,
/// ``GaveUp``, ``Timer``, ``Ready``, ``StartFailed``. ``stop``, ``stop_all``
/// and ``signal`` return at once (the exit comes as ``Exited``);
/// ``terminate``, ``terminate_all`` and ``wait`` wait, each bounded.
/// ``fileno()`` and ``next_deadline()`` let a host loop (asyncio,
/// selectors) drive it. ``with Runner() as r:`` ends every child on exit,
/// as ``terminate_all()`` does. A Runner is used from one thread at a time:
/// a second thread gets ``BusyError`` while a call (a waiting poll) runs.
/// It belongs to the process that made it: in a forked child (``os.fork()``)
/// every call raises ``ForkedCopyError`` and touches nothing of the
/// parent's children and fds. At interpreter exit (``atexit``), every
/// Runner used in this process ends its children, as ``terminate_all``.
///
/// Every wait (``poll``, ``wait``, ``terminate``, ``terminate_all``, a
/// socket app's ``start``) releases the GIL and runs Python's signal
/// handlers at least every 50 ms: Ctrl-C raises ``KeyboardInterrupt``
/// there, and the Runner stays whole (an interrupted ``terminate`` leaves
/// the alias stopped: SIGKILL once its grace has passed, from ``poll``, the
/// next ``terminate`` or dropping the Runner; an interrupted socket start
/// is undone).
#[pyclass(module = "procloop._native", name = "Runner", weakref)]
pub(crate) struct PyRunner {
    /// `None` only while dropping.
    inner: Option<Runner>,
    /// Socket apps configured without a socket path: each start gives one.
    socket_apps: HashSet<String>,
    /// Each alias's start, so a channel handle of an older start says
    /// EndpointClosed instead of reaching the new process.
    generations: HashMap<String, u64>,
    next_generation: u64,
    /// Live timers and the numbers Python knows them by.
    timers: HashMap<TimerId, u64>,
    timer_ids: HashMap<u64, TimerId>,
    next_timer: u64,
    /// The numbers Python knows turns by, and their replies so far.
    turns: TurnBook,
    /// The process that made the Runner: a forked child must not end its children.
    owner_pid: u32,
    /// Whether `exit` knows it (it does once it was used).
    remembered: bool,
}

impl PyRunner {
    fn runner(&mut self) -> &mut Runner {
        self.inner.as_mut().expect("a Runner is only taken while dropped")
    }

    /// The channel of `alias` as of its start `generation`.
    pub(crate) fn channel(&mut self, alias: &str, stderr: bool, generation: u64) -> Option<&mut RustChannel> {
        if self.generations.get(alias) != Some(&generation) {
            return None;
        }
        let runner = self.runner();
        if stderr { runner.get_stderr(alias) } else { runner.get_channel(alias) }
    }

    fn handle(slf: &Bound<'_, Self>, alias: &str, stderr: bool) -> PyResult<Option<PyChannel>> {
        let mut this = borrow(slf)?;
        let Some(&generation) = this.generations.get(alias) else { return Ok(None) };
        if this.channel(alias, stderr, generation).is_none() {
            return Ok(None);
        }
        Ok(Some(PyChannel::of_runner(slf.clone().unbind(), alias.to_string(), stderr, generation)))
    }

    fn configure(&mut self, py: Python<'_>, name: String, configured: config::Configured) {
        if configured.socket_type {
            self.socket_apps.insert(name.clone());
        } else {
            self.socket_apps.remove(&name);
        }
        let _ = py;
        self.runner().add(name, configured.app);
    }

    /// Whether nothing could ever produce an event (no process, channel or
    /// timer, no event waiting): `poll(None)` then returns at once, as the
    /// Rust `poll_once(None)` does.
    fn idle(&mut self) -> bool {
        self.runner().is_idle()
    }

    /// `terminate_within` for `terminate_all`: a failure to end `alias`
    /// that way ends it the plain way, so that every turn makes headway.
    fn end_within(&mut self, py: Python<'_>, alias: &str, limit: Duration) {
        let runner = self.runner();
        let ended = py.detach(|| match runner.terminate_within(alias, limit) {
            Ok(ended) => ended.is_some(),
            Err(_) => {
                let _ = runner.terminate(alias);
                true
            }
        });
        if ended {
            self.generations.remove(alias);
        }
    }

    /// At interpreter exit: `terminate_all`, unless this is a forked copy
    /// or another thread is inside a call (it is then left to `Drop`).
    pub(crate) fn end_at_exit(slf: &Bound<'_, Self>) {
        let own = slf.try_borrow().is_ok_and(|this| this.owner_pid == std::process::id());
        if own {
            let _ = Self::terminate_all(slf);
        }
    }

    /// Waits in slices until `alias`'s socket start is connected, answering
    /// signals between them; a failure or a signal undoes the start.
    fn wait_ready(&mut self, py: Python<'_>, alias: &str) -> PyResult<()> {
        loop {
            let runner = self.runner();
            if py.detach(|| runner.wait_ready(alias, WAIT_SLICE)).py(py)? {
                return Ok(());
            }
            if let Err(interrupted) = py.check_signals() {
                let runner = self.runner();
                py.detach(|| {
                    let _ = runner.signal(alias, Signal::SIGKILL);
                    let _ = runner.terminate(alias);
                });
                return Err(interrupted);
            }
        }
    }
}

/// The number Python knows a fired timer by, forgotten now.
fn timer_number(timers: &mut HashMap<TimerId, u64>, ids: &mut HashMap<u64, TimerId>, id: TimerId) -> u64 {
    let number = timers.remove(&id).unwrap_or(u64::MAX);
    ids.remove(&number);
    number
}

/// `time.monotonic()`.
fn monotonic(py: Python<'_>) -> PyResult<f64> {
    static MONOTONIC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    MONOTONIC.import(py, "time", "monotonic")?.call0()?.extract()
}

/// A signal from a number (a `signal.Signals` is one) or a name.
fn to_signal(value: &Bound<'_, PyAny>) -> PyResult<Signal> {
    if value.is_instance_of::<PyBool>() {
        return Err(config_error(value.py(), "a signal is a number or a name, not a bool".into()));
    }
    let unknown = || config_error(value.py(), format!("signal {value} is not one procloop can send"));
    if let Ok(raw) = value.extract::<i32>() {
        return Signal::from_raw(raw).ok_or_else(unknown);
    }
    if value.is_instance_of::<PyInt>() {
        // Past an i32: no signal either, named by its number.
        return Err(unknown());
    }
    match value.extract::<String>() {
        Ok(name) => {
            name.parse().map_err(|e: procloop::UnknownSignal| config_error(value.py(), e.to_string()))
        }
        Err(_) => Err(config_error(
            value.py(),
            format!(
                "a signal is a number, a signal.Signals or a name (\"SIGINT\", \"int\"), not {}",
                value.get_type().name()?
            ),
        )),
    }
}

/// The Runner, for one call: BusyError while another thread is in one,
/// ForkedCopyError in a forked child (also of one that a thread of the
/// parent was inside at the fork).
fn borrow<'py>(slf: &Bound<'py, PyRunner>) -> PyResult<PyRefMut<'py, PyRunner>> {
    let py = slf.py();
    let mut this = match slf.try_borrow_mut() {
        Ok(this) => this,
        Err(_) => match crate::exit::copy_owner(slf) {
            Some(owner) => return Err(forked_copy(py, "Runner", owner)),
            None => return Err(busy(py, "Runner")),
        },
    };
    if std::process::id() != this.owner_pid {
        return Err(forked_copy(py, "Runner", this.owner_pid));
    }
    if !this.remembered {
        crate::exit::remember(slf)?;
        this.remembered = true;
    }
    Ok(this)
}

#[pymethods]
impl PyRunner {
    /// The most events ``poll`` returns when not told (``max_events=None``).
    #[classattr]
    const DEFAULT_MAX_EVENTS: usize = DEFAULT_MAX_EVENTS;

    /// A runner with no apps; ``extra_paths`` are appended to PATH, both to
    /// find commands and in the children's environment. ``cgroups``:
    /// ``"off"``, ``"preferred"`` (a cgroup per child where one can be had,
    /// else a process group per child) or ``"required"``
    /// (CgroupsUnavailableError where none can be had).
    #[new]
    #[pyo3(signature = (*, extra_paths=None, cgroups="off"))]
    fn new(
        py: Python<'_>,
        extra_paths: Option<Vec<std::path::PathBuf>>,
        cgroups: &str,
    ) -> PyResult<PyRunner> {
        let runner = crate::containment::runner(py, extra_paths, cgroups)?;
        Ok(PyRunner {
            inner: Some(runner),
            socket_apps: HashSet::new(),
            generations: HashMap::new(),
            next_generation: 0,
            timers: HashMap::new(),
            timer_ids: HashMap::new(),
            next_timer: 0,
            turns: TurnBook::default(),
            owner_pid: std::process::id(),
            remembered: false,
        })
    }

    /// Configures (or reconfigures) the app ``name``; see the class doc for
    /// the options. ConfigError names an unknown option or a bad value.
    #[pyo3(signature = (name, command, **options))]
    fn add(
        slf: &Bound<'_, Self>,
        name: String,
        command: String,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let configured = config::app(py, Some(command), options)?;
        borrow(slf)?.configure(py, name, configured);
        Ok(())
    }

    /// Configures several apps: ``{name: {"command": ..., **options}}``.
    /// Nothing is changed if any entry is bad.
    fn update_config(slf: &Bound<'_, Self>, config: &Bound<'_, PyDict>) -> PyResult<()> {
        let py = slf.py();
        let mut apps = Vec::new();
        for (name, entry) in config.iter() {
            let name: String = name.extract().map_err(|_| {
                let kind = name.get_type().name().map_or_else(|_| "?".to_string(), |n| n.to_string());
                PyTypeError::new_err(format!("update_config: an app's name is a str, not {kind}"))
            })?;
            let entry = entry
                .cast::<PyDict>()
                .map_err(|_| config_error(py, format!("{name:?}: an app's config is a dict")))?;
            let configured = config::app(py, None, Some(entry))
                .map_err(|e| config_error(py, format!("{name:?}: {}", e.value(py))))?;
            apps.push((name, configured));
        }
        let mut this = borrow(slf)?;
        for (name, configured) in apps {
            this.configure(py, name, configured);
        }
        Ok(())
    }

    /// Starts ``app`` as ``alias`` (default: the app's name) with extra
    /// arguments and overrides (``socket``, ``cwd``, ``setpgrp``,
    /// ``buffering``); returns the pid. ProcessExistsException if the alias
    /// is taken; a failed start leaves nothing running.
    ///
    /// A socket app's start waits (GIL released, up to its ``socket_wait``)
    /// until it can connect; with ``nowait=True`` it returns once the child
    /// runs, and the connection is made in the loop: ``poll`` then returns
    /// ``Ready(alias)`` (``get_channel`` gives None until then) or
    /// ``StartFailed(alias, error)``. Ctrl-C during the wait undoes the
    /// start (the child is killed and reaped, the alias freed).
    #[pyo3(signature = (app, alias=None, with_args=None, **overrides))]
    fn start(
        slf: &Bound<'_, Self>,
        app: &str,
        alias: Option<String>,
        with_args: Option<&Bound<'_, PyAny>>,
        overrides: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<u32> {
        let py = slf.py();
        let alias = alias.unwrap_or_else(|| app.to_string());
        let (opts, has_socket) = config::start(py, &alias, with_args, overrides)?;
        let nowait = match overrides {
            Some(overrides) => overrides.get_item("nowait")?.is_some_and(|v| v.is_truthy().unwrap_or(false)),
            None => false,
        };
        let mut this = borrow(slf)?;
        if this.socket_apps.contains(app) && !has_socket {
            return Err(config_error(
                py,
                format!(
                    "app {app:?} is a socket app configured without a socket path: give socket=... to start"
                ),
            ));
        }
        let runner = this.runner();
        // A socket app connects in slices below, answering signals between them.
        let pid = py.detach(|| runner.start_with(app, opts.nowait())).py(py)?;
        if !nowait {
            this.wait_ready(py, &alias)?;
        }
        this.next_generation += 1;
        let generation = this.next_generation;
        this.generations.insert(alias, generation);
        Ok(pid)
    }

    /// As ``start``, but does nothing if the alias is taken; returns the pid
    /// either way.
    #[pyo3(signature = (app, alias=None, with_args=None, **overrides))]
    fn ensure_running(
        slf: &Bound<'_, Self>,
        app: &str,
        alias: Option<String>,
        with_args: Option<&Bound<'_, PyAny>>,
        overrides: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<u32> {
        let taken = borrow(slf)?.runner().pid(alias.as_deref().unwrap_or(app));
        match taken {
            Some(pid) => Ok(pid),
            None => Self::start(slf, app, alias, with_args, overrides),
        }
    }

    /// The channel of ``alias`` (its stdout and stdin, or its socket); None
    /// if the alias is not taken. A handle of an alias that is terminated
    /// (or started anew) raises EndpointClosedException.
    fn get_channel(slf: &Bound<'_, Self>, alias: &str) -> PyResult<Option<PyChannel>> {
        Self::handle(slf, alias, false)
    }

    /// The channel of ``alias``, as ``get_channel`` but never None:
    /// NoSuchProcessError if the alias is not taken (or, for a socket app
    /// started with ``nowait=True``, not connected yet).
    #[pyo3(name = "channel")]
    fn channel_of(slf: &Bound<'_, Self>, alias: &str) -> PyResult<PyChannel> {
        Self::handle(slf, alias, false)?.ok_or_else(|| {
            let reason = if borrow(slf).is_ok_and(|mut r| r.runner().pid(alias).is_some()) {
                "its socket is not connected yet"
            } else {
                "it is not taken"
            };
            no_such_process(slf.py(), format!("no channel of {alias:?}: {reason}"))
        })
    }

    /// The captured stderr of ``alias`` (``stderr="capture"``), read-only.
    fn get_stderr(slf: &Bound<'_, Self>, alias: &str) -> PyResult<Option<PyChannel>> {
        Self::handle(slf, alias, true)
    }

    /// Ends ``alias``: SIGTERM (to its group with setpgrp), its grace
    /// period (what is left of it after a ``stop``), then SIGKILL; reaps it,
    /// closes its channels and frees the alias. Returns its returncode
    /// (None if its status was taken by someone else). NoSuchProcessError
    /// if not taken. It waits (GIL released); ``stop`` is the way that
    /// doesn't. Ctrl-C meanwhile raises KeyboardInterrupt at once and leaves
    /// the alias stopped and taken: it is killed once its grace has passed
    /// (by ``poll``, the next ``terminate``, or dropping the Runner).
    fn terminate(slf: &Bound<'_, Self>, alias: &str) -> PyResult<Option<i32>> {
        let py = slf.py();
        let mut this = borrow(slf)?;
        loop {
            let runner = this.runner();
            let ended = py.detach(|| runner.terminate_within(alias, WAIT_SLICE));
            if !matches!(ended, Ok(None)) {
                this.generations.remove(alias);
            }
            if let Some(status) = ended.py(py)? {
                return Ok(returncode(status));
            }
            py.check_signals()?;
        }
    }

    /// Asks ``alias``'s process to end and returns at once: SIGTERM now (to
    /// its group with setpgrp), SIGKILL from the loop once the app's
    /// ``termination_grace`` has passed; the exit comes as ``Exited``, and
    /// the restart policy does not restart it. Stopping again, or an alias
    /// that has exited, does nothing. NoSuchProcessError if not taken. The
    /// alias stays taken (its last output readable) until ``terminate``.
    fn stop(slf: &Bound<'_, Self>, alias: &str) -> PyResult<()> {
        let py = slf.py();
        borrow(slf)?.runner().stop(alias).py(py)
    }

    /// ``stop`` for every alias; returns at once.
    fn stop_all(slf: &Bound<'_, Self>) -> PyResult<()> {
        borrow(slf)?.runner().stop_all();
        Ok(())
    }

    /// Sends a signal to ``alias``'s process (to its group with setpgrp):
    /// a number, a ``signal.Signals``, or a name (``"SIGINT"``, ``"int"``).
    /// ValueError for a signal procloop does not know; NoSuchProcessError
    /// if the alias is not taken. Once the process exited it does nothing.
    fn signal(slf: &Bound<'_, Self>, alias: &str, signal: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let signal = to_signal(signal)?;
        borrow(slf)?.runner().signal(alias, signal).py(py)
    }

    /// Waits up to ``timeout`` seconds (None: as long as it takes) for
    /// ``alias``'s process to exit, with the GIL released, and returns its
    /// returncode (None if its status was taken by someone else); as
    /// ``subprocess.Popen.wait``, ``WaitTimeout`` (a
    /// ``subprocess.TimeoutExpired``) if it still runs then. It waits for
    /// that child only and consumes nothing: every event, this alias's
    /// ``Exited`` included, is still returned by a later ``poll``. Python
    /// signal handlers run meanwhile. NoSuchProcessError if not taken.
    #[pyo3(signature = (alias, timeout=None))]
    fn wait(slf: &Bound<'_, Self>, alias: &str, timeout: Option<f64>) -> PyResult<Option<i32>> {
        let py = slf.py();
        let limit = timeout.map(|t| config::timeout(py, t)).transpose()?;
        // A timeout past what an Instant can hold is no timeout.
        let deadline = limit.and_then(|t| Instant::now().checked_add(t));
        let mut this = borrow(slf)?;
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let slice = left.map_or(WAIT_SLICE, |l| l.min(WAIT_SLICE));
            let runner = this.runner();
            if let Some(status) = py.detach(|| runner.wait(alias, slice)).py(py)? {
                return Ok(returncode(status));
            }
            py.check_signals()?;
            if left.is_some_and(|l| l <= slice) {
                return Err(wait_timeout(py, alias, timeout.unwrap_or_default()));
            }
        }
    }

    /// What ``alias``'s process used (a ``Usage``: ``user`` and ``system``
    /// CPU seconds, ``max_rss`` bytes), once its exit was returned by
    /// ``poll``; None before, for an alias that is not taken, or when its
    /// status was taken by someone else.
    fn usage(slf: &Bound<'_, Self>, alias: &str) -> PyResult<Option<Usage>> {
        Ok(borrow(slf)?.runner().usage(alias).map(Usage::of))
    }

    /// The CPU time (user and system, in seconds) ``alias``'s process has
    /// used so far; cheap enough to call every turn. NoSuchProcessError if
    /// not taken.
    fn cpu_time(slf: &Bound<'_, Self>, alias: &str) -> PyResult<f64> {
        let py = slf.py();
        Ok(borrow(slf)?.runner().cpu_time(alias).py(py)?.as_secs_f64())
    }

    /// Ends every process (one shared grace period) and frees every alias.
    /// Ctrl-C meanwhile raises KeyboardInterrupt at once, and leaves the
    /// aliases not ended yet stopped, as ``terminate`` does.
    fn terminate_all(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let mut this = borrow(slf)?;
        this.runner().stop_all();
        loop {
            let aliases: Vec<String> = this.runner().aliases().map(str::to_string).collect();
            let Some((first, rest)) = aliases.split_first() else { break };
            // The others' exits (and due SIGKILLs) are seen without waiting;
            // the wait is on the first one.
            for alias in rest {
                this.end_within(py, alias, Duration::ZERO);
            }
            this.end_within(py, first, WAIT_SLICE);
            py.check_signals()?;
        }
        this.generations.clear();
        let runner = this.runner();
        py.detach(|| runner.terminate_all());
        Ok(())
    }

    /// Whether ``alias`` is taken and its process has not exited.
    fn is_running(slf: &Bound<'_, Self>, alias: &str) -> PyResult<bool> {
        Ok(borrow(slf)?.runner().is_running(alias))
    }

    /// Whether nothing could ever produce an event, so that ``poll()``
    /// returns ``[]`` at once: every alias's process has exited, its output
    /// was drained and its ``Exited`` returned, and no restart, timer or
    /// event waiting is left.
    fn is_idle(slf: &Bound<'_, Self>) -> PyResult<bool> {
        Ok(borrow(slf)?.idle())
    }

    /// The pid of ``alias``'s process while its alias is taken, else None.
    fn pid(slf: &Bound<'_, Self>, alias: &str) -> PyResult<Option<u32>> {
        Ok(borrow(slf)?.runner().pid(alias))
    }

    /// The returncode of ``alias`` once ``poll`` returned its exit, else
    /// None (None too if its status was taken by someone else).
    fn returncode(slf: &Bound<'_, Self>, alias: &str) -> PyResult<Option<i32>> {
        Ok(borrow(slf)?.runner().exit_status(alias).and_then(returncode))
    }

    /// The aliases taken now, sorted.
    fn aliases(slf: &Bound<'_, Self>) -> PyResult<Vec<String>> {
        let mut this = borrow(slf)?;
        let mut aliases: Vec<String> = this.runner().aliases().map(str::to_string).collect();
        aliases.sort();
        Ok(aliases)
    }

    /// Stops handing ``alias``'s output over as events: it is buffered (up
    /// to the channel's capacity, then the child is held back) for
    /// ``get_channel(alias).read()``. False for an unknown alias.
    fn pause(slf: &Bound<'_, Self>, alias: &str) -> PyResult<bool> {
        Ok(borrow(slf)?.runner().pause(alias))
    }

    /// Hands ``alias``'s output over as events again.
    fn resume(slf: &Bound<'_, Self>, alias: &str) -> PyResult<bool> {
        Ok(borrow(slf)?.runner().resume(alias))
    }

    /// Sets the window size of a ``pty`` app's terminal.
    fn resize(
        slf: &Bound<'_, Self>,
        alias: &str,
        rows: &Bound<'_, PyAny>,
        cols: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        let (rows, cols) = (config::int(rows, "rows")?, config::int(cols, "cols")?);
        borrow(slf)?.runner().resize(alias, rows, cols).py(py)
    }

    /// A one-shot timer: ``poll`` returns ``Timer(id)`` once ``seconds`` have
    /// passed. Returns the id.
    fn set_timer(slf: &Bound<'_, Self>, seconds: f64) -> PyResult<u64> {
        let after = config::seconds(slf.py(), seconds, "set_timer")?;
        let mut this = borrow(slf)?;
        let id = this.runner().set_timer(after);
        this.next_timer += 1;
        let number = this.next_timer;
        this.timers.insert(id, number);
        this.timer_ids.insert(number, id);
        Ok(number)
    }

    /// Cancels a timer; False if it already fired or was cancelled.
    fn cancel_timer(slf: &Bound<'_, Self>, id: &Bound<'_, PyAny>) -> PyResult<bool> {
        let id: u64 = config::int(id, "id")?;
        let mut this = borrow(slf)?;
        let Some(timer) = this.timer_ids.remove(&id) else { return Ok(false) };
        this.timers.remove(&timer);
        Ok(this.runner().cancel_timer(timer))
    }

    /// Waits up to ``timeout`` seconds (None: until something happens; 0:
    /// not at all) and returns the events, in order, at most ``max_events``
    /// of them (None: ``Runner.DEFAULT_MAX_EVENTS``, 4096, so that a flood
    /// of short lines does not make one huge list; a ValueError below 1).
    /// The rest wait for the next call, which then does not block: none is
    /// lost. An empty list if the timeout passed, and at once with
    /// ``timeout=None`` when nothing could ever produce an event (no
    /// process or channel left, no timer set). The GIL is released while waiting; Python
    /// signal handlers run meanwhile, and an exception they raise
    /// (KeyboardInterrupt) propagates from here.
    ///
    /// With ``batch=True`` a process's output read in one go comes as one
    /// ``Data`` (``Stderr``) event: in line mode its ``data`` holds several
    /// whole lines, newlines kept (``max_events`` still counts lines).
    #[pyo3(signature = (timeout=None, max_events=None, *, batch=false))]
    fn poll(
        slf: &Bound<'_, Self>,
        timeout: Option<f64>,
        max_events: Option<&Bound<'_, PyAny>>,
        batch: bool,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let py = slf.py();
        let max_events = match max_events.map(|n| config::int(n, "max_events")).transpose()? {
            Some(0) => {
                let message = format!("max_events: at least 1 (or None for {DEFAULT_MAX_EVENTS})");
                return Err(config_error(py, message));
            }
            Some(n) => n,
            None => DEFAULT_MAX_EVENTS,
        };
        let timeout = timeout.map(|t| config::timeout(py, t)).transpose()?;
        // A timeout past what an Instant can hold is no timeout.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut this = borrow(slf)?;
        loop {
            let idle = timeout.is_none() && this.idle();
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let slice = if idle { Duration::ZERO } else { left.map_or(WAIT_SLICE, |l| l.min(WAIT_SLICE)) };
            let mut owned = Vec::new();
            let runner = this.runner();
            let polled = py.detach(|| {
                runner.poll_once_max(Some(slice), max_events, |_, event| {
                    if let Some(event) = Owned::of(event) {
                        events::collect(&mut owned, event, batch);
                    }
                })
            });
            polled.py(py)?;
            if !owned.is_empty() {
                let mut out = Vec::with_capacity(owned.len());
                for event in owned {
                    let this = &mut *this;
                    if let Owned::StartFailed(alias, _) = &event {
                        // The start was undone: its alias is free.
                        this.generations.remove(alias);
                    }
                    let (timers, ids, turns) = (&mut this.timers, &mut this.timer_ids, &mut this.turns);
                    out.push(events::to_python(py, event, |id| timer_number(timers, ids, id), turns)?);
                }
                return Ok(out);
            }
            py.check_signals()?;
            if idle || left.is_some_and(|l| l <= slice) {
                return Ok(Vec::new());
            }
        }
    }

    /// Begins a turn and returns its number at once: writes each bot's
    /// payload (``bots``: alias to bytes, in order) and gives each
    /// ``deadline`` seconds, plus what is left of its overage bank (the
    /// app's ``overage``), to reply. ``poll`` then returns a ``Reply`` for
    /// each bot's first reply (its first line in line mode) and
    /// ``TurnEnded`` once every bot has an ``Outcome``; later output comes
    /// as ``Data``. ``charge="cpu"`` counts the bot's CPU time instead of
    /// wall time (ten deadlines of wall time at most); ``freeze_between``
    /// stops each bot (SIGSTOP) once it has its outcome, until a later turn
    /// writes to it. Nothing is written if the turn is bad: ConfigError
    /// for no bot, a zero deadline or a bad ``charge``;
    /// NoSuchProcessError for an alias not taken; TurnInProgressError for
    /// a bot in a turn that has not ended; QueueFullError, naming the bot,
    /// for one whose write queue has no room for its payload (it reads
    /// none of its input).
    #[pyo3(signature = (bots, deadline, *, charge="wall", freeze_between=false))]
    fn begin_turn(
        slf: &Bound<'_, Self>,
        bots: &Bound<'_, PyAny>,
        deadline: f64,
        charge: &str,
        freeze_between: bool,
    ) -> PyResult<u64> {
        let py = slf.py();
        let turn = turns::turn_of(py, bots, deadline, charge, freeze_between)?;
        let mut this = borrow(slf)?;
        let id = this.runner().begin_turn(turn).py(py)?;
        Ok(this.turns.begin(id))
    }

    /// Seconds left in ``alias``'s overage bank (its app's ``overage``):
    /// what it may still go over its turns' deadlines, in all.
    /// NoSuchProcessError if not taken.
    fn overage_left(slf: &Bound<'_, Self>, alias: &str) -> PyResult<f64> {
        let py = slf.py();
        Ok(borrow(slf)?.runner().overage_left(alias).py(py)?.as_secs_f64())
    }

    /// When ``poll`` has something to do next without ``fileno()`` becoming
    /// readable (a timer, a stopped child's SIGKILL, events already
    /// waiting), on the ``time.monotonic()`` clock, which is the clock of
    /// asyncio's ``loop.time()``: ``loop.call_at(runner.next_deadline(),
    /// ...)`` takes it as it is. A deadline already past means now. None if
    /// only the fd can wake it. A host loop calls ``poll(0)`` when the fd is
    /// readable or this deadline has come, then asks again.
    fn next_deadline(slf: &Bound<'_, Self>) -> PyResult<Option<f64>> {
        let py = slf.py();
        let Some(deadline) = borrow(slf)?.runner().next_deadline() else { return Ok(None) };
        let left = deadline.saturating_duration_since(Instant::now());
        Ok(Some(monotonic(py)? + left.as_secs_f64()))
    }

    /// The loop's own fd (an epoll fd): readable when ``poll`` has work, for
    /// ``selectors``, ``asyncio``'s ``add_reader`` or a game loop.
    fn fileno(slf: &Bound<'_, Self>) -> PyResult<RawFd> {
        Ok(borrow(slf)?.runner().as_raw_fd())
    }

    /// Ends every child, as ``terminate_all``.
    fn close(slf: &Bound<'_, Self>) -> PyResult<()> {
        Self::terminate_all(slf)
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Ends every child, as ``terminate_all``: SIGTERM to all, each app's
    /// grace period (at once), SIGKILL to the rest, and every one reaped.
    /// In a forked copy it does nothing: the children are the parent's, and
    /// a child process leaving the block (``sys.exit``) must not fail there.
    #[pyo3(signature = (*_exc))]
    fn __exit__(slf: &Bound<'_, Self>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        let forked = match slf.try_borrow() {
            Ok(this) => this.owner_pid != std::process::id(),
            Err(_) => crate::exit::copy_owner(slf).is_some(),
        };
        if !forked {
            Self::terminate_all(slf)?;
        }
        Ok(false)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let owner = match slf.try_borrow() {
            Ok(this) => Some(this.owner_pid),
            Err(_) => crate::exit::copy_owner(slf),
        };
        if let Some(owner) = owner.filter(|&owner| owner != std::process::id()) {
            return Ok(format!("<procloop.Runner of pid {owner} (a forked copy)>"));
        }
        // repr() must not fail: a Runner another thread polls says so.
        let Ok(aliases) = Self::aliases(slf) else { return Ok("<procloop.Runner (in use)>".to_string()) };
        Ok(format!("<procloop.Runner running {}>", aliases.join(", ")))
    }

    // Containment: a cgroup per child (``cgroups=``), one block.

    /// How the children are held: ``("cgroup", path)`` with the Runner's
    /// own cgroup directory (each child in a leaf below it),
    /// ``("process_group", None)`` where ``cgroups="preferred"`` found no
    /// cgroup, ``("none", None)`` with ``cgroups="off"``.
    fn containment(slf: &Bound<'_, Self>) -> PyResult<(&'static str, Option<std::path::PathBuf>)> {
        Ok(crate::containment::describe(borrow(slf)?.runner().containment()))
    }

    /// Stops ``alias``'s whole tree from running (its cgroup's freezer;
    /// without a cgroup, SIGSTOP) and returns at once. A frozen tree can
    /// still be stopped and terminated. NoSuchProcessError if not taken.
    fn freeze(slf: &Bound<'_, Self>, alias: &str) -> PyResult<()> {
        let py = slf.py();
        borrow(slf)?.runner().freeze(alias).py(py)
    }

    /// Lets a frozen tree run again (without a cgroup, SIGCONT).
    fn thaw(slf: &Bound<'_, Self>, alias: &str) -> PyResult<()> {
        let py = slf.py();
        borrow(slf)?.runner().thaw(alias).py(py)
    }

    /// What ``alias``'s whole tree has used (a ``TreeUsage``), read from its
    /// cgroup: every process it ever ran. CgroupsUnavailableError (saying
    /// why) without a cgroup, NoSuchProcessError if not taken.
    fn tree_usage(slf: &Bound<'_, Self>, alias: &str) -> PyResult<crate::containment::TreeUsage> {
        let py = slf.py();
        Ok(crate::containment::TreeUsage::of(borrow(slf)?.runner().tree_usage(alias).py(py)?))
    }
}

impl Drop for PyRunner {
    fn drop(&mut self) {
        let Some(runner) = self.inner.take() else { return };
        if std::process::id() != self.owner_pid {
            // A forked child's copy: its children are the parent's to end.
            std::mem::forget(runner);
            return;
        }
        // Ending the children may take each app's grace: other Python
        // threads run meanwhile.
        Python::attach(|py| py.detach(|| drop(runner)));
    }
}
