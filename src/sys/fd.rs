//! An fd a channel either owns (and closes) or borrows from its caller
//! (and never closes), plus the checks a borrowed fd needs.
//!
//! Both are kept as plain numbers, never as an `OwnedFd`: std's `OwnedFd`
//! aborts a debug build ("IO Safety violation") when it closes an fd that
//! is closed already, and a host (a Python program that `os.close`s what
//! `get_fd()` gave it) may close either behind the channel's back. Every
//! call on such an fd then fails with `EBADF`, which the channel reads as a
//! closed endpoint, and dropping it closes nothing it should not.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};

use nix::libc;

/// An fd a channel reads or writes: its own, or its caller's.
#[derive(Debug)]
pub(crate) enum ChannelFd {
    /// Closed when dropped (an `EBADF` then is logged, not fatal).
    Owned(RawFd),
    /// The caller's: never closed here.
    Borrowed(RawFd),
}

impl ChannelFd {
    /// Borrows `fd` after checking that it is open (`what` names it in the error).
    pub(crate) fn borrow(fd: RawFd, what: &str) -> io::Result<ChannelFd> {
        if fd < 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{what}: {fd} is not a file descriptor"),
            ));
        }
        // SAFETY: F_GETFD on any number touches no memory; EBADF says it is not open.
        if unsafe { syscall!(fcntl(fd, libc::F_GETFD)) }.is_err() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: fd {fd} is not open")));
        }
        Ok(ChannelFd::Borrowed(fd))
    }

    /// Whether the channel owns this fd.
    pub(crate) fn is_owned(&self) -> bool {
        matches!(self, ChannelFd::Owned(_))
    }
}

impl From<OwnedFd> for ChannelFd {
    fn from(fd: OwnedFd) -> ChannelFd {
        ChannelFd::Owned(fd.into_raw_fd())
    }
}

impl AsFd for ChannelFd {
    #[inline]
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the number is not -1 (an OwnedFd's, or checked in
        // `borrow`); an owned one stays open until this is dropped, and a
        // borrowed one the caller promised to keep open. If either is
        // closed anyway, calls through this borrow fail with EBADF (read as
        // a closed endpoint); no memory depends on it.
        unsafe { BorrowedFd::borrow_raw(self.as_raw_fd()) }
    }
}

impl AsRawFd for ChannelFd {
    #[inline]
    fn as_raw_fd(&self) -> RawFd {
        match self {
            ChannelFd::Owned(fd) | ChannelFd::Borrowed(fd) => *fd,
        }
    }
}

impl Drop for ChannelFd {
    fn drop(&mut self) {
        let ChannelFd::Owned(fd) = *self else { return };
        // SAFETY: close of a number we own. Had a host closed it behind our
        // back and the number been reused, this would close the new file, as
        // an OwnedFd does in a release build: the host's bug, which shows
        // here as EBADF when the number was not reused, and is logged.
        if let Err(e) = unsafe { syscall!(close(fd)) } {
            log::warn!("closing fd {fd}: {e} (was it closed behind the channel's back?)");
        }
    }
}

/// Whether `fd` is a stream socket that is not listening (`what` names it
/// in the error otherwise): a listening one is a server's, whose reads fail.
pub(crate) fn check_stream_socket(fd: BorrowedFd<'_>, what: &str) -> io::Result<()> {
    let refused = |why: &str| {
        Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: fd {} {why}", fd.as_raw_fd())))
    };
    match socket_option(fd, libc::SO_TYPE) {
        Ok(kind) if kind != libc::SOCK_STREAM => refused("is a socket but not a stream socket"),
        Ok(_) if socket_option(fd, libc::SO_ACCEPTCONN)? != 0 => {
            refused("is a listening socket, not a connection (a server takes it)")
        }
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOTSOCK) => refused("is not a socket"),
        Err(e) => Err(e),
    }
}

/// An integer option of the socket `fd` at `SOL_SOCKET`.
fn socket_option(fd: BorrowedFd<'_>, option: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid for writes and `len` holds value's size.
    unsafe {
        syscall!(getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&mut value as *mut libc::c_int).cast(),
            &mut len
        ))
    }?;
    Ok(value)
}

/// Whether the other side of `fd` hung up, as poll(2) says without
/// waiting: a terminal's master side whose slave side was closed, for one.
pub(crate) fn hung_up(fd: BorrowedFd<'_>) -> bool {
    let mut pollfd = libc::pollfd { fd: fd.as_raw_fd(), events: 0, revents: 0 };
    // SAFETY: one valid pollfd entry; a zero timeout never blocks.
    match unsafe { syscall!(poll(&mut pollfd, 1, 0)) } {
        Ok(n) => n > 0 && pollfd.revents & (libc::POLLHUP | libc::POLLNVAL) != 0,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_borrowed_fd_is_not_closed_on_drop() {
        let (read, _write) = std::io::pipe().unwrap();
        let raw = read.as_raw_fd();
        drop(ChannelFd::borrow(raw, "test").unwrap());
        // SAFETY: F_GETFD on a number touches no memory.
        assert!(unsafe { syscall!(fcntl(raw, libc::F_GETFD)) }.is_ok(), "still open");
    }

    #[test]
    fn borrowing_a_bad_number_is_an_error_naming_it() {
        let err = ChannelFd::borrow(-1, "read_end").unwrap_err();
        assert_eq!(err.to_string(), "read_end: -1 is not a file descriptor");
        let err = ChannelFd::borrow(1_000_000, "write_end").unwrap_err();
        assert_eq!(err.to_string(), "write_end: fd 1000000 is not open");
    }

    #[test]
    fn a_pipe_is_not_a_stream_socket() {
        let (read, _write) = std::io::pipe().unwrap();
        let err = check_stream_socket(read.as_fd(), "socket").unwrap_err();
        assert!(err.to_string().ends_with("is not a socket"), "{err}");
    }
}
