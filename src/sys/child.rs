//! What runs in a child between fork and exec, and terminal set-up.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::libc;

/// Makes the child die with the thread that starts it (`PR_SET_PDEATHSIG`),
/// and/or lead a new session with its stdin as controlling terminal.
/// Either one moves the start off `posix_spawn` onto fork + exec.
pub(crate) fn prepare(command: &mut Command, die_with_parent: bool, controlling_terminal: bool) {
    if !die_with_parent && !controlling_terminal {
        return;
    }
    let parent = std::process::id() as libc::pid_t;
    let in_child = move || -> io::Result<()> {
        // SAFETY (all calls below): plain syscalls with no pointers; async-signal-safe.
        if controlling_terminal {
            unsafe { syscall!(setsid()) }?;
            unsafe { syscall!(ioctl(0, libc::TIOCSCTTY, 0)) }?;
        }
        if die_with_parent {
            unsafe { syscall!(prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)) }?;
            // The parent may have died before prctl: then nobody would kill us.
            if unsafe { libc::getppid() } != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
        }
        Ok(())
    };
    // SAFETY: `in_child` runs between fork and exec; it allocates nothing,
    // takes no locks and makes only async-signal-safe syscalls.
    unsafe { command.pre_exec(in_child) };
}

/// A new pseudo-terminal: `(master, slave)`, both close-on-exec.
pub(crate) fn open_pty() -> io::Result<(OwnedFd, OwnedFd)> {
    let pty = nix::pty::openpty(None, None).map_err(io::Error::from)?;
    for fd in [&pty.master, &pty.slave] {
        // SAFETY: F_SETFD on an fd we own touches no memory.
        unsafe { syscall!(fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC)) }?;
    }
    Ok((pty.master, pty.slave))
}

/// Sets a terminal's window size.
pub(crate) fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let size = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads one `winsize` from the valid pointer.
    unsafe { syscall!(ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &size)) }.map(drop)
}
