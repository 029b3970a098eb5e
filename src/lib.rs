//! procloop runs many child processes and talks to them from one
//! single-threaded event loop.
//!
//! Three layers, each usable on its own:
//!
//! - [`Channel`]: a non-blocking read/write facade over a pipe pair or a
//!   stream socket. It works with or without a loop.
//! - [`Reactor`]: one `mio::Poll` over channels, listening sockets, child
//!   processes (their pidfds) and timers. [`Reactor::poll_once`] waits once
//!   and hands plain-data events to a handler.
//! - [`Runner`]: a registry of configured apps ([`App`]) and running
//!   processes by alias, built on one reactor.
//!
//! No hidden threads, no global signal handlers.
//!
//! ```
//! use std::os::unix::net::UnixStream;
//! use procloop::{Channel, Error};
//!
//! let (a, b) = UnixStream::pair()?;
//! let mut a = Channel::from_unix(a)?.line_buffered();
//! let mut b = Channel::from_unix(b)?;
//! b.write(b"one\ntw")?;
//! assert_eq!(a.read()?, b"one\n");
//! assert_eq!(a.read()?, b"", "half a line is not a line");
//! b.write(b"o\n")?;
//! assert_eq!(a.read()?, b"two\n");
//! b.close();
//! assert!(matches!(a.read(), Err(Error::EndpointClosed)));
//! # Ok::<(), procloop::Error>(())
//! ```

#![deny(missing_docs)]
#![deny(unsafe_code)]
#![warn(rust_2018_idioms)]

mod channel;
mod error;
mod listener;
mod process;
mod reactor;
mod ring;
mod runner;
mod sys;
pub mod testing;
mod timers;
mod token;
mod waker;
mod write_queue;

pub use channel::Channel;
pub use error::{Error, Result};
pub use listener::{Listener, PeerAddr};
pub use nix::sys::signal::Signal;
pub use process::Process;
pub use reactor::{Reactor, ReactorEvent};
pub use ring::DEFAULT_INPUT_CAPACITY;
pub use runner::{
    App, Buffering, DEFAULT_GRACE, DEFAULT_SOCKET_WAIT, Event, Restart, Runner, Start, Stderr, Transport,
};
pub use timers::TimerId;
pub use token::Token;
pub use waker::Waker;
pub use write_queue::DEFAULT_WRITE_QUEUE_LIMIT;
