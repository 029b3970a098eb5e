//! [`ReactorEvent`]: what `Reactor::poll_once` hands its handler.

use std::process::ExitStatus;

use super::listener::PeerAddr;
use super::timers::TimerId;
use super::token::Token;

/// One thing that happened in a [`Reactor`](crate::Reactor): plain data,
/// handed to the `poll_once` handler.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReactorEvent<'a> {
    /// Bytes from a channel; exactly one line when it is line-buffered.
    /// They are consumed: `read()` will not return them again.
    Data {
        /// The channel.
        token: Token,
        /// The bytes.
        data: &'a [u8],
    },
    /// End of stream on a channel, after its last byte; once per channel.
    Closed {
        /// The channel.
        token: Token,
    },
    /// A server accepted a client, now registered as a channel.
    Accepted {
        /// The server.
        server: Token,
        /// The new channel.
        client: Token,
        /// Where the client connected from.
        peer: PeerAddr,
    },
    /// A process exited and was reaped, after every byte it wrote to its
    /// output channels was handed over; its entry is gone.
    Exited {
        /// The process.
        token: Token,
        /// How it ended.
        status: ExitStatus,
    },
    /// A timer fired.
    Timer {
        /// The timer.
        id: TimerId,
    },
}
