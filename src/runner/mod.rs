//! [`Runner`]: configured apps, and their running processes by alias, on
//! one [`Reactor`].

mod app;
#[cfg(feature = "serde")]
mod config;
mod event;
mod restart;
mod socket;
mod spawn;
mod split;
mod streams;

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Signal;
use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::process::{Process, wait_all};
use crate::reactor::{Delivery, Reactor, Step, hand_lines, poll_loop};
use crate::timers::TimerId;
use crate::token::Token;
use crate::waker::Waker;
pub use app::{App, Buffering, DEFAULT_GRACE, DEFAULT_SOCKET_WAIT, Start, Stderr, Transport};
pub use event::Event;
pub use restart::Restart;
use restart::{Decision, RestartState};
use spawn::{KillOnDrop, ProgramCache, Spawned};
pub use split::split_command;
use streams::{Stream, Streams};

/// The registry of configured apps and of the processes running them, by
/// alias, all served by one event loop.
///
/// ```
/// use std::time::Duration;
/// use procloop::{App, Event, Runner};
///
/// let mut runner = Runner::new()?;
/// runner.add("cat", App::new("cat"));
/// runner.ensure_running("cat")?;
/// runner.get_channel("cat").unwrap().write(b"hello, world")?;
///
/// let mut echoed = Vec::new();
/// while echoed.len() < 12 {
///     runner.poll_once(Some(Duration::from_secs(5)), |_, event| {
///         if let Event::Data { data, .. } = event {
///             echoed.extend_from_slice(data);
///         }
///     })?;
/// }
/// assert_eq!(echoed, b"hello, world");
/// runner.terminate("cat")?;
/// # Ok::<(), procloop::Error>(())
/// ```
#[derive(Debug)]
pub struct Runner {
    reactor: Reactor,
    apps: HashMap<String, App>,
    running: HashMap<Arc<str>, Running>,
    /// What each reactor token of a running process is.
    streams: Streams,
    /// PATH with the extra folders, when there are any.
    path: Option<OsString>,
    /// Timers of pending restarts, and whose they are.
    restart_timers: HashMap<TimerId, String>,
    programs: ProgramCache,
    delivery: Delivery,
}

/// What a restart needs: the app and start options a process came from,
/// and its restarts so far. Kept only for apps with a restart policy, so
/// thousands of plain children stay small.
#[derive(Debug)]
struct Origin {
    app: String,
    opts: Start,
    restart: RestartState,
}

/// One alias, from its start until `terminate`.
#[derive(Debug)]
struct Running {
    origin: Option<Box<Origin>>,
    pid: u32,
    channel: Token,
    stderr: Option<Token>,
    /// `None` once its exit was handed over.
    process: Option<Token>,
    status: Option<ExitStatus>,
    setpgrp: bool,
    grace: Duration,
}

impl Runner {
    /// A runner with no apps.
    pub fn new() -> Result<Runner> {
        Ok(Runner {
            reactor: Reactor::new()?,
            apps: HashMap::new(),
            running: HashMap::new(),
            streams: Streams::default(),
            path: None,
            restart_timers: HashMap::new(),
            programs: ProgramCache::default(),
            delivery: Delivery::default(),
        })
    }

    /// A runner that appends `paths` to PATH, both to find commands and in
    /// the children's environment.
    ///
    /// ```
    /// // Debian installs games such as stockfish in /usr/games, off root's PATH.
    /// let mut runner = procloop::Runner::with_extra_paths(["/usr/games"])?;
    /// # let _ = &mut runner;
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn with_extra_paths<I: IntoIterator<Item = P>, P: Into<PathBuf>>(paths: I) -> Result<Runner> {
        let mut runner = Runner::new()?;
        let current = std::env::var_os("PATH").unwrap_or_default();
        let mut all: Vec<PathBuf> = std::env::split_paths(&current).collect();
        all.extend(paths.into_iter().map(Into::into));
        let joined = std::env::join_paths(all).map_err(|e| {
            Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("extra path: {e}")))
        })?;
        runner.path = Some(joined);
        Ok(runner)
    }

    /// Configures (or reconfigures) the app `name`.
    pub fn add(&mut self, name: impl Into<String>, app: App) {
        self.apps.insert(name.into(), app);
    }

    /// Configures several apps at once, e.g. from a parsed config file
    /// (with the `serde` feature, `App` deserializes from the seed's shape).
    pub fn update_config<I: IntoIterator<Item = (K, App)>, K: Into<String>>(&mut self, config: I) {
        for (name, app) in config {
            self.add(name, app);
        }
    }

    /// The app configured as `name`.
    pub fn app(&self, name: &str) -> Option<&App> {
        self.apps.get(name)
    }

    /// Starts `app` under its own name; returns the pid.
    /// `Err(Error::ProcessExists)` if that alias is taken.
    pub fn start(&mut self, app: &str) -> Result<u32> {
        self.start_with(app, Start::new())
    }

    /// Starts `app` with an alias, extra arguments or overrides; returns the
    /// pid. A failed start leaves nothing running and the alias free.
    ///
    /// ```
    /// use procloop::{App, Error, Runner, Start};
    ///
    /// let mut runner = Runner::new()?;
    /// runner.add("sleep", App::new("sleep"));
    /// runner.start_with("sleep", Start::new().alias("nap").args(["60"]))?;
    /// assert!(runner.is_running("nap"));
    /// let again = runner.start_with("sleep", Start::new().alias("nap").args(["60"]));
    /// assert!(matches!(again, Err(Error::ProcessExists(alias)) if alias == "nap"));
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn start_with(&mut self, app: &str, opts: Start) -> Result<u32> {
        let config = self.apps.get(app).ok_or_else(|| Error::UnknownApp(app.to_string()))?;
        let alias = opts.alias.clone().unwrap_or_else(|| app.to_string());
        if self.running.contains_key(alias.as_str()) {
            return Err(Error::ProcessExists(alias));
        }
        let spawned = spawn::spawn(config, &opts, self.path.as_deref(), &mut self.programs)?;
        let restarts = config.restart.when != Restart::Never;
        let origin = restarts
            .then(|| Box::new(Origin { app: app.to_string(), opts, restart: RestartState::default() }));
        let grace = config.grace;
        self.adopt(alias, spawned, origin, grace)
    }

    /// Starts `app` unless its alias is taken; returns the pid either way.
    pub fn ensure_running(&mut self, app: &str) -> Result<u32> {
        self.ensure_running_with(app, Start::new())
    }

    /// As [`ensure_running`](Self::ensure_running), with start options.
    ///
    /// ```
    /// use procloop::{App, Runner};
    ///
    /// let mut runner = Runner::new()?;
    /// runner.add("cat", App::new("cat"));
    /// let first = runner.ensure_running("cat")?;
    /// assert_eq!(runner.ensure_running("cat")?, first, "the running one is kept");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn ensure_running_with(&mut self, app: &str, opts: Start) -> Result<u32> {
        let alias = opts.alias.as_deref().unwrap_or(app);
        match self.running.get(alias) {
            Some(running) => Ok(running.pid),
            None => self.start_with(app, opts),
        }
    }

    /// The channel of `alias`; `None` once terminated (or never started).
    pub fn get_channel(&mut self, alias: &str) -> Option<&mut Channel> {
        let token = self.running.get(alias)?.channel;
        self.reactor.channel(token)
    }

    /// Stops handing over `alias`'s output as events: it is buffered, up to
    /// the channel's input capacity (then the child is held back), for
    /// `get_channel(alias).read()`. False for an unknown alias.
    pub fn pause(&mut self, alias: &str) -> bool {
        self.running.get(alias).is_some_and(|r| self.reactor.pause(r.channel))
    }

    /// Hands `alias`'s output over as events again.
    pub fn resume(&mut self, alias: &str) -> bool {
        self.running.get(alias).is_some_and(|r| self.reactor.resume(r.channel))
    }

    /// The captured stderr of `alias` (read-only), with [`Stderr::Capture`].
    pub fn get_stderr(&mut self, alias: &str) -> Option<&mut Channel> {
        let token = self.running.get(alias)?.stderr?;
        self.reactor.channel(token)
    }

    /// Whether `alias` is taken and its process has not exited.
    pub fn is_running(&mut self, alias: &str) -> bool {
        let Some(running) = self.running.get(alias) else { return false };
        let process = running.process.and_then(|token| self.reactor.process(token));
        process.is_some_and(|p| matches!(p.try_wait(), Ok(None)))
    }

    /// The pid of `alias`'s process, while its alias is taken.
    pub fn pid(&self, alias: &str) -> Option<u32> {
        self.running.get(alias).map(|r| r.pid)
    }

    /// The exit status of `alias`, once its exit was handed over.
    pub fn exit_status(&self, alias: &str) -> Option<ExitStatus> {
        self.running.get(alias)?.status
    }

    /// The aliases taken now, in no particular order.
    pub fn aliases(&self) -> impl Iterator<Item = &str> {
        self.running.keys().map(|alias| &**alias)
    }

    /// Ends `alias`: SIGTERM (to its whole group with `setpgrp`), up to its
    /// grace period, then SIGKILL; always reaps, closes its channels and
    /// frees the alias. For a process that exited by itself, it just reaps.
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// use procloop::{App, Error, Runner};
    ///
    /// let mut runner = Runner::new()?;
    /// runner.add("cat", App::new("cat"));
    /// runner.start("cat")?;
    /// let status = runner.terminate("cat")?;
    /// assert_eq!(status.signal(), Some(15), "ended by SIGTERM");
    /// assert!(runner.get_channel("cat").is_none());
    /// assert!(matches!(runner.terminate("cat"), Err(Error::NoSuchProcess(_))));
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn terminate(&mut self, alias: &str) -> Result<ExitStatus> {
        let running = self.running.remove(alias).ok_or_else(|| Error::NoSuchProcess(alias.to_string()))?;
        if let Some(timer) = running.origin.as_ref().and_then(|o| o.restart.pending) {
            self.reactor.cancel_timer(timer);
            self.restart_timers.remove(&timer);
        }
        let status = match running.process.and_then(|token| self.reactor.take_process(token)) {
            Some(mut process) => end_process(&mut process, running.setpgrp, running.grace),
            None => running.status.ok_or_else(|| Error::NoSuchProcess(alias.to_string())),
        };
        self.forget(&running);
        status
    }

    /// Sets the window size of a `pty` app's terminal (the child gets SIGWINCH).
    pub fn resize(&mut self, alias: &str, rows: u16, cols: u16) -> Result<()> {
        let channel = self.get_channel(alias).ok_or_else(|| Error::NoSuchProcess(alias.to_string()))?;
        match channel.read_fd().filter(|_| channel.is_terminal()) {
            Some(fd) => Ok(crate::sys::child::set_window_size(fd, rows, cols)?),
            None => Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{alias:?} is not a pty app: it has no window to resize"),
            ))),
        }
    }

    /// Sets a one-shot timer; `poll_once` hands [`Event::Timer`] when it fires.
    pub fn set_timer(&mut self, after: Duration) -> TimerId {
        self.reactor.set_timer(after)
    }

    /// Cancels a timer; false if it already fired or was cancelled.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.reactor.cancel_timer(id)
    }

    /// A handle that wakes a waiting `poll_once` from any thread.
    pub fn waker(&self) -> Result<Waker> {
        self.reactor.waker()
    }

    /// The reactor underneath, for channels or servers of your own.
    pub fn reactor(&mut self) -> &mut Reactor {
        &mut self.reactor
    }

    /// Waits (`None`: until something happens; `Some(ZERO)`: not at all)
    /// and hands every event to `handler`; returns how many it handed.
    pub fn poll_once<F>(&mut self, timeout: Option<Duration>, mut handler: F) -> Result<usize>
    where
        F: FnMut(&mut Runner, Event<'_>),
    {
        let mut delivery = std::mem::take(&mut self.delivery);
        let result = poll_loop(
            self,
            |r| &mut r.reactor,
            &mut delivery,
            timeout,
            |runner, step, delivery| runner.dispatch(step, delivery, &mut handler),
        );
        self.delivery = delivery;
        result
    }

    /// Turns a reactor step into events for `handler`; returns how many
    /// it handed over (none for steps the handler does not see).
    fn dispatch<F>(&mut self, step: Step, delivery: &mut Delivery, handler: &mut F) -> usize
    where
        F: FnMut(&mut Runner, Event<'_>),
    {
        let token = match &step {
            Step::Data { token, .. } | Step::Closed { token } | Step::Exited { token, .. } => *token,
            Step::Timer { id } => {
                return match self.restart_timers.remove(id) {
                    Some(alias) => usize::from(self.restart(alias, handler)),
                    None => {
                        handler(self, Event::Timer { id: *id });
                        1
                    }
                };
            }
            Step::Accepted { .. } => return 0,
        };
        let Some((alias, stream)) = self.streams.lend(token) else { return 0 };
        let handed = match (step, stream) {
            (Step::Data { at, len, .. }, Stream::Stdout | Stream::Stderr) => {
                self.hand_data(token, &alias, stream, (at, len), delivery, handler)
            }
            (Step::Closed { .. }, Stream::Stdout) => {
                handler(self, Event::Closed { alias: &alias });
                1
            }
            (Step::Exited { status, .. }, _) => {
                self.streams.remove(token);
                if let Some(running) = self.running.get_mut(&*alias) {
                    running.status = Some(status);
                    running.process = None;
                }
                handler(self, Event::Exited { alias: &alias, status });
                if self.decide_restart(&alias, status) == Decision::GiveUp {
                    handler(self, Event::GaveUp { alias: &alias, status });
                }
                1
            }
            _ => 0,
        };
        self.streams.give_back(token, alias);
        handed
    }

    /// Hands over one piece of output, then the rest of its line batch (if
    /// the reactor made one) with the alias still at hand.
    fn hand_data<F>(
        &mut self,
        token: Token,
        alias: &str,
        stream: Stream,
        (at, len): (usize, usize),
        delivery: &mut Delivery,
        handler: &mut F,
    ) -> usize
    where
        F: FnMut(&mut Runner, Event<'_>),
    {
        let mut hand = |runner: &mut Runner, data: &[u8]| match stream {
            Stream::Stdout => handler(runner, Event::Data { alias, data }),
            _ => handler(runner, Event::Stderr { alias, data }),
        };
        hand(self, delivery.bytes(at, len));
        1 + hand_lines(self, |r| &mut r.reactor, token, delivery, hand)
    }

    /// Applies the app's restart policy to an exit: schedules a restart, or
    /// says to give up.
    fn decide_restart(&mut self, alias: &str, status: ExitStatus) -> Decision {
        let Some(origin) = self.running.get_mut(alias).and_then(|r| r.origin.as_mut()) else {
            return Decision::Stay;
        };
        let Some(app) = self.apps.get(&origin.app) else { return Decision::Stay };
        let decision = app.restart.decide(status, &mut origin.restart, Instant::now());
        if let Decision::RestartAfter(delay) = decision {
            let timer = self.reactor.set_timer(delay);
            origin.restart.pending = Some(timer);
            self.restart_timers.insert(timer, alias.to_string());
        }
        decision
    }

    /// Starts `alias` again with what it was started with, in place of its
    /// exited process; announces `Restarted`, or `GaveUp` if it won't start.
    /// False if it announced nothing (the alias went meanwhile).
    fn restart<F>(&mut self, alias: String, handler: &mut F) -> bool
    where
        F: FnMut(&mut Runner, Event<'_>),
    {
        let Some(running) = self.running.get_mut(alias.as_str()) else { return false };
        let status = running.status.expect("restarted after an exit");
        let Some(origin) = running.origin.as_mut() else { return false };
        origin.restart.pending = None;
        let spawned = match self.apps.get(&origin.app) {
            Some(app) => spawn::spawn(app, &origin.opts, self.path.as_deref(), &mut self.programs),
            None => Err(Error::UnknownApp(origin.app.clone())),
        };
        let spawned = match spawned {
            Ok(spawned) => spawned,
            Err(e) => {
                log::warn!("restarting {alias}: {e}");
                handler(self, Event::GaveUp { alias: &alias, status });
                return true;
            }
        };
        let old = self.running.remove(alias.as_str()).expect("checked above");
        self.forget(&old);
        match self.adopt(alias.clone(), spawned, old.origin, old.grace) {
            Ok(_) => {
                handler(self, Event::Restarted { alias: &alias, status });
                true
            }
            Err(e) => {
                log::warn!("restarting {alias}: {e}");
                false
            }
        }
    }

    /// Registers a started process and its channels under `alias`.
    fn adopt(
        &mut self,
        alias: String,
        spawned: Spawned,
        origin: Option<Box<Origin>>,
        grace: Duration,
    ) -> Result<u32> {
        let Spawned { mut process, channel, stderr, setpgrp } = spawned;
        let pid = process.get().pid();
        let channel = self.reactor.register(channel)?;
        let stderr = match stderr.map(|c| self.reactor.register(c)).transpose() {
            Ok(stderr) => stderr,
            Err(e) => {
                self.reactor.unregister(channel);
                return Err(e);
            }
        };
        let outputs: Vec<Token> = std::iter::once(channel).chain(stderr).collect();
        let token = match self.reactor.add_watched_process(process.keep(), &outputs) {
            Ok(token) => token,
            Err((e, process)) => {
                drop(KillOnDrop::new(process, setpgrp));
                outputs.iter().for_each(|t| drop(self.reactor.unregister(*t)));
                return Err(e);
            }
        };
        let alias: Arc<str> = Arc::from(alias);
        self.streams.insert(channel, alias.clone(), Stream::Stdout);
        if let Some(stderr) = stderr {
            self.streams.insert(stderr, alias.clone(), Stream::Stderr);
        }
        self.streams.insert(token, alias.clone(), Stream::Process);
        let running =
            Running { origin, pid, channel, stderr, process: Some(token), status: None, setpgrp, grace };
        self.running.insert(alias, running);
        Ok(pid)
    }

    /// Drops an alias's channels and token mappings.
    fn forget(&mut self, running: &Running) {
        for token in std::iter::once(running.channel).chain(running.stderr).chain(running.process) {
            self.streams.remove(token);
            self.reactor.discard(token);
        }
    }

    /// Ends every process: SIGTERM to all, one shared grace period, then
    /// SIGKILL to the rest; reaps all and closes every channel.
    pub fn terminate_all(&mut self) {
        for (timer, _) in self.restart_timers.drain() {
            self.reactor.cancel_timer(timer);
        }
        let running: Vec<Running> = self.running.drain().map(|(_, r)| r).collect();
        let mut ending = Vec::new();
        for r in &running {
            if let Some(process) = r.process.and_then(|t| self.reactor.take_process(t)) {
                let _ = send(&process, r.setpgrp, Signal::SIGTERM);
                ending.push((process, r.setpgrp));
            }
        }
        let grace = running.iter().map(|r| r.grace).max().unwrap_or_default();
        let mut refs: Vec<&mut Process> = ending.iter_mut().map(|(p, _)| p).collect();
        if let Err(e) = wait_all(&mut refs, Instant::now() + grace) {
            log::warn!("waiting for children to end: {e}");
        }
        for (process, group) in &mut ending {
            if process.status().is_none() {
                let _ = send(process, *group, Signal::SIGKILL);
                if let Err(e) = process.wait() {
                    log::warn!("reaping pid {}: {e}", process.pid());
                }
            }
        }
        running.iter().for_each(|r| self.forget(r));
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.terminate_all();
    }
}

/// SIGTERM, up to `grace`, then SIGKILL; reaps.
fn end_process(process: &mut Process, group: bool, grace: Duration) -> Result<ExitStatus> {
    if let Some(status) = process.try_wait()? {
        if group {
            // The leader is gone; what is left of its group is ended too.
            send(process, true, Signal::SIGTERM)?;
        }
        return Ok(status);
    }
    send(process, group, Signal::SIGTERM)?;
    if let Some(status) = process.wait_timeout(grace)? {
        return Ok(status);
    }
    log::debug!("pid {} outlived its grace period; killing it", process.pid());
    send(process, group, Signal::SIGKILL)?;
    process.wait()
}

fn send(process: &Process, group: bool, signal: Signal) -> Result<()> {
    if group { process.signal_group(signal) } else { process.signal(signal) }
}

impl AsFd for Runner {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.reactor.as_fd()
    }
}

impl AsRawFd for Runner {
    fn as_raw_fd(&self) -> RawFd {
        self.reactor.as_raw_fd()
    }
}
