//! A process fd (`pidfd_open(2)`): readable once the process has exited, and
//! a race-free target for signals.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;

use nix::libc;

/// An fd that refers to one child process.
#[derive(Debug)]
pub(crate) struct Pidfd(OwnedFd);

impl Pidfd {
    /// Opens a pidfd for `pid`; `Ok(None)` where the kernel has no pidfds
    /// (probed once per process; `PROCLOOP_NO_PIDFD=1` forces that answer).
    pub(crate) fn open(pid: u32) -> io::Result<Option<Pidfd>> {
        if !supported() {
            return Ok(None);
        }
        Self::open_raw(pid).map(Some)
    }

    /// Takes over the pidfd a spawn gave; `None` where pidfds are off
    /// (`PROCLOOP_NO_PIDFD=1`), which closes it.
    pub(crate) fn adopt(fd: OwnedFd) -> Option<Pidfd> {
        supported().then_some(Pidfd(fd))
    }

    fn open_raw(pid: u32) -> io::Result<Pidfd> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd we then own.
        let fd = unsafe { syscall!(syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0)) }?;
        // SAFETY: the syscall succeeded, so `fd` is a fresh open fd.
        Ok(Pidfd(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
    }

    /// Sends `signal` to the process; it cannot hit a recycled pid.
    pub(crate) fn send_signal(&self, signal: i32) -> io::Result<()> {
        // SAFETY: plain syscall on our open pidfd; a null siginfo is allowed.
        unsafe {
            syscall!(syscall(
                libc::SYS_pidfd_send_signal,
                self.0.as_raw_fd(),
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0
            ))
        }
        .map(drop)
    }
}

impl AsFd for Pidfd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Whether pidfds work here: probed once, on our own pid.
fn supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        if std::env::var_os("PROCLOOP_NO_PIDFD").is_some_and(|v| v != "0") {
            log::debug!("pidfd disabled by PROCLOOP_NO_PIDFD");
            return false;
        }
        match Pidfd::open_raw(std::process::id()) {
            Ok(_) => true,
            Err(e) => {
                log::debug!("no pidfd support ({e}); exits are found by polling");
                false
            }
        }
    })
}
