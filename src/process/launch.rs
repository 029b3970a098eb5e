//! Starting one child ([`Command`]): its checks, its exec and stdio, its
//! placement in a cgroup, and the guarantee that a failed start leaves
//! nothing running. The Runner's starts and
//! [`Reactor::spawn`](crate::Reactor::spawn) both come here.

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::check;
use super::command::Command;
pub(crate) use super::program::ProgramCache;
use super::program::find_program;
use super::spawner::{self, Started};
use super::start_error::{self, Attempt};
use super::stdio::Buffering;
use super::wiring;
use super::{Process, end_all};
use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::sys::child::ChildSetup;

/// A started process and its channels, not yet registered.
pub(crate) struct Spawned {
    pub(crate) process: KillOnDrop,
    /// `None` for a socket start: its channel comes once it connects.
    pub(crate) channel: Option<Channel>,
    pub(crate) stderr: Option<Channel>,
    /// A socket start's path.
    pub(crate) socket: Option<PathBuf>,
    pub(crate) buffering: Buffering,
}

/// How a start is contained: the cgroup the child is placed in (its
/// directory open, and its path for a start error that names it), and
/// whether it must lead a process group of its own.
#[derive(Default)]
pub(crate) struct Placement {
    pub(crate) cgroup: Option<(Arc<OwnedFd>, PathBuf)>,
    pub(crate) own_group: bool,
}

/// Checks `command` before it is started: what the OS would refuse later
/// with a vague error, or take in a way nobody meant.
pub(crate) fn check(command: &Command<'_>) -> Result<()> {
    check::start(command)?;
    match command.cwd {
        Some(cwd) => check_cwd(&command.argv[0], cwd),
        None => Ok(()),
    }
}

/// Starts `command`, [`check`]ed already; `path` is the PATH the child
/// gets and its program is looked up in; `programs` caches where programs
/// were found. A socket start is not connected yet.
pub(crate) fn spawn(
    command: &Command<'_>,
    path: Option<&OsStr>,
    programs: &mut ProgramCache,
    placement: Placement,
) -> Result<Spawned> {
    // A terminal's session makes the child lead its own process group anyway.
    let setpgrp = command.setpgrp || command.pty || placement.own_group;
    let program = find_program(command.env, &command.argv[0], path, programs)?;
    let (mut launch, channel, stderr) = wiring::launch(command, setpgrp, &program, path)?;
    let (cgroup, leaf) = placement.cgroup.unzip();
    launch.cgroup = cgroup;
    let attempt = Attempt {
        program: &program,
        cwd: command.cwd,
        limits: command.limits,
        cgroup: leaf.as_deref(),
        untrusted: command.untrusted,
    };
    // The launch is consumed: the child's ends of its pipes close here once
    // it has them.
    let started = match spawner::spawn(launch, command.die_with_parent) {
        Ok(Started::Cloned(child)) => Ok(Process::with_pidfd(child.pid, child.pidfd)),
        Ok(Started::Spawned(pid)) => Ok(Process::from_pid(pid, None)),
        Ok(Started::Std(child)) => Ok(Process::from_pid(child.id(), Some(child))),
        Err(failed) => Err(start_error::explain(&attempt, failed)),
    };
    let process = started.map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            // The command may have moved since it was found: the next start looks again.
            programs.forget(&command.argv[0]);
        }
        Error::Spawn { command: command.argv[0].clone(), source }
    })?;
    let process = KillOnDrop::new(process.group_leader(setpgrp));
    let buffering = command.buffering;
    let with_mode = |mut c: Channel| {
        c.set_buffering(buffering);
        c
    };
    Ok(Spawned {
        process,
        channel: channel.map(with_mode),
        stderr: stderr.map(with_mode),
        socket: command.socket.clone(),
        buffering,
    })
}

/// What the child does before it runs the program.
pub(super) fn child_setup(command: &Command<'_>) -> ChildSetup {
    let mut setup = ChildSetup::default();
    setup.die_with_parent = command.die_with_parent;
    setup.terminal = command.pty;
    // The tree limits are the cgroup's, not setrlimit's.
    command
        .limits
        .iter()
        .filter(|l| l.controller().is_none())
        .for_each(|limit| setup.limit(limit.resource(), limit.value()));
    setup.reset_signals();
    setup
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
