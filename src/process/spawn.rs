//! [`Spawn`]: one child to start, with its limits, terminal and cgroup,
//! for a [`Reactor`](crate::Reactor) user who has no `Runner`: the same
//! start path (our `clone`, errors by stage, no child left on a failure)
//! the Runner's apps take, and a cgroup leaf of its own if asked.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use nix::libc;

use super::cgroup::Leaf;
use super::command::Command;
use super::contained;
use super::launch::{self, Placement, ProgramCache};
use super::limit::Limit;
use super::split::split_command;
use super::stdio::{Buffering, Stderr, Transport};
use super::tree;
use super::untrusted::Untrusted;
use crate::error::{Error, Result};
use crate::reactor::token::Token;

/// A child to start with [`Reactor::spawn`](crate::Reactor::spawn): a
/// command line (split as [`split_command`](crate::split_command) splits it) and how it runs.
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
    command: String,
    args: Vec<String>,
    cwd: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    limits: Vec<Limit>,
    pty: bool,
    stderr: Stderr,
    buffering: Buffering,
    setpgrp: bool,
    die_with_parent: bool,
    cgroup: Option<PathBuf>,
    contained: bool,
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
    /// A child running `command` (split as [`split_command`](crate::split_command) splits it), its stdio
    /// a pipe pair to us, stderr inherited.
    ///
    /// ```
    /// use procloop::Spawn;
    /// # fn output(spawn: procloop::Spawn) -> procloop::Result<String> {
    /// #     let mut reactor = procloop::Reactor::new()?;
    /// #     let started = reactor.spawn(spawn)?;
    /// #     let (mut out, mut exited) = (Vec::new(), false);
    /// #     while !exited {
    /// #         reactor.poll_once(Some(std::time::Duration::from_secs(5)), |_, event| match event {
    /// #             procloop::ReactorEvent::Data { data, .. } => out.extend_from_slice(data),
    /// #             procloop::ReactorEvent::Exited { .. } => exited = true,
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok(String::from_utf8_lossy(&out).into_owned())
    /// # }
    /// assert_eq!(output(Spawn::new("echo 'two words'"))?, "two words\n");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn new(command: impl Into<String>) -> Spawn {
        Spawn {
            command: command.into(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            limits: Vec::new(),
            pty: false,
            stderr: Stderr::Inherit,
            buffering: Buffering::Bytes,
            setpgrp: false,
            die_with_parent: false,
            cgroup: None,
            contained: false,
        }
    }

    /// One more argument, taken as it is (not split).
    ///
    /// ```
    /// use procloop::Spawn;
    /// # fn output(spawn: procloop::Spawn) -> procloop::Result<String> {
    /// #     let mut reactor = procloop::Reactor::new()?;
    /// #     let started = reactor.spawn(spawn)?;
    /// #     let (mut out, mut exited) = (Vec::new(), false);
    /// #     while !exited {
    /// #         reactor.poll_once(Some(std::time::Duration::from_secs(5)), |_, event| match event {
    /// #             procloop::ReactorEvent::Data { data, .. } => out.extend_from_slice(data),
    /// #             procloop::ReactorEvent::Exited { .. } => exited = true,
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok(String::from_utf8_lossy(&out).into_owned())
    /// # }
    /// assert_eq!(output(Spawn::new("echo").arg("a  b"))?, "a  b\n");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn arg(mut self, arg: impl Into<String>) -> Spawn {
        self.args.push(arg.into());
        self
    }

    /// The directory it runs in.
    ///
    /// ```
    /// use procloop::Spawn;
    /// # fn output(spawn: procloop::Spawn) -> procloop::Result<String> {
    /// #     let mut reactor = procloop::Reactor::new()?;
    /// #     let started = reactor.spawn(spawn)?;
    /// #     let (mut out, mut exited) = (Vec::new(), false);
    /// #     while !exited {
    /// #         reactor.poll_once(Some(std::time::Duration::from_secs(5)), |_, event| match event {
    /// #             procloop::ReactorEvent::Data { data, .. } => out.extend_from_slice(data),
    /// #             procloop::ReactorEvent::Exited { .. } => exited = true,
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok(String::from_utf8_lossy(&out).into_owned())
    /// # }
    /// assert_eq!(output(Spawn::new("pwd").cwd("/"))?, "/\n");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Spawn {
        self.cwd = Some(dir.into());
        self
    }

    /// One more environment variable, over ours.
    ///
    /// ```
    /// use procloop::Spawn;
    /// # fn output(spawn: procloop::Spawn) -> procloop::Result<String> {
    /// #     let mut reactor = procloop::Reactor::new()?;
    /// #     let started = reactor.spawn(spawn)?;
    /// #     let (mut out, mut exited) = (Vec::new(), false);
    /// #     while !exited {
    /// #         reactor.poll_once(Some(std::time::Duration::from_secs(5)), |_, event| match event {
    /// #             procloop::ReactorEvent::Data { data, .. } => out.extend_from_slice(data),
    /// #             procloop::ReactorEvent::Exited { .. } => exited = true,
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok(String::from_utf8_lossy(&out).into_owned())
    /// # }
    /// let spawn = Spawn::new("sh -c 'echo $BOT'").env("BOT", "white");
    /// assert_eq!(output(spawn)?, "white\n");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Spawn {
        self.env.push((key.into(), value.into()));
        self
    }

    /// A resource limit of the child, set before its program runs. A limit
    /// of the whole tree (`TreeMemory`, `Tasks`, `Cpus`) is its cgroup's:
    /// it needs [`contained`](Self::contained), and there the controller it
    /// names; else the start fails with [`Error::LimitUnsupported`].
    ///
    /// ```
    /// use procloop::Spawn;
    /// # fn output(spawn: procloop::Spawn) -> procloop::Result<String> {
    /// #     let mut reactor = procloop::Reactor::new()?;
    /// #     let started = reactor.spawn(spawn)?;
    /// #     let (mut out, mut exited) = (Vec::new(), false);
    /// #     while !exited {
    /// #         reactor.poll_once(Some(std::time::Duration::from_secs(5)), |_, event| match event {
    /// #             procloop::ReactorEvent::Data { data, .. } => out.extend_from_slice(data),
    /// #             procloop::ReactorEvent::Exited { .. } => exited = true,
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok(String::from_utf8_lossy(&out).into_owned())
    /// # }
    /// use procloop::Limit;
    ///
    /// let spawn = Spawn::new("sh -c 'ulimit -n'").limit(Limit::OpenFiles(64));
    /// assert_eq!(output(spawn)?, "64\n");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn limit(mut self, limit: Limit) -> Spawn {
        self.limits.retain(|l| !l.same_resource(&limit));
        self.limits.push(limit);
        self
    }

    /// Runs it on a pseudo-terminal of its own (its stderr too).
    ///
    /// ```
    /// use procloop::Spawn;
    /// # fn output(spawn: procloop::Spawn) -> procloop::Result<String> {
    /// #     let mut reactor = procloop::Reactor::new()?;
    /// #     let started = reactor.spawn(spawn)?;
    /// #     let (mut out, mut exited) = (Vec::new(), false);
    /// #     while !exited {
    /// #         reactor.poll_once(Some(std::time::Duration::from_secs(5)), |_, event| match event {
    /// #             procloop::ReactorEvent::Data { data, .. } => out.extend_from_slice(data),
    /// #             procloop::ReactorEvent::Exited { .. } => exited = true,
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok(String::from_utf8_lossy(&out).into_owned())
    /// # }
    /// assert_eq!(output(Spawn::new("sh -c 'test -t 0 && echo tty'").pty(true))?, "tty\r\n");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn pty(mut self, on: bool) -> Spawn {
        self.pty = on;
        self
    }

    /// Where its stderr goes.
    ///
    /// ```
    /// use procloop::Spawn;
    /// # fn output(spawn: procloop::Spawn) -> procloop::Result<String> {
    /// #     let mut reactor = procloop::Reactor::new()?;
    /// #     let started = reactor.spawn(spawn)?;
    /// #     let (mut out, mut exited) = (Vec::new(), false);
    /// #     while !exited {
    /// #         reactor.poll_once(Some(std::time::Duration::from_secs(5)), |_, event| match event {
    /// #             procloop::ReactorEvent::Data { data, .. } => out.extend_from_slice(data),
    /// #             procloop::ReactorEvent::Exited { .. } => exited = true,
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok(String::from_utf8_lossy(&out).into_owned())
    /// # }
    /// use procloop::Stderr;
    ///
    /// let spawn = Spawn::new("sh -c 'echo oops >&2'").stderr(Stderr::Merge);
    /// assert_eq!(output(spawn)?, "oops\n");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn stderr(mut self, stderr: Stderr) -> Spawn {
        self.stderr = stderr;
        self
    }

    /// Hands its output over a line at a time.
    ///
    /// ```
    /// use procloop::Spawn;
    /// # fn output(spawn: procloop::Spawn) -> procloop::Result<String> {
    /// #     let mut reactor = procloop::Reactor::new()?;
    /// #     let started = reactor.spawn(spawn)?;
    /// #     let (mut out, mut exited) = (Vec::new(), false);
    /// #     while !exited {
    /// #         reactor.poll_once(Some(std::time::Duration::from_secs(5)), |_, event| match event {
    /// #             procloop::ReactorEvent::Data { data, .. } => out.extend_from_slice(data),
    /// #             procloop::ReactorEvent::Exited { .. } => exited = true,
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok(String::from_utf8_lossy(&out).into_owned())
    /// # }
    /// use procloop::Buffering;
    ///
    /// let spawn = Spawn::new("printf 'a\\nb\\n'").buffering(Buffering::Line);
    /// assert_eq!(output(spawn)?, "a\nb\n");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn buffering(mut self, buffering: Buffering) -> Spawn {
        self.buffering = buffering;
        self
    }

    /// Makes it lead a process group of its own.
    ///
    /// ```
    /// use procloop::Spawn;
    /// # fn output(spawn: procloop::Spawn) -> procloop::Result<String> {
    /// #     let mut reactor = procloop::Reactor::new()?;
    /// #     let started = reactor.spawn(spawn)?;
    /// #     let (mut out, mut exited) = (Vec::new(), false);
    /// #     while !exited {
    /// #         reactor.poll_once(Some(std::time::Duration::from_secs(5)), |_, event| match event {
    /// #             procloop::ReactorEvent::Data { data, .. } => out.extend_from_slice(data),
    /// #             procloop::ReactorEvent::Exited { .. } => exited = true,
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok(String::from_utf8_lossy(&out).into_owned())
    /// # }
    /// // Its process group id is its own pid.
    /// let out = output(Spawn::new("sh -c 'echo $$; ps -o pgid= $$'").setpgrp(true))?;
    /// let ids: Vec<&str> = out.split_whitespace().collect();
    /// assert_eq!(ids[0], ids[1]);
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn setpgrp(mut self, on: bool) -> Spawn {
        self.setpgrp = on;
        self
    }

    /// Has the kernel SIGKILL it when this process ends, whichever thread
    /// spawned it (see [`App::die_with_parent`](crate::App::die_with_parent)).
    ///
    /// ```
    /// use procloop::Spawn;
    /// # fn output(spawn: procloop::Spawn) -> procloop::Result<String> {
    /// #     let mut reactor = procloop::Reactor::new()?;
    /// #     let started = reactor.spawn(spawn)?;
    /// #     let (mut out, mut exited) = (Vec::new(), false);
    /// #     while !exited {
    /// #         reactor.poll_once(Some(std::time::Duration::from_secs(5)), |_, event| match event {
    /// #             procloop::ReactorEvent::Data { data, .. } => out.extend_from_slice(data),
    /// #             procloop::ReactorEvent::Exited { .. } => exited = true,
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok(String::from_utf8_lossy(&out).into_owned())
    /// # }
    /// assert_eq!(output(Spawn::new("echo up").die_with_parent(true))?, "up\n");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn die_with_parent(mut self, on: bool) -> Spawn {
        self.die_with_parent = on;
        self
    }

    /// Places it in the cgroup v2 directory `dir` (which must exist and be
    /// ours to write) as it is created, before its program runs. With
    /// [`contained`](Self::contained), its own leaf is made below `dir`.
    /// A directory that cannot be opened, or is no cgroup v2 one, is
    /// [`Error::CgroupsUnavailable`].
    ///
    /// ```
    /// use procloop::Spawn;
    /// # fn output(spawn: procloop::Spawn) -> procloop::Result<String> {
    /// #     let mut reactor = procloop::Reactor::new()?;
    /// #     let started = reactor.spawn(spawn)?;
    /// #     let (mut out, mut exited) = (Vec::new(), false);
    /// #     while !exited {
    /// #         reactor.poll_once(Some(std::time::Duration::from_secs(5)), |_, event| match event {
    /// #             procloop::ReactorEvent::Data { data, .. } => out.extend_from_slice(data),
    /// #             procloop::ReactorEvent::Exited { .. } => exited = true,
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok(String::from_utf8_lossy(&out).into_owned())
    /// # }
    /// use procloop::Error;
    ///
    /// let missing = output(Spawn::new("true").cgroup("/no/such/cgroup"));
    /// assert!(matches!(missing, Err(Error::CgroupsUnavailable(_))));
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn cgroup(mut self, dir: impl Into<PathBuf>) -> Spawn {
        self.cgroup = Some(dir.into());
        self
    }

    /// Contains its whole tree: a cgroup v2 leaf of its own is made (below
    /// this process's cgroup, or the one given with [`cgroup`](Self::cgroup))
    /// with the tree limits set, and the child is placed there before its
    /// program runs, so nothing it forks, `setsid`s or double-forks leaves
    /// it. Once its exit is seen, the rest of the tree is killed (before
    /// `Exited`), and an empty leaf is removed. Its [`Process`](crate::Process)
    /// gives the [`tree_usage`](crate::Process::tree_usage) (after the exit,
    /// take it with `remove_process` in the `Exited` handler); dropping it
    /// (the Reactor does, after that handler) kills what is left and removes
    /// the leaf, waiting at most 2 s. Where no cgroup can be had, the start is
    /// [`Error::CgroupsUnavailable`] saying why.
    ///
    /// ```
    /// use procloop::Spawn;
    /// # fn output(spawn: procloop::Spawn) -> procloop::Result<String> {
    /// #     let mut reactor = procloop::Reactor::new()?;
    /// #     let started = reactor.spawn(spawn)?;
    /// #     let (mut out, mut exited) = (Vec::new(), false);
    /// #     while !exited {
    /// #         reactor.poll_once(Some(std::time::Duration::from_secs(5)), |_, event| match event {
    /// #             procloop::ReactorEvent::Data { data, .. } => out.extend_from_slice(data),
    /// #             procloop::ReactorEvent::Exited { .. } => exited = true,
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok(String::from_utf8_lossy(&out).into_owned())
    /// # }
    /// use procloop::Error;
    ///
    /// match output(Spawn::new("cat /proc/self/cgroup").contained(true)) {
    ///     Ok(out) => assert!(out.contains("/procloop-"), "{out}"),
    ///     Err(Error::CgroupsUnavailable(why)) => eprintln!("no cgroup here: {why}"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn contained(mut self, on: bool) -> Spawn {
        self.contained = on;
        self
    }

    /// Starts it: the process, killed and reaped should a later step fail
    /// (and its leaf removed), and its channels.
    pub(crate) fn start(self) -> Result<launch::Spawned> {
        let tree_limits: Vec<Limit> =
            self.limits.iter().filter(|l| l.controller().is_some()).copied().collect();
        tree_limits.iter().try_for_each(tree::check_value)?;
        if let Some(limit) = tree_limits.first().filter(|_| !self.contained) {
            let missing = "a cgroup of its own (Spawn::contained)".to_string();
            return Err(Error::LimitUnsupported { limit: *limit, missing });
        }
        let leaf = match self.contained {
            true => Some(contained::leaf(self.cgroup.as_deref(), &tree_limits)?),
            false => None,
        };
        match self.start_in(leaf.as_ref()) {
            Ok(mut spawned) => {
                if let Some(leaf) = leaf {
                    spawned.process.get().hold_leaf(leaf);
                }
                Ok(spawned)
            }
            Err(e) => {
                if let Some(leaf) = leaf {
                    leaf.discard();
                }
                Err(e)
            }
        }
    }

    /// Starts it in `leaf`, else in the cgroup it names, if any.
    fn start_in(&self, leaf: Option<&Leaf>) -> Result<launch::Spawned> {
        let cgroup = match (leaf, &self.cgroup) {
            (Some(leaf), _) => Some(leaf.placement()?),
            (None, Some(dir)) => Some((Arc::new(open_dir(dir)?), dir.clone())),
            (None, None) => None,
        };
        let placement = Placement { cgroup, own_group: false };
        let untrusted = Untrusted::default();
        let command = self.command(&untrusted)?;
        launch::check(&command)?;
        launch::spawn(&command, None, &mut ProgramCache::default(), placement)
    }

    /// What the process layer starts: its command split, its arguments
    /// after it, and its settings.
    fn command<'a>(&'a self, untrusted: &'a Untrusted) -> Result<Command<'a>> {
        let mut argv = split_command(&self.command)?;
        argv.extend(self.args.iter().cloned());
        Ok(Command {
            argv,
            env: &self.env,
            cwd: self.cwd.as_deref(),
            socket: None,
            transport: Transport::Pipes,
            stderr: self.stderr,
            pty: self.pty,
            buffering: self.buffering,
            setpgrp: self.setpgrp,
            limits: &self.limits,
            untrusted,
            die_with_parent: self.die_with_parent,
        })
    }
}

fn open_dir(dir: &std::path::Path) -> Result<std::os::fd::OwnedFd> {
    super::hierarchy::check_v2(dir).map_err(Error::CgroupsUnavailable)?;
    let opened = OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY).open(dir);
    opened
        .map(Into::into)
        .map_err(|e| Error::CgroupsUnavailable(format!("cannot open {}: {e}", dir.display())))
}
