//! What a reactor keeps per slab slot.

use std::os::fd::RawFd;

use super::listener::Listener;
use super::speculation::Speculation;
use super::token::Token;
use crate::channel::Channel;
use crate::process::Process;

#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) generation: u32,
    /// In the reactor's ready queue.
    pub(crate) queued: bool,
    /// Readiness seen and not yet used up (edge-triggered).
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// The peer hung up: read on to end of stream even after a short read.
    pub(crate) hup: bool,
    pub(crate) kind: Kind,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Channel(ChannelState),
    Server(Listener),
    Process(ProcessState),
}

#[derive(Debug)]
pub(crate) struct ChannelState {
    pub(crate) channel: Channel,
    /// Input is buffered, not handed over (see `Reactor::pause`).
    pub(crate) paused: bool,
    pub(crate) closed_reported: bool,
    /// The fds in the poll for this channel: its read end (a socket's one
    /// fd), and a pipe's write end once bytes got queued. Kept so that a
    /// channel closed through any handle can be taken out of the poll.
    pub(crate) watched: [Option<Watched>; 2],
    /// In the reactor's list of channels lent since the last wait.
    pub(crate) lent: bool,
    /// One past the position (counted from the first event ever queued)
    /// of its last queued event: it has events queued while the queue has
    /// popped fewer than this.
    pub(crate) queued_until: u64,
    /// Whether a read right after a write is worth it for this channel.
    pub(crate) speculation: Speculation,
    /// The process whose exit is draining this channel, once the drain
    /// began: bytes a handler puts back go back to that drain's budget.
    pub(crate) drained_by: Option<Token>,
}

impl ChannelState {
    pub(crate) fn new(channel: Channel) -> ChannelState {
        ChannelState {
            channel,
            paused: false,
            closed_reported: false,
            watched: [None, None],
            lent: false,
            queued_until: 0,
            speculation: Speculation::default(),
            drained_by: None,
        }
    }
}

/// An fd in the poll: the kernel drops an owned one from the poll when it
/// closes; a borrowed one stays open and must be taken out by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Watched {
    pub(crate) fd: RawFd,
    pub(crate) borrowed: bool,
}

/// Which of a channel's `watched` fds.
pub(crate) const READ: usize = 0;
pub(crate) const WRITE: usize = 1;

#[derive(Debug)]
pub(crate) struct ProcessState {
    pub(crate) process: Process,
    /// Channels carrying its output, drained before its exit is reported.
    pub(crate) outputs: Vec<Token>,
    /// Bytes left to drain from `outputs` after the exit; it bounds the
    /// drain when a grandchild keeps writing.
    pub(crate) drain_budget: Option<usize>,
}

impl Entry {
    pub(crate) fn new(generation: u32, kind: Kind) -> Entry {
        Entry { generation, queued: false, readable: false, writable: false, hup: false, kind }
    }

    /// Whether it can never produce an event again: a channel whose
    /// `Closed` was handed over, with nothing left to write. A paused one at
    /// end of stream (its fd read to the end) is too, until the user
    /// resumes it: no handler can run to do that during a wait. So is a
    /// write-only one (no read side from the start: no `Closed` to come).
    pub(crate) fn is_spent(&self) -> bool {
        match &self.kind {
            Kind::Channel(state) => {
                let channel = &state.channel;
                let ended = state.closed_reported
                    || (state.paused && channel.at_eof())
                    || (channel.read_fd().is_none() && !channel.at_eof());
                ended && channel.queued() == 0
            }
            Kind::Server(_) | Kind::Process(_) => false,
        }
    }

    pub(crate) fn channel(&mut self) -> Option<&mut ChannelState> {
        match &mut self.kind {
            Kind::Channel(state) => Some(state),
            _ => None,
        }
    }
}
