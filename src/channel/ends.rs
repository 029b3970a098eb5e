//! The fds under a channel (pipe ends, a socket, a terminal's master side;
//! owned, or borrowed from a host that keeps them), and the one read or
//! write on them that each kind needs.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use crate::sys;
use crate::sys::ChannelFd;

/// The fds of a channel; owned ones close with it, borrowed ones never do.
/// A tag of its own (`repr(u8)`): packed into the fds' spare values, each
/// look at the fds (three a request and its reply) took ten instructions
/// to decode which kind it is.
#[derive(Debug)]
#[repr(u8)]
pub(super) enum Ends {
    Pipe {
        read_end: Option<ChannelFd>,
        write_end: Option<ChannelFd>,
    },
    Socket {
        fd: ChannelFd,
        write_open: bool,
    },
    /// A pseudo-terminal's master side.
    Terminal {
        fd: ChannelFd,
    },
    Closed,
}

impl Ends {
    /// The fd to read from, if the read side is open.
    #[inline]
    pub(super) fn read_fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Ends::Pipe { read_end, .. } => read_end.as_ref().map(|fd| fd.as_fd()),
            Ends::Socket { fd, .. } | Ends::Terminal { fd } => Some(fd.as_fd()),
            Ends::Closed => None,
        }
    }

    /// One write, as the kind of fd needs it: a pipe without a SIGPIPE, a
    /// socket with `MSG_NOSIGNAL`. Inlined: every request's path.
    #[inline]
    pub(super) fn write(&self, data: &[u8]) -> io::Result<usize> {
        match self {
            Ends::Pipe { write_end: Some(fd), .. } => sys::write_pipe(fd.as_fd(), data),
            Ends::Socket { fd, write_open: true } => sys::send(fd.as_fd(), data),
            Ends::Terminal { fd } => sys::write(fd.as_fd(), data),
            _ => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }
}

/// Errors that mean the other side is gone; `EIO` is how a terminal's
/// master side says its last slave fd closed, and `EBADF` how a borrowed
/// fd says its owner closed it.
pub(super) fn is_peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
    ) || matches!(e.raw_os_error(), Some(nix::libc::EIO | nix::libc::EBADF))
}
