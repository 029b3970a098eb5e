//! [`Listener`]: a listening socket whose clients a reactor accepts.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{self, UnixListener};

use crate::channel::Channel;

/// A listening UNIX or TCP socket for [`Reactor::add_server`](crate::Reactor::add_server).
#[derive(Debug)]
pub enum Listener {
    /// A UNIX stream socket.
    Unix(UnixListener),
    /// A TCP socket.
    Tcp(TcpListener),
}

/// Where an accepted client connected from.
#[derive(Debug, Clone)]
pub enum PeerAddr {
    /// A UNIX socket peer (usually unnamed).
    Unix(net::SocketAddr),
    /// A TCP peer.
    Tcp(SocketAddr),
}

impl From<UnixListener> for Listener {
    fn from(listener: UnixListener) -> Listener {
        Listener::Unix(listener)
    }
}

impl From<TcpListener> for Listener {
    fn from(listener: TcpListener) -> Listener {
        Listener::Tcp(listener)
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Unix(l) => l.as_fd(),
            Listener::Tcp(l) => l.as_fd(),
        }
    }
}

impl Listener {
    pub(crate) fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Listener::Unix(l) => l.set_nonblocking(true),
            Listener::Tcp(l) => l.set_nonblocking(true),
        }
    }

    /// Accepts one client as a channel; `WouldBlock` when none waits.
    pub(crate) fn accept(&self) -> crate::Result<(Channel, PeerAddr)> {
        match self {
            Listener::Unix(l) => {
                let (stream, addr) = l.accept()?;
                Ok((Channel::from_unix(stream)?, PeerAddr::Unix(addr)))
            }
            Listener::Tcp(l) => {
                let (stream, addr) = l.accept()?;
                Ok((Channel::from_tcp(stream)?, PeerAddr::Tcp(addr)))
            }
        }
    }
}
