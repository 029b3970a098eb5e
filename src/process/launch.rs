//! Starting one child: the plan of a start (its argv, directory, socket,
//! process group), its checks, its exec and stdio, its placement in a
//! cgroup, and the guarantee that a failed start leaves nothing running.
//! The Runner's starts and [`Reactor::spawn`](crate::Reactor::spawn) both
//! come here.

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::check;
pub(crate) use super::program::ProgramCache;
use super::program::find_program;
use super::spawner::{self, Started};
use super::start_error::{self, Attempt};
use super::wiring;
use super::{Process, end_all};
use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::runner::socket;
use crate::runner::split_command;
use crate::runner::{App, Buffering, Start};
use crate::sys::child::ChildSetup;

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
pub(super) struct Plan<'a> {
    pub(super) argv: Vec<String>,
    pub(super) cwd: Option<&'a Path>,
    pub(super) socket: Option<PathBuf>,
    pub(super) setpgrp: bool,
    line_mode: bool,
}

/// How a start is contained: the cgroup the child is placed in (its
/// directory open, and its path for a start error that names it), and
/// whether it must lead a process group of its own.
#[derive(Default)]
pub(crate) struct Placement {
    pub(crate) cgroup: Option<(Arc<OwnedFd>, PathBuf)>,
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
    let (mut launch, channel, stderr) = wiring::launch(app, &plan, &program, path)?;
    let (cgroup, leaf) = placement.cgroup.unzip();
    launch.cgroup = cgroup;
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
pub(super) fn child_setup(app: &App) -> ChildSetup {
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
