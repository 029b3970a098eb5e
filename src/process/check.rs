//! Checks of a start's settings that the OS would reject later with a vague
//! error, or take silently in a way nobody meant (`A=B` as an env key).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use super::command::Command;
use crate::Limit;
use crate::error::{Error, Result};

/// Checks the argv, environment, working directory, limits and socket path
/// of `command`.
pub(crate) fn start(command: &Command<'_>) -> Result<()> {
    if command.argv.first().is_some_and(|program| program.is_empty()) {
        let setting = "program \"\" (the command's first word)".to_string();
        return Err(Error::InvalidSetting { setting, reason: "a program's name cannot be empty" });
    }
    for arg in &command.argv {
        no_nul(arg.as_ref(), || format!("argument {arg:?}"))?;
    }
    for (key, value) in command.env {
        let name = || format!("environment variable {key:?}");
        if key.is_empty() {
            return Err(Error::InvalidSetting { setting: name(), reason: "its name is empty" });
        }
        if key.as_bytes().contains(&b'=') {
            return Err(Error::InvalidSetting { setting: name(), reason: "its name contains '='" });
        }
        no_nul(key, name)?;
        no_nul(value, || format!("the value of environment variable {key:?}"))?;
    }
    if let Some(cwd) = command.cwd {
        if cwd.as_os_str().is_empty() {
            let setting = "working directory \"\"".to_string();
            return Err(Error::InvalidSetting { setting, reason: "it is empty" });
        }
        no_nul(cwd.as_os_str(), || format!("working directory {cwd:?}"))?;
    }
    for limit in command.limits.iter().filter(|l| l.controller().is_none()) {
        if let Some(reason) = too_low(limit) {
            return Err(Error::InvalidSetting { setting: format!("limit {limit}"), reason });
        }
        if let Err(allowed) = crate::sys::child::check_limit(limit.resource(), limit.value()) {
            return Err(Error::LimitTooHigh { limit: *limit, allowed });
        }
    }
    if let Some(socket) = &command.socket {
        if socket.as_os_str().is_empty() {
            let reason = "it is empty".to_string();
            return Err(Error::InvalidSocketPath { path: socket.to_path_buf(), reason });
        }
        no_nul(socket.as_os_str(), || format!("socket path {socket:?}"))?;
    }
    Ok(())
}

/// The least address space a limit may leave a child: below it, loading a
/// dynamically linked program fails, and the child dies of SIGSEGV or
/// exits with 127 instead of the start failing (glibc's `/bin/true` needs
/// about 2.2 MiB: `prlimit --as=2097152 /bin/true` exits with 127).
pub(crate) const MIN_MEMORY: u64 = 4 << 20;

/// The fewest open files a limit may leave a child (see [`too_low`]).
pub(crate) const MIN_OPEN_FILES: u64 = 4;

/// Why `limit` is too low for any program to start under, if it is.
fn too_low(limit: &Limit) -> Option<&'static str> {
    match *limit {
        Limit::Memory(n) if n < MIN_MEMORY => Some("programs fail to load in under 4 MiB of address space"),
        // The loader of a dynamically linked program opens its libraries
        // on the fd after stderr: without it the child dies with 127.
        Limit::OpenFiles(n) if n < MIN_OPEN_FILES => {
            Some("a child needs stdin, stdout, stderr and one more fd to load its libraries")
        }
        Limit::CpuTime(time) if time.is_zero() => Some("a child with no CPU time at all cannot run"),
        _ => None,
    }
}

fn no_nul(text: &OsStr, setting: impl FnOnce() -> String) -> Result<()> {
    if text.as_bytes().contains(&0) {
        return Err(Error::InvalidSetting { setting: setting(), reason: "it contains a NUL byte" });
    }
    Ok(())
}
