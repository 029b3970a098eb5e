//! What a reactor keeps per slab slot.

use crate::channel::Channel;
use crate::listener::Listener;
use crate::process::Process;
use crate::token::Token;

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
    /// A pipe's write end is in the poll (watched once bytes got queued).
    pub(crate) write_watched: bool,
    /// In the reactor's list of channels handed out since the last wait.
    pub(crate) handed_out: bool,
    /// One past the position (counted from the first event ever queued)
    /// of its last queued event: it has events queued while the queue has
    /// popped fewer than this.
    pub(crate) queued_until: u64,
}

impl ChannelState {
    pub(crate) fn new(channel: Channel) -> ChannelState {
        ChannelState {
            channel,
            paused: false,
            closed_reported: false,
            write_watched: false,
            handed_out: false,
            queued_until: 0,
        }
    }
}

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

    pub(crate) fn channel(&mut self) -> Option<&mut ChannelState> {
        match &mut self.kind {
            Kind::Channel(state) => Some(state),
            _ => None,
        }
    }
}
