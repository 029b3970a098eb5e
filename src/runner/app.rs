//! [`App`] and [`Start`]: what to run, and how one start differs.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::restart::{Restart, RestartPolicy};
use super::untrusted::Untrusted;
use crate::process::limit::Limit;
pub use crate::process::stdio::{Buffering, Stderr, Transport};

/// How long a socket app's socket may take to appear, by default.
pub const DEFAULT_SOCKET_WAIT: Duration = Duration::from_secs(5);
/// How long `terminate` waits after SIGTERM before SIGKILL, by default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// One configured application: its command and how to run it.
///
/// With the `serde` feature it deserializes from the config shape of the
/// Python runner procloop grew out of:
/// `{"command": "cat", "type": "stdio", "cwd": "/tmp", "buffering": "line",
/// "setpgrp": true}` or `{"command": "socat SYSTEM:cat UNIX-LISTEN:sock",
/// "type": "socket", "socket": "sock"}`; also `env` (a map), `stderr`
/// (`inherit`, `null`, `merge`, `capture`), `transport` (`pipes`,
/// `socketpair`), `socket_wait` and `termination_grace` (seconds),
/// `"type": "pty"`, `die_with_parent`, `restart` (`never`, `on_failure`,
/// `always`), `backoff` (`[initial, max]` seconds), `max_restarts` and
/// `restart_window` (seconds), `pty` (a bool, as `"type": "pty"`), and
/// `limits` (a map: `memory`, `cpu_time`, `open_files`, `processes`,
/// `file_size`, `core_dump`); for untrusted code and fair share `user`
/// (`[uid, gid]`), `no_new_privileges`, `isolate_network`, `isolate_pids`,
/// `nice`, `scheduler` (`normal`, `batch`, `idle`) and `cpu_affinity` (a
/// list of CPU numbers). Every key but `command` may be `null`, which
/// is the default; an unknown key or a bad value is an error naming the
/// key (`"buffering": "lines"` gives an error that starts `buffering:`).
///
/// ```
/// use procloop::{App, Buffering};
///
/// let app = App::new("python3 -u bot.py --level 'very hard'")
///     .cwd("/tmp")
///     .buffering(Buffering::Line)
///     .env("BOT_SEED", "42");
/// assert_eq!(app.command(), "python3 -u bot.py --level 'very hard'");
/// ```
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize), serde(try_from = "super::config::AppConfig"))]
#[must_use = "an App does nothing until it is added to a Runner"]
pub struct App {
    pub(crate) command: String,
    pub(crate) socket: Option<PathBuf>,
    /// A socket app, even before it has a path (config `"type": "socket"`).
    pub(crate) socket_type: bool,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) setpgrp: bool,
    pub(crate) buffering: Buffering,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) stderr: Stderr,
    pub(crate) transport: Transport,
    pub(crate) socket_wait: Duration,
    pub(crate) grace: Duration,
    pub(crate) restart: RestartPolicy,
    pub(crate) die_with_parent: bool,
    pub(crate) pty: bool,
    pub(crate) limits: Vec<Limit>,
    /// User, namespaces, scheduling (`untrusted.rs`).
    pub(crate) untrusted: Untrusted,
    pub(crate) overage: Duration,
}

impl App {
    /// An app that runs `command`, split into words as a POSIX shell splits
    /// them (quotes, backslashes), but never run through a shell: a program
    /// file without a `#!` line that is no binary the kernel runs is a
    /// start error, never handed to `/bin/sh` (whichever way it is spawned).
    pub fn new(command: impl Into<String>) -> App {
        App {
            command: command.into(),
            socket: None,
            socket_type: false,
            cwd: None,
            setpgrp: false,
            buffering: Buffering::Bytes,
            env: Vec::new(),
            stderr: Stderr::Inherit,
            transport: Transport::Pipes,
            socket_wait: DEFAULT_SOCKET_WAIT,
            grace: DEFAULT_GRACE,
            restart: RestartPolicy::default(),
            die_with_parent: false,
            pty: false,
            limits: Vec::new(),
            untrusted: Untrusted::default(),
            overage: Duration::ZERO,
        }
    }

    /// A socket app: after starting, connect to the UNIX socket at `path`
    /// (relative to the app's `cwd`, if it has one).
    pub fn socket(mut self, path: impl Into<PathBuf>) -> App {
        self.socket = Some(path.into());
        self.socket_type = true;
        self
    }

    /// The working directory of the process.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> App {
        self.cwd = Some(dir.into());
        self
    }

    /// Its own process group: signals to ours (a terminal's Ctrl-C) don't
    /// reach it, and `terminate` signals its whole group.
    pub fn setpgrp(mut self, on: bool) -> App {
        self.setpgrp = on;
        self
    }

    /// How its channel hands over input.
    pub fn buffering(mut self, buffering: Buffering) -> App {
        self.buffering = buffering;
        self
    }

    /// Sets an environment variable for the process.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> App {
        self.env.push((key.into(), value.into()));
        self
    }

    /// What happens to its stderr.
    pub fn stderr(mut self, stderr: Stderr) -> App {
        self.stderr = stderr;
        self
    }

    /// What carries its stdin and stdout.
    pub fn transport(mut self, transport: Transport) -> App {
        self.transport = transport;
        self
    }

    /// How long its socket may take to appear (default 5 s).
    pub fn socket_wait(mut self, wait: Duration) -> App {
        self.socket_wait = wait;
        self
    }

    /// How long `terminate` waits after SIGTERM before SIGKILL (default 5 s).
    /// `Duration::MAX` never sends SIGKILL: then `terminate`, `terminate_all`
    /// and dropping the Runner wait for as long as a child that ignores
    /// SIGTERM lives (`stop` and the loop never wait; `terminate_within`
    /// waits at most its limit).
    pub fn termination_grace(mut self, grace: Duration) -> App {
        self.grace = grace;
        self
    }

    /// When an exited process is started again (default: never). A restart
    /// keeps the alias, hands out a fresh channel and is announced by
    /// [`Event::Restarted`](crate::Event::Restarted); `terminate` stops it.
    /// With `setpgrp`, what is left of the exited process's group is
    /// killed before the restart: the new process leads a group of its own.
    ///
    /// ```
    /// use std::time::Duration;
    /// use procloop::{App, Restart};
    ///
    /// let bot = App::new("python3 bot.py")
    ///     .restart(Restart::OnFailure)
    ///     .backoff(Duration::from_millis(50), Duration::from_secs(2))
    ///     .max_restarts(5, Duration::from_secs(60));
    /// # let _ = bot;
    /// ```
    pub fn restart(mut self, policy: Restart) -> App {
        self.restart.when = policy;
        self
    }

    /// The delay before a restart: `initial`, doubling with each restart in
    /// the window, up to `max` (default 100 ms up to 30 s). A `max` below
    /// `initial` is taken as `initial`: every restart waits `initial`.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> App {
        self.restart.initial = initial;
        self.restart.max = max.max(initial);
        self
    }

    /// Gives up after `n` restarts within `within` (default: never gives
    /// up; window 60 s): the exit stays, announced by
    /// [`Event::GaveUp`](crate::Event::GaveUp).
    pub fn max_restarts(mut self, n: u32, within: Duration) -> App {
        self.restart.max_restarts = n;
        self.restart.window = within;
        self
    }

    /// The child gets SIGKILL if the process running the loop dies (Linux's
    /// `PR_SET_PDEATHSIG`; the race with a parent dying during the start is
    /// closed by checking the parent pid in the child).
    ///
    /// Linux sends it when the *thread* that spawned the child ends, so a
    /// start made off the main thread is spawned from one thread procloop
    /// starts for that and keeps for the life of the process (the only
    /// thread procloop ever starts).
    pub fn die_with_parent(mut self, on: bool) -> App {
        self.die_with_parent = on;
        self
    }

    /// Runs the child on a pseudo-terminal: its stdin, stdout and stderr
    /// are the terminal, so programs that behave differently on a terminal
    /// (line-buffered output, prompts, REPLs) can be driven. The channel is
    /// the terminal's master side; [`Runner::resize`](crate::Runner::resize)
    /// sets its size. A
    /// socket start of it (with [`socket`](Self::socket) or
    /// [`Start::socket`]) talks over its socket instead, without a terminal.
    pub fn pty(mut self, on: bool) -> App {
        self.pty = on;
        self
    }

    /// A resource limit for its children, set in each child before it runs
    /// the program; repeatable (a later limit of the same kind replaces an
    /// earlier one). A limit above what this process may grant is an
    /// [`Error::LimitTooHigh`](crate::Error::LimitTooHigh) at start; one too
    /// low for any program to start under (`Memory` under 4 MiB, `OpenFiles`
    /// under 4, a zero `CpuTime`) an
    /// [`Error::InvalidSetting`](crate::Error::InvalidSetting) naming it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use procloop::{App, Limit};
    ///
    /// let app = App::new("bot").limit(Limit::Memory(256 << 20)).limit(Limit::CpuTime(Duration::from_secs(5)));
    /// assert_eq!(app.limits(), [Limit::Memory(256 << 20), Limit::CpuTime(Duration::from_secs(5))]);
    /// ```
    pub fn limit(mut self, limit: Limit) -> App {
        self.limits.retain(|l| !l.same_resource(&limit));
        self.limits.push(limit);
        self
    }

    /// A bank of time its bots may go over their turns' deadlines, in
    /// all (Kaggle's and Lux's `remainingOverageTime`; a chess clock is the
    /// same shape): in a turn, a bot's deadline is the turn's plus what is
    /// left of its bank, and time past the turn's deadline is taken from
    /// the bank ([`Runner::overage_left`](crate::Runner::overage_left)). A
    /// bot past both times out, and its bank is then empty. Default: none.
    pub fn overage(mut self, bank: Duration) -> App {
        self.overage = bank;
        self
    }

    /// The resource limits of its children.
    pub fn limits(&self) -> &[Limit] {
        &self.limits
    }

    /// The command string.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The socket path, for a socket app.
    pub fn socket_path(&self) -> Option<&std::path::Path> {
        self.socket.as_deref()
    }
}

/// Options for one start: alias, extra arguments, overrides of the app's
/// settings.
///
/// ```
/// use procloop::{Buffering, Start};
///
/// let opts = Start::new().alias("white").args(["--depth", "12"]).buffering(Buffering::Line);
/// # let _ = opts;
/// ```
///
/// With the `serde` feature it deserializes from the Python runner's start
/// options: `alias`, `with_args`, `socket`, `cwd`, `setpgrp`, `buffering`
/// and `nowait`, each optional (`null` is not given); an unknown key or a
/// bad value is an error naming the key.
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize), serde(from = "super::config::StartConfig"))]
#[must_use = "a Start does nothing until it is given to start_with"]
pub struct Start {
    pub(crate) alias: Option<String>,
    pub(crate) args: Vec<String>,
    pub(crate) socket: Option<PathBuf>,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) setpgrp: Option<bool>,
    pub(crate) buffering: Option<Buffering>,
    pub(crate) nowait: bool,
}

impl Start {
    /// No alias, no arguments, no overrides.
    pub fn new() -> Start {
        Start::default()
    }

    /// The alias of this process (default: the app's name).
    pub fn alias(mut self, alias: impl Into<String>) -> Start {
        self.alias = Some(alias.into());
        self
    }

    /// Arguments appended to the command, each one argv entry, never split
    /// or interpreted.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Start {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Makes this a socket start on `path`, whatever the app's type.
    pub fn socket(mut self, path: impl Into<PathBuf>) -> Start {
        self.socket = Some(path.into());
        self
    }

    /// Overrides the app's working directory.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Start {
        self.cwd = Some(dir.into());
        self
    }

    /// Overrides the app's process-group setting.
    pub fn setpgrp(mut self, on: bool) -> Start {
        self.setpgrp = Some(on);
        self
    }

    /// Overrides the app's buffering.
    pub fn buffering(mut self, buffering: Buffering) -> Start {
        self.buffering = Some(buffering);
        self
    }

    /// Returns from the start as soon as the child runs. A socket app then
    /// connects in the loop, retrying until its socket wait has passed, and
    /// says how that went with [`Event::Ready`](crate::Event::Ready) or
    /// [`Event::StartFailed`](crate::Event::StartFailed); until `Ready`,
    /// `get_channel` gives `None`. (A stdio app's start never waits anyway.)
    /// A restart by the loop always connects this way, with or without it.
    pub fn nowait(mut self) -> Start {
        self.nowait = true;
        self
    }
}
