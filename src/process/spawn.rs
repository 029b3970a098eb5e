//! [`Spawn`]: one child to start, with its limits, terminal and cgroup,
//! for a [`Reactor`](crate::Reactor) user who has no `Runner`: the same
//! start path (our `clone`, errors by stage, no child left on a failure)
//! the Runner's apps take.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use nix::libc;

use crate::error::{Error, Result};
use crate::process::launch::{self, Placement, ProgramCache};
use crate::process::limit::Limit;
use crate::reactor::token::Token;
use crate::runner::{App, Buffering, Start, Stderr};

/// A child to start with [`Reactor::spawn`](crate::Reactor::spawn): a
/// command line (split as [`App::new`] splits it) and how it runs.
///
/// ```
/// use std::time::Duration;
/// use procloop::{Limit, Reactor, ReactorEvent, Spawn};
///
/// let mut reactor = Reactor::new()?;
/// let spawn = Spawn::new("cat").limit(Limit::OpenFiles(64)).pty(true);
/// let started = reactor.spawn(spawn)?;
/// reactor.channel(started.channel).unwrap().write(b"hi\n")?;
/// let mut echoed = Vec::new();
/// while !echoed.ends_with(b"hi\r\n") {
///     reactor.poll_once(Some(Duration::from_secs(5)), |_, event| {
///         if let ReactorEvent::Data { data, .. } = event {
///             echoed.extend_from_slice(data);
///         }
///     })?;
/// }
/// reactor.stop_process(started.process, Duration::from_secs(1))?;
/// # Ok::<(), procloop::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Spawn {
    app: App,
    args: Vec<String>,
    cgroup: Option<PathBuf>,
}

/// What [`Reactor::spawn`](crate::Reactor::spawn) registered: the process
/// (its `Exited` comes after every byte of its output), its channel, and
/// its captured stderr if it was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spawned {
    /// The child, for `process`, `stop_process` and its `Exited` event.
    pub process: Token,
    /// Its stdin and stdout (or its terminal).
    pub channel: Token,
    /// Its stderr, with [`Stderr::Capture`].
    pub stderr: Option<Token>,
}

impl Spawn {
    /// A child running `command`, its stdio a pipe pair to us, stderr inherited.
    pub fn new(command: impl Into<String>) -> Spawn {
        Spawn { app: App::new(command), args: Vec::new(), cgroup: None }
    }

    /// One more argument, taken as it is (not split).
    pub fn arg(mut self, arg: impl Into<String>) -> Spawn {
        self.args.push(arg.into());
        self
    }

    /// The directory it runs in.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Spawn {
        self.app = self.app.cwd(dir);
        self
    }

    /// One more environment variable, over ours.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Spawn {
        self.app = self.app.env(key, value);
        self
    }

    /// A resource limit of the child, set before its program runs. A limit
    /// of the whole tree (memory, pids, CPU) is a cgroup's, which a `Spawn`
    /// does not make: starting with one is [`Error::LimitUnsupported`].
    pub fn limit(mut self, limit: Limit) -> Spawn {
        self.app = self.app.limit(limit);
        self
    }

    /// Runs it on a pseudo-terminal of its own (its stderr too).
    pub fn pty(mut self, on: bool) -> Spawn {
        self.app = self.app.pty(on);
        self
    }

    /// Where its stderr goes.
    pub fn stderr(mut self, stderr: Stderr) -> Spawn {
        self.app = self.app.stderr(stderr);
        self
    }

    /// Hands its output over a line at a time.
    pub fn buffering(mut self, buffering: Buffering) -> Spawn {
        self.app = self.app.buffering(buffering);
        self
    }

    /// Makes it lead a process group of its own.
    pub fn setpgrp(mut self, on: bool) -> Spawn {
        self.app = self.app.setpgrp(on);
        self
    }

    /// Has the kernel SIGKILL it when this process ends.
    pub fn die_with_parent(mut self, on: bool) -> Spawn {
        self.app = self.app.die_with_parent(on);
        self
    }

    /// Places it in the cgroup v2 directory `dir` (which must exist and
    /// be ours to write) as it is created, before its program runs.
    pub fn cgroup(mut self, dir: impl Into<PathBuf>) -> Spawn {
        self.cgroup = Some(dir.into());
        self
    }

    /// Starts it: the process, killed and reaped should a later step fail,
    /// and its channels.
    pub(crate) fn start(self) -> Result<launch::Spawned> {
        if let Some(limit) = self.app.limits().iter().find(|l| l.controller().is_some()) {
            let missing = "a cgroup with its limits set (use a Runner's cgroups)".to_string();
            return Err(Error::LimitUnsupported { limit: *limit, missing });
        }
        let cgroup = match &self.cgroup {
            Some(dir) => Some((open_dir(dir)?, dir.clone())),
            None => None,
        };
        let placement = Placement { cgroup, own_group: false };
        let start = Start::new().args(self.args);
        launch::spawn(&self.app, &start, None, &mut ProgramCache::default(), placement)
    }
}

fn open_dir(dir: &std::path::Path) -> Result<std::os::fd::OwnedFd> {
    let opened = OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY).open(dir);
    opened
        .map(Into::into)
        .map_err(|e| Error::CgroupsUnavailable(format!("cannot open {}: {e}", dir.display())))
}
