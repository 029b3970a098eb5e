//! [`ReactorEvent`]: what `Reactor::poll_once` hands its handler.

use std::process::ExitStatus;

use super::delivery::Delivery;
use crate::listener::PeerAddr;
use crate::timers::TimerId;
use crate::token::Token;

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

/// An event without its bytes, while the bytes sit in the delivery buffer.
#[derive(Debug)]
pub(crate) enum Step {
    /// `len` bytes at `at` in the delivery buffer.
    Data {
        token: Token,
        at: usize,
        len: usize,
    },
    Closed {
        token: Token,
    },
    /// Boxed: a UNIX peer address is over 100 bytes, and every step of
    /// every kind is moved by value on the hot path.
    Accepted {
        server: Token,
        client: Token,
        peer: Box<PeerAddr>,
    },
    Exited {
        token: Token,
        status: ExitStatus,
    },
    Timer {
        id: TimerId,
    },
}

impl Step {
    /// The event, with its bytes from `delivery`.
    pub(crate) fn event(self, delivery: &Delivery) -> ReactorEvent<'_> {
        match self {
            Step::Data { token, at, len } => ReactorEvent::Data { token, data: delivery.bytes(at, len) },
            Step::Closed { token } => ReactorEvent::Closed { token },
            Step::Accepted { server, client, peer } => ReactorEvent::Accepted { server, client, peer: *peer },
            Step::Exited { token, status } => ReactorEvent::Exited { token, status },
            Step::Timer { id } => ReactorEvent::Timer { id },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_small() {
        assert!(std::mem::size_of::<Option<Step>>() <= 32, "{}", std::mem::size_of::<Option<Step>>());
    }
}
