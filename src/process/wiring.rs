//! The child's stdio and our ends of it: pipes, a socket pair or a
//! terminal, stderr inherited, dropped, merged or captured.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use super::command::Command;
use super::launch::child_setup;
use super::stdio::{Stderr, Transport};
use crate::channel::Channel;
use crate::error::Result;
use crate::sys;
use crate::sys::spawn::{ChildStdio, Launch};

/// The exec of one start, and our ends of its stdio: the channel (none
/// for a socket start) and the captured stderr.
pub(super) fn launch(
    command: &Command<'_>,
    setpgrp: bool,
    program: &Path,
    path: Option<&OsStr>,
) -> Result<(Launch, Option<Channel>, Option<Channel>)> {
    let (stdio, channel, stderr) = match (&command.socket, command.pty) {
        (Some(_), _) => {
            let (child_err, ours) = wire_stderr(command.stderr, None)?;
            ([ChildStdio::Null, ChildStdio::Inherit, child_err], None, ours)
        }
        (None, true) => {
            let (channel, [stdin, stdout, stderr]) = wire_terminal()?;
            ([ChildStdio::Fd(stdin), ChildStdio::Fd(stdout), ChildStdio::Fd(stderr)], Some(channel), None)
        }
        (None, false) => {
            let (channel, child_in, child_out) = stdio_ends(command.transport)?;
            let merged = if command.stderr == Stderr::Merge { Some(child_out.try_clone()?) } else { None };
            let (child_err, ours) = wire_stderr(command.stderr, merged)?;
            ([ChildStdio::Fd(child_in), ChildStdio::Fd(child_out), child_err], Some(channel), ours)
        }
    };
    let mut env: Vec<(OsString, OsString)> =
        path.map(|p| ("PATH".into(), p.to_os_string())).into_iter().collect();
    env.extend(command.env.iter().cloned());
    let launch = Launch {
        program: program.to_path_buf(),
        argv: command.argv.clone(),
        env,
        cwd: command.cwd.map(Path::to_path_buf),
        stdio,
        // A terminal's session makes the child lead its own process group anyway.
        process_group: setpgrp && !command.pty,
        setup: child_setup(command),
        cgroup: None,
        settings: command.untrusted.settings()?,
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
