//! procloop runs many child processes and talks to them from one
//! single-threaded event loop: no hidden threads (but one, for
//! [`App::die_with_parent`] starts made off the main thread), no global
//! signal handlers.
//!
//! # Layers
//!
//! Each folder of `src/` is a layer, from the bottom up:
//!
//! - `sys/`: every raw system call and every `unsafe` block of the crate,
//!   on plain values (fds, pids, numbers), never a type of a layer above.
//! - `channel/`: [`Channel`], a non-blocking read/write facade over a pipe
//!   pair or a stream socket. It works with or without a loop: `read()`
//!   drains the channel's buffer, then reads the fd without blocking.
//! - `process/`: [`Process`], one child we started: the [`Signal`]s it can
//!   be sent, the [`Limit`]s it runs under, what it used ([`Usage`]), its
//!   cgroup.
//! - `reactor/`: [`Reactor`], one `mio::Poll` over channels, listening
//!   sockets ([`Listener`]), child processes (their pidfds) and timers.
//!   [`Reactor::poll_once`] waits when no event is queued and hands
//!   plain-data [`ReactorEvent`]s to a handler that also gets the reactor,
//!   to write replies, register more or poll again (the pull form:
//!   [`Reactor::wait_events`] and [`Reactor::next_event`]).
//! - `runner/`: [`Runner`], a registry of configured apps ([`App`]) and
//!   their running processes by alias, built on one reactor; its events
//!   ([`Event`]) name the alias.
//! - `testing/`: [`testing`], helpers for tests of code built on procloop.
//!
//! `error.rs` holds the [`Error`] they share.
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
//!
//! # Event order
//!
//! For each process: its data in order; `Closed` after the last byte of its
//! stdout; `Exited` after every byte it wrote before exiting was handed
//! over (a last line without its newline too, as a piece of its own). A
//! grandchild holding the pipe delays `Closed`, never `Exited`.
//! Bytes handed in an event are consumed: `read()` won't return them.
//!
//! With a restart policy, `Exited` is followed by `Restarted` (a new channel
//! is in place) or `GaveUp`. A socket app's restart never waits in the loop:
//! it connects in the loop, and its `Restarted` is held back until the new
//! run's own socket is connected. A restarted run that exits or times out
//! before that has no events of its own; it counts against the restart
//! policy, which restarts it again or gives up (`GaveUp` with its status).
//! A `nowait` socket start says `Ready` (its own socket, never another
//! process's) or `StartFailed`.
//!
//! In line mode every line is its own event. Lines that arrived together
//! are handed over one after another without a trip round the loop; a
//! handler that reads, pauses or drops the channel mid-way gets the next
//! line itself, stops the rest, or gets them back with the channel (its
//! lines not handed yet go back to the channel's buffer first). In
//! whole-lines mode ([`Buffering::WholeLines`]) the whole lines one read
//! brought come as one event instead.
//!
//! ```
//! use std::time::Duration;
//! use procloop::{App, Event, Runner};
//!
//! let mut runner = Runner::new()?;
//! runner.add("seq", App::new("seq 3"));
//! runner.start("seq")?;
//! let mut seen = Vec::new();
//! while !seen.iter().any(|e: &String| e.starts_with("exited")) {
//!     runner.poll_once(Some(Duration::from_secs(5)), |_, event| match event {
//!         Event::Data { data, .. } => seen.push(format!("data {}", data.len())),
//!         Event::Closed { .. } => seen.push("closed".into()),
//!         Event::Exited { status, .. } => seen.push(format!("exited {}", status.success())),
//!         _ => {}
//!     })?;
//! }
//! assert_eq!(seen.last().unwrap(), "exited true");
//! assert_eq!(seen[seen.len() - 2], "closed");
//! # Ok::<(), procloop::Error>(())
//! ```
//!
//! # Backpressure and bounded memory
//!
//! Each channel's input buffer is bounded (64 KiB by default) and holds
//! memory only while it holds bytes: a reactor reads into one scratch
//! buffer of its own and leaves in a channel only what its handler has not
//! taken (a partial line, say, in a buffer its own size). A channel that
//! is [paused](Reactor::pause) keeps its input in its buffer; once it is
//! full the reactor stops reading the fd, so the child blocks on its full
//! pipe: nothing is dropped, memory stays bounded.
//! What a reactor has read for a channel and not handed yet counts against
//! that capacity, so a handler that pauses or reads the channel mid-way
//! gets no more than the capacity put back. A line longer than the capacity
//! comes in pieces of exactly the capacity (each without its `\n`).
//!
//! Events wait in one queue, filled only when it is empty: a fill reads
//! each ready channel once (one piece) and stops at 256 KiB read; the
//! rest waits in the kernel's pipes, where the children block. So a slow
//! handler or a small `poll_once_max` never lets events pile up: the
//! queue holds one fill, at most a piece a channel, besides exits,
//! accepted clients and due timers (one event each). Between two waits
//! at most about 1 MiB is read (and 1,024 reads made), so one
//! `poll_once` hands no more than that, and a channel that became
//! readable meanwhile is not kept waiting behind channels that flood.
//!
//! Writes queue what the fd won't take now, up to a limit (16 MiB by
//! default); a write that does not fit is refused whole with
//! [`Error::QueueFull`]. The queue's memory stays within its limit, and
//! a drained queue holds none.
//!
//! # Reaping
//!
//! Each child is watched through its pidfd (or, without pidfds, polled
//! every 10 ms) and reaped by pid: never `waitpid(-1)`, so other children of
//! the host are left alone. [`Runner::terminate`] sends SIGTERM, waits a
//! grace period, then SIGKILL, and always reaps; dropping a `Runner` does
//! that for all its children at once, with one shared grace period.
//! Dropping a [`Reactor`], or a [`Process`] it handed out, ends and reaps
//! its children too: SIGTERM and SIGKILL at once, then at most 2 s each.
//!
//! # Errors
//!
//! Every bad input is a typed [`Error`] whose message names the culprit, and
//! a failed start leaves nothing running and no fd open.
//!
//! ```
//! use procloop::{App, Error, Runner};
//!
//! let mut runner = Runner::new()?;
//! runner.add("oops", App::new("echo 'unbalanced"));
//! let err = runner.start("oops").unwrap_err();
//! assert!(matches!(err, Error::BadCommand { .. }));
//! assert!(err.to_string().contains("unterminated single quote"));
//! # Ok::<(), procloop::Error>(())
//! ```

#![deny(missing_docs)]
#![deny(unsafe_code)]
#![warn(rust_2018_idioms)]
#![deny(unnameable_types, unreachable_pub)]

// The layers, and the error type they share (see the crate docs).
mod channel;
mod error;
mod process;
mod reactor;
mod runner;
mod sys;
pub mod testing;

pub use error::{Error, Result};

pub use channel::Channel;
pub use channel::input_buffer::DEFAULT_INPUT_CAPACITY;
pub use channel::write_queue::DEFAULT_WRITE_QUEUE_LIMIT;

pub use process::limit::Limit;
pub use process::signal::{Signal, UnknownSignal};
pub use process::spawn::{Spawn, Spawned};
pub use process::usage::{TreeUsage, Usage};
pub use process::{Process, is_unknown_exit, unknown_exit};

pub use reactor::listener::{Listener, PeerAddr};
pub use reactor::timers::TimerId;
pub use reactor::token::Token;
pub use reactor::waker::Waker;
pub use reactor::{Reactor, ReactorEvent};

pub use runner::{
    App, Buffering, Cgroups, Charge, Containment, DEFAULT_GRACE, DEFAULT_SOCKET_WAIT, Event, Outcome,
    ReactorView, Restart, Runner, Scheduler, Start, Stderr, Transport, Turn, TurnId, TurnReport,
    split_command,
};

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
