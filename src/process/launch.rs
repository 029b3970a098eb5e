//! Starting one process of an app: argv, stdio, environment, and the
//! guarantee that a failed start leaves nothing running.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::app::{App, Buffering, Start, Stderr, Transport};
use super::check;
use super::socket;
use super::spawner::{self, Started};
use super::split::split_command;
use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::process::start_error::{self, Attempt};
use crate::process::{Process, end_all};
use crate::sys;
use crate::sys::child::ChildSetup;
use crate::sys::spawn::{ChildStdio, Launch};

/// A started process and its channels, not yet registered.
pub(crate) struct Spawned {
    pub(crate) process: KillOnDrop,
    /// `None` for a socket start: its channel comes once it connects.
    pub(crate) channel: Option<Channel>,
    pub(crate) stderr: Option<Channel>,
    /// A socket start's path.
    pub(crate) socket: Option<PathBuf>,
    pub(crate) line_mode: bool,
}

/// The settings of one start: the app's, with the start's overrides.
struct Plan<'a> {
    argv: Vec<String>,
    cwd: Option<&'a Path>,
    socket: Option<PathBuf>,
    setpgrp: bool,
    line_mode: bool,
}

/// How a start is contained: the cgroup leaf the child is placed in (its
/// directory, open), and whether it must lead a process group of its own.
#[derive(Default)]
pub(crate) struct Placement {
    pub(crate) cgroup: Option<OwnedFd>,
    pub(crate) own_group: bool,
}

/// Starts `app` with `opts`; `path` is the PATH the child gets and its
/// command is looked up in; `programs` caches where commands were found.
/// A socket start is not connected yet.
pub(crate) fn spawn(
    app: &App,
    opts: &Start,
    path: Option<&OsStr>,
    programs: &mut ProgramCache,
    placement: Placement,
) -> Result<Spawned> {
    let mut plan = plan(app, opts)?;
    plan.setpgrp |= placement.own_group;
    check::start(app, &plan.argv, plan.cwd, plan.socket.as_deref())?;
    if let Some(cwd) = plan.cwd {
        check_cwd(&plan.argv[0], cwd)?;
    }
    if let Some(socket) = &plan.socket {
        socket::clear_socket_path(socket)?;
    }
    let program = find_program(app, &plan.argv[0], path, programs)?;
    let (mut launch, channel, stderr) = launch(app, &plan, &program, path)?;
    // Where the leaf is, for a start error that names it (one readlink).
    let leaf = placement
        .cgroup
        .as_ref()
        .and_then(|fd| std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok());
    launch.cgroup = placement.cgroup;
    let attempt = Attempt {
        program: &program,
        cwd: plan.cwd,
        limits: &app.limits,
        cgroup: leaf.as_deref(),
        untrusted: &app.untrusted,
    };
    // The launch is consumed: the child's ends of its pipes close here once
    // it has them.
    let started = match spawner::spawn(launch, app.die_with_parent) {
        Ok(Started::Cloned(child)) => Ok(Process::with_pidfd(child.pid, child.pidfd)),
        Ok(Started::Spawned(pid)) => Ok(Process::from_pid(pid, None)),
        Ok(Started::Std(child)) => Ok(Process::from_pid(child.id(), Some(child))),
        Err(failed) => Err(start_error::explain(&attempt, failed)),
    };
    let process = started.map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            // The command may have moved since it was found: the next start looks again.
            programs.forget(&plan.argv[0]);
        }
        Error::Spawn { command: plan.argv[0].clone(), source }
    })?;
    let process = KillOnDrop::new(process.group_leader(plan.setpgrp));
    let line_mode = plan.line_mode;
    let with_mode = |mut c: Channel| {
        c.set_line_buffered(line_mode);
        c
    };
    Ok(Spawned {
        process,
        channel: channel.map(with_mode),
        stderr: stderr.map(with_mode),
        socket: plan.socket,
        line_mode,
    })
}

impl Spawned {
    /// Connects a socket start, waiting up to `wait` for its socket to appear
    /// (the Python runner's blocking way); a stdio start has its channel already.
    pub(crate) fn connect(&mut self, wait: std::time::Duration) -> Result<()> {
        let Some(path) = self.socket.as_ref().filter(|_| self.channel.is_none()) else { return Ok(()) };
        let mut channel = Channel::from_socket_fd(socket::connect(path, self.process.get(), wait)?);
        channel.set_line_buffered(self.line_mode);
        self.channel = Some(channel);
        Ok(())
    }
}

/// What the child does before it runs the program.
fn child_setup(app: &App) -> ChildSetup {
    let mut setup = ChildSetup::default();
    setup.die_with_parent = app.die_with_parent;
    setup.terminal = app.pty;
    // The tree limits are the cgroup's, not setrlimit's.
    app.limits
        .iter()
        .filter(|l| l.controller().is_none())
        .for_each(|limit| setup.limit(limit.resource(), limit.value()));
    setup.reset_signals();
    setup
}

fn plan<'a>(app: &'a App, opts: &'a Start) -> Result<Plan<'a>> {
    let mut argv = split_command(&app.command)?;
    argv.extend(opts.args.iter().cloned());
    let cwd = opts.cwd.as_deref().or(app.cwd.as_deref());
    if app.socket_type && app.socket.is_none() && opts.socket.is_none() {
        return Err(Error::InvalidSocketPath {
            path: PathBuf::new(),
            reason: format!(
                "{:?} is a socket app, and neither it nor this start names a socket",
                app.command
            ),
        });
    }
    let socket = opts.socket.as_ref().or(app.socket.as_ref()).map(|s| match cwd {
        Some(cwd) if s.is_relative() => cwd.join(s),
        _ => s.clone(),
    });
    Ok(Plan {
        argv,
        cwd,
        socket,
        setpgrp: opts.setpgrp.unwrap_or(app.setpgrp) || app.pty,
        line_mode: opts.buffering.unwrap_or(app.buffering) == Buffering::Line,
    })
}

fn check_cwd(program: &str, cwd: &Path) -> Result<()> {
    if cwd.is_dir() {
        return Ok(());
    }
    let why = if cwd.exists() { "is not a directory" } else { "does not exist" };
    let source =
        io::Error::new(io::ErrorKind::NotFound, format!("working directory {} {why}", cwd.display()));
    Err(Error::Spawn { command: program.to_string(), source })
}

/// The exec of one start, and our ends of its stdio: the channel (none
/// for a socket start) and the captured stderr.
fn launch(
    app: &App,
    plan: &Plan<'_>,
    program: &Path,
    path: Option<&OsStr>,
) -> Result<(Launch, Option<Channel>, Option<Channel>)> {
    let (stdio, channel, stderr) = match (&plan.socket, app.pty) {
        (Some(_), _) => {
            let (child_err, ours) = wire_stderr(app.stderr, None)?;
            ([ChildStdio::Null, ChildStdio::Inherit, child_err], None, ours)
        }
        (None, true) => {
            let (channel, [stdin, stdout, stderr]) = wire_terminal()?;
            ([ChildStdio::Fd(stdin), ChildStdio::Fd(stdout), ChildStdio::Fd(stderr)], Some(channel), None)
        }
        (None, false) => {
            let (channel, child_in, child_out) = stdio_ends(app.transport)?;
            let merged = if app.stderr == Stderr::Merge { Some(child_out.try_clone()?) } else { None };
            let (child_err, ours) = wire_stderr(app.stderr, merged)?;
            ([ChildStdio::Fd(child_in), ChildStdio::Fd(child_out), child_err], Some(channel), ours)
        }
    };
    let mut env: Vec<(OsString, OsString)> =
        path.map(|p| ("PATH".into(), p.to_os_string())).into_iter().collect();
    env.extend(app.env.iter().cloned());
    let launch = Launch {
        program: program.to_path_buf(),
        argv: plan.argv.clone(),
        env,
        cwd: plan.cwd.map(Path::to_path_buf),
        stdio,
        // A terminal's session makes the child lead its own process group anyway.
        process_group: plan.setpgrp && !app.pty,
        setup: child_setup(app),
        cgroup: None,
        settings: app.untrusted.settings()?,
    };
    Ok((launch, channel, stderr))
}

/// Our channel, and the child's stdin and stdout ends.
fn stdio_ends(transport: Transport) -> Result<(Channel, OwnedFd, OwnedFd)> {
    match transport {
        Transport::Pipes => {
            let (child_in, our_out) = sys::pipe()?;
            let (our_in, child_out) = sys::pipe()?;
            sys::set_fresh_nonblocking(our_in.as_fd())?;
            sys::set_fresh_nonblocking(our_out.as_fd())?;
            Ok((Channel::from_nonblocking_pipe(Some(our_in), Some(our_out)), child_in, child_out))
        }
        Transport::SocketPair => {
            let (ours, theirs) = sys::socketpair()?;
            sys::set_fresh_nonblocking(ours.as_fd())?;
            let child_out = theirs.try_clone()?;
            Ok((Channel::from_socket_fd(ours), theirs, child_out))
        }
    }
}

/// A new pseudo-terminal: our channel on its master side, and the slave
/// side three times, for the child's stdin, stdout and stderr.
fn wire_terminal() -> Result<(Channel, [OwnedFd; 3])> {
    let (master, slave) = sys::child::open_pty()?;
    sys::set_fresh_nonblocking(master.as_fd())?;
    sys::child::set_window_size(master.as_fd(), 24, 80)?;
    let ends = [slave.try_clone()?, slave.try_clone()?, slave];
    Ok((Channel::from_terminal(master), ends))
}

/// The child's stderr, and our capture channel, if any.
fn wire_stderr(stderr: Stderr, stdout: Option<OwnedFd>) -> Result<(ChildStdio, Option<Channel>)> {
    Ok(match (stderr, stdout) {
        (Stderr::Inherit, _) | (Stderr::Merge, None) => (ChildStdio::Inherit, None),
        (Stderr::Null, _) => (ChildStdio::Null, None),
        (Stderr::Merge, Some(stdout)) => (ChildStdio::Fd(stdout), None),
        (Stderr::Capture, _) => {
            let (ours, theirs) = sys::pipe()?;
            sys::set_fresh_nonblocking(ours.as_fd())?;
            (ChildStdio::Fd(theirs), Some(Channel::from_nonblocking_pipe(Some(ours), None)))
        }
    })
}

/// The program file of `command`: itself if it names a path, else where
/// it is found in the PATH its child gets (the app's own PATH, else
/// `path`, else ours). A bare name found nowhere is an error naming that PATH.
fn find_program(
    app: &App,
    command: &str,
    path: Option<&OsStr>,
    programs: &mut ProgramCache,
) -> Result<PathBuf> {
    if command.contains('/') {
        return Ok(PathBuf::from(command));
    }
    let own_path = app.env.iter().rev().find(|(k, _)| k == "PATH").map(|(_, v)| v.as_os_str());
    let found = match own_path {
        // An app's own PATH is looked through on each start, not cached.
        Some(own) => search(command, own),
        None => programs.resolve(command, path),
    };
    found.ok_or_else(|| {
        let searched =
            own_path.map(OsString::from).or(path.map(OsString::from)).or_else(|| std::env::var_os("PATH"));
        Error::Spawn {
            command: command.to_string(),
            source: start_error::not_in_path(&searched.unwrap_or_default()),
        }
    })
}

/// Where commands were found in PATH, so each start execs once instead of
/// trying every PATH folder in the child.
#[derive(Debug, Default)]
pub(crate) struct ProgramCache(HashMap<String, PathBuf>);

impl ProgramCache {
    /// The full path of the bare name `program` if it is found in `path`
    /// (default: our PATH).
    fn resolve(&mut self, program: &str, path: Option<&OsStr>) -> Option<PathBuf> {
        if let Some(found) = self.0.get(program) {
            return Some(found.clone());
        }
        let path = path.map(OsString::from).or_else(|| std::env::var_os("PATH"))?;
        let found = search(program, &path)?;
        self.0.insert(program.to_string(), found.clone());
        Some(found)
    }

    fn forget(&mut self, program: &str) {
        self.0.remove(program);
    }
}

/// The first executable file named `program` in the folders of `path`.
fn search(program: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path).map(|dir| dir.join(program)).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A started process that is killed and reaped if the start fails later.
pub(crate) struct KillOnDrop {
    process: Option<Process>,
}

impl KillOnDrop {
    pub(crate) fn new(process: Process) -> KillOnDrop {
        KillOnDrop { process: Some(process) }
    }

    pub(crate) fn get(&mut self) -> &mut Process {
        self.process.as_mut().expect("not yet kept")
    }

    /// The start succeeded: hand the process over.
    pub(crate) fn keep(mut self) -> Process {
        self.process.take().expect("kept once")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            end_all(&mut [&mut process], std::time::Duration::ZERO);
        }
    }
}
