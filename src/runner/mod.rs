//! [`Runner`]: configured apps, and their running processes by alias, on
//! one [`Reactor`]. This file is the Runner's face: its state, its
//! configuration and queries (`poll_once` is in `poll.rs`).

mod alias_hash;
mod app;
mod bookkeeping;
mod command;
#[cfg(feature = "serde")]
mod config;
mod connect;
mod containment;
mod event;
mod lifecycle;
mod peer;
mod peer_holder;
mod poll;
mod restart;
mod running;
mod socket;
mod tokens;
mod turn;
mod turn_outcomes;
mod turns;
mod untrusted;
mod view;

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::process::launch::ProgramCache;
pub use crate::process::split::split_command;
use crate::process::usage::Usage;
use crate::reactor::Reactor;
use crate::reactor::timers::TimerId;
use crate::reactor::token::Token;
use crate::reactor::waker::Waker;
use alias_hash::AliasHash;
pub use app::{App, Buffering, DEFAULT_GRACE, DEFAULT_SOCKET_WAIT, Start, Stderr, Transport};
use containment::Contain;
pub use containment::{Cgroups, Containment};
pub use event::Event;
pub use restart::Restart;
use running::{OwnEvent, OwnTimer, Running};
use tokens::Tokens;
pub use turn::{Charge, Outcome, Turn, TurnId, TurnReport};
use turns::Turns;
pub use untrusted::Scheduler;
pub use view::ReactorView;

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
///
/// A Runner belongs to the process that made it. A forked copy of it (in
/// the child of a `fork()`, Python's `os.fork()` too) shares the parent's
/// children, pipes and loop fd, and must not touch them: there every call
/// that would (`start*`, `ensure_running*`, `stop`, `signal`, `wait`,
/// `wait_ready`, `terminate*`, `poll_once*`, `begin_turn`, `cpu_time`,
/// `resize`, `waker`, and the
/// [`reactor`](Self::reactor) view's `register` and `add_server`) gives
/// `Err(Error::ForkedCopy)`; `get_channel` and `get_stderr` give `None`,
/// `is_running`, `pause` and `resume` false, and `stop_all`,
/// `terminate_all` and dropping it do nothing. The child makes a Runner of
/// its own instead.
#[derive(Debug)]
pub struct Runner {
    reactor: Reactor,
    /// Keyed by name and alias with the quick [`AliasHash`]: the names are
    /// the host program's own strings, not a peer's input, so no hash
    /// flooding to resist; `get_channel` looks an alias up every request.
    apps: HashMap<String, App, AliasHash>,
    running: HashMap<Arc<str>, Box<Running>, AliasHash>,
    /// The alias of the last batch of lines handed, kept for the next
    /// batch of the same alias (`poll.rs`).
    handed_alias: Option<Arc<str>>,
    /// What each reactor token of the Runner's is.
    tokens: Tokens,
    /// PATH with the extra folders, when there are any.
    path: Option<OsString>,
    /// The Runner's own timers: restarts and connection attempts.
    own_timers: HashMap<TimerId, OwnTimer>,
    /// The Runner's own events, waiting to be handed over.
    own_events: VecDeque<OwnEvent>,
    /// Processes the Runner ended on its own, reaped in the loop.
    abandoned: Vec<Token>,
    programs: ProgramCache,
    /// Numbers the runs (starts and restarts) of aliases.
    runs: u64,
    /// Turns of bot loops under way.
    turns: Turns,
    /// The process that made this Runner: a copy of it in a forked child
    /// must not signal or wait for the parent's children.
    owner_pid: u32,
    /// How its children are held: a cgroup leaf each, a process group each,
    /// or neither. Dropped after the children are ended.
    contain: Contain,
}

impl Runner {
    /// A runner with no apps.
    pub fn new() -> Result<Runner> {
        Ok(Runner {
            reactor: Reactor::new()?,
            apps: HashMap::default(),
            running: HashMap::default(),
            handed_alias: None,
            tokens: Tokens::default(),
            path: None,
            own_timers: HashMap::new(),
            own_events: VecDeque::new(),
            abandoned: Vec::new(),
            programs: ProgramCache::default(),
            runs: 0,
            turns: Turns::default(),
            owner_pid: crate::sys::process_id(),
            contain: Contain::Off,
        })
    }

    /// A runner that appends `paths` to PATH, both to find commands and in
    /// the children's environment. A path that PATH cannot hold (with a
    /// ':' or a NUL byte) is [`Error::InvalidSetting`] naming it.
    ///
    /// ```
    /// // Debian installs games such as stockfish in /usr/games, off root's PATH.
    /// let mut runner = procloop::Runner::with_extra_paths(["/usr/games"])?;
    /// # let _ = &mut runner;
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn with_extra_paths<I: IntoIterator<Item = P>, P: Into<PathBuf>>(paths: I) -> Result<Runner> {
        let extra: Vec<PathBuf> = paths.into_iter().map(Into::into).collect();
        for path in &extra {
            let reason = match path.as_os_str().as_encoded_bytes() {
                bytes if bytes.contains(&b':') => "it contains ':', which separates PATH's folders",
                bytes if bytes.contains(&0) => "it contains a NUL byte",
                _ => continue,
            };
            return Err(Error::InvalidSetting { setting: format!("extra path {path:?}"), reason });
        }
        let mut runner = Runner::new()?;
        let current = std::env::var_os("PATH").unwrap_or_default();
        let mut all: Vec<PathBuf> = std::env::split_paths(&current).collect();
        all.extend(extra);
        let joined = std::env::join_paths(all).map_err(|e| {
            Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("extra path: {e}")))
        })?;
        runner.path = Some(joined);
        Ok(runner)
    }

    /// `Err(Error::ForkedCopy)` in a forked copy of the process that made
    /// the Runner: its children and fds are that process's.
    #[inline]
    fn owned(&self) -> Result<()> {
        match crate::sys::process_id() {
            pid if pid == self.owner_pid => Ok(()),
            _ => Err(Error::ForkedCopy { owner: self.owner_pid }),
        }
    }

    /// Configures (or reconfigures) the app `name`.
    pub fn add(&mut self, name: impl Into<String>, app: App) {
        self.apps.insert(name.into(), app);
    }

    /// Configures several apps at once, e.g. from a parsed config file
    /// (with the `serde` feature, `App` deserializes from the config shape
    /// of the Python runner procloop grew out of).
    pub fn update_config<I: IntoIterator<Item = (K, App)>, K: Into<String>>(&mut self, config: I) {
        for (name, app) in config {
            self.add(name, app);
        }
    }

    /// The app configured as `name`.
    pub fn app(&self, name: &str) -> Option<&App> {
        self.apps.get(name)
    }

    /// The channel of `alias`; `None` once terminated (or never started),
    /// and while a [`nowait`](Start::nowait) socket start connects.
    pub fn get_channel(&mut self, alias: &str) -> Option<&mut Channel> {
        self.owned().ok()?;
        let token = self.running.get(alias)?.channel?;
        self.reactor.channel(token)
    }

    /// Stops handing over `alias`'s output as events: it is buffered, up to
    /// the channel's input capacity (then the child is held back), for
    /// `get_channel(alias).read()`. False for an unknown alias. Only its
    /// stdout: a captured stderr ([`Stderr::Capture`]) goes on coming as
    /// [`Event::Stderr`] (until the child blocks on its full stdout).
    pub fn pause(&mut self, alias: &str) -> bool {
        let channel = self.running.get(alias).filter(|_| self.owned().is_ok()).and_then(|r| r.channel);
        channel.is_some_and(|token| self.reactor.pause(token))
    }

    /// Hands `alias`'s output over as events again.
    pub fn resume(&mut self, alias: &str) -> bool {
        let channel = self.running.get(alias).filter(|_| self.owned().is_ok()).and_then(|r| r.channel);
        channel.is_some_and(|token| self.reactor.resume(token))
    }

    /// The captured stderr of `alias` (read-only), with [`Stderr::Capture`].
    pub fn get_stderr(&mut self, alias: &str) -> Option<&mut Channel> {
        self.owned().ok()?;
        let token = self.running.get(alias)?.stderr?;
        self.reactor.channel(token)
    }

    /// Whether `alias` is taken and its process has not exited.
    pub fn is_running(&mut self, alias: &str) -> bool {
        let Some(token) = self.running.get(alias).filter(|_| self.owned().is_ok()).and_then(|r| r.process)
        else {
            return false;
        };
        self.reactor.process(token).is_some_and(|p| matches!(p.try_wait(), Ok(None)))
    }

    /// The pid of `alias`'s process, while its alias is taken.
    pub fn pid(&self, alias: &str) -> Option<u32> {
        self.running.get(alias).map(|r| r.pid)
    }

    /// The exit status of `alias`, once its exit was handed over.
    pub fn exit_status(&self, alias: &str) -> Option<ExitStatus> {
        self.running.get(alias)?.status()
    }

    /// What `alias`'s process used (CPU time, peak memory), once its exit
    /// was handed over; `None` before, or when its exit status was taken by
    /// someone else.
    pub fn usage(&self, alias: &str) -> Option<Usage> {
        self.running.get(alias)?.ended.as_deref()?.usage()
    }

    /// The CPU time (user and system) `alias`'s process has used so far:
    /// cheap enough to call every turn (one `clock_gettime`).
    pub fn cpu_time(&self, alias: &str) -> Result<Duration> {
        self.owned()?;
        let running = self.running.get(alias).ok_or_else(|| Error::NoSuchProcess(alias.to_string()))?;
        let process = match (running.process, &running.ended) {
            (Some(token), _) => self.reactor.process_ref(token),
            (None, ended) => ended.as_deref(),
        };
        process.ok_or_else(|| Error::NoSuchProcess(alias.to_string()))?.cpu_time()
    }

    /// The aliases taken now, in no particular order.
    pub fn aliases(&self) -> impl Iterator<Item = &str> {
        self.running.keys().map(|alias| &**alias)
    }

    /// Sets the window size of a `pty` app's terminal (the child gets SIGWINCH).
    pub fn resize(&mut self, alias: &str, rows: u16, cols: u16) -> Result<()> {
        self.owned()?;
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

    /// Cancels a timer; false if it was handed over already or was cancelled.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.reactor.cancel_timer(id)
    }

    /// A handle that wakes a waiting `poll_once` from any thread.
    pub fn waker(&self) -> Result<Waker> {
        self.owned()?;
        self.reactor.waker()
    }

    /// When `poll_once` has something to do next without its fd becoming
    /// readable (see [`Reactor::next_deadline`]): for a host loop (asyncio,
    /// a game loop) that waits on the Runner's fd.
    pub fn next_deadline(&mut self) -> Option<std::time::Instant> {
        if !self.own_events.is_empty() {
            return Some(std::time::Instant::now());
        }
        self.reactor.next_deadline()
    }

    /// The reactor underneath, for channels and servers of your own: their
    /// events come to this Runner's handler as [`Event::Reactor`]. It has no
    /// `poll_once` of its own (the Runner's is the one loop), and it only
    /// reaches what you registered.
    ///
    /// ```
    /// use std::time::Duration;
    /// use procloop::{Event, ReactorEvent, Runner, testing::TestChannel};
    ///
    /// let mut runner = Runner::new()?;
    /// let (channel, mut peer) = TestChannel::pair();
    /// let token = runner.reactor().register(channel)?;
    /// peer.put(b"mine");
    /// let mut got = Vec::new();
    /// while got.len() < 4 {
    ///     runner.poll_once(Some(Duration::from_secs(5)), |_, event| {
    ///         if let Event::Reactor(ReactorEvent::Data { token: t, data }) = event {
    ///             assert_eq!(t, token);
    ///             got.extend_from_slice(data);
    ///         }
    ///     })?;
    /// }
    /// assert_eq!(got, b"mine");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn reactor(&mut self) -> ReactorView<'_> {
        let forked_from = self.owned().err().map(|_| self.owner_pid);
        ReactorView::new(&mut self.reactor, &self.tokens, forked_from)
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if self.owned().is_err() {
            return; // a forked copy: the children are its parent's
        }
        self.terminate_all();
    }
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
