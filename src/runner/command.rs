//! An [`App`] and a [`Start`] as the process layer's [`Command`]: the
//! app's command split into argv, the start's arguments after it, and the
//! start's overrides (directory, socket, process group, buffering) on top
//! of the app's settings.

use std::path::PathBuf;

use super::app::{App, Start};
use crate::error::{Error, Result};
use crate::process::command::Command;
use crate::process::split::split_command;

/// The command of one start of `app` with `opts`.
pub(super) fn of<'a>(app: &'a App, opts: &'a Start) -> Result<Command<'a>> {
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
    // A relative socket path is the child's: under its working directory.
    let socket = opts.socket.as_ref().or(app.socket.as_ref()).map(|s| match cwd {
        Some(cwd) if s.is_relative() => cwd.join(s),
        _ => s.clone(),
    });
    // A socket start talks over its socket, whatever the app's type: no
    // terminal (its stdin is /dev/null, no terminal to take).
    let pty = app.pty && socket.is_none();
    Ok(Command {
        argv,
        env: &app.env,
        cwd,
        socket,
        transport: app.transport,
        stderr: app.stderr,
        pty,
        buffering: opts.buffering.unwrap_or(app.buffering),
        setpgrp: opts.setpgrp.unwrap_or(app.setpgrp),
        limits: &app.limits,
        untrusted: &app.untrusted,
        die_with_parent: app.die_with_parent,
    })
}
