//! The reactor's table of entries, and the one rule that keeps every line
//! handed over exactly once: the table never gives out an entry while a
//! batch of lines has handed over bytes its channel still holds.
//!
//! A batch (see `batch.rs`) hands over copies of lines that stay in their
//! channel's buffer, the buffer being the truth. The table notes how many
//! bytes were handed over (`Flight`) and, on every access to any entry,
//! first consumes them from the channel. So whatever a handler does to the
//! channel mid-batch (read, pause, unregister, a nested poll), it sees the
//! buffer as if each line had been consumed when it was handed over; and a
//! handler that unwinds leaves nothing lent out. Only the batch itself looks
//! at its channel without settling, through [`Table::batch_holds`].

use slab::Slab;

use super::entry::{ChannelState, Entry, Kind};
use crate::token::Token;

#[derive(Debug, Default)]
pub(crate) struct Table {
    slab: Slab<Entry>,
    flight: Option<Flight>,
}

/// A batch being handed over.
#[derive(Debug)]
struct Flight {
    token: Token,
    /// Bytes handed over and not consumed from the channel's buffer yet.
    pending: usize,
    /// The table gave out an entry since the batch last checked its channel.
    given_out: bool,
}

impl Table {
    /// The entry behind `token`, after settling any batch in flight.
    pub(crate) fn get(&mut self, token: Token) -> Option<&mut Entry> {
        self.settle();
        self.slab.get_mut(token.index()).filter(|e| e.generation == token.generation())
    }

    /// The entry behind `token`, for a look that touches no channel's
    /// input (so nothing needs settling).
    pub(crate) fn peek(&self, token: Token) -> Option<&Entry> {
        self.slab.get(token.index()).filter(|e| e.generation == token.generation())
    }

    /// The channel behind `token`.
    pub(crate) fn channel(&mut self, token: Token) -> Option<&mut ChannelState> {
        self.get(token)?.channel()
    }

    /// Adds an entry; it must land at `token`'s index (from [`vacant`](Self::vacant)).
    pub(crate) fn insert(&mut self, token: Token, kind: Kind) {
        let index = self.slab.insert(Entry::new(token.generation(), kind));
        debug_assert_eq!(index, token.index());
    }

    /// The index the next entry gets.
    pub(crate) fn vacant(&self) -> usize {
        self.slab.vacant_key()
    }

    /// Removes the entry behind `token`.
    pub(crate) fn remove(&mut self, token: Token) -> Option<Entry> {
        self.get(token)?;
        Some(self.slab.remove(token.index()))
    }

    /// Removes every entry `doomed` picks, settling first.
    pub(crate) fn remove_where(&mut self, mut doomed: impl FnMut(Token, &Entry) -> bool) -> Vec<Entry> {
        self.settle();
        let indices: Vec<usize> = self
            .slab
            .iter()
            .filter(|(i, e)| doomed(Token::new(*i, e.generation), e))
            .map(|(i, _)| i)
            .collect();
        indices.into_iter().map(|i| self.slab.remove(i)).collect()
    }

    /// Every entry, for a look that touches no channel's input.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.slab.iter().map(|(_, entry)| entry)
    }

    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    /// The entry behind a mio event's token, for noting readiness: only
    /// flags are set there, so nothing needs settling.
    pub(crate) fn for_readiness(&mut self, token: Token) -> Option<&mut Entry> {
        self.slab.get_mut(token.index()).filter(|e| e.generation == token.generation())
    }

    /// Consumes what a batch in flight handed over so far.
    fn settle(&mut self) {
        let Some(flight) = &mut self.flight else { return };
        flight.given_out = true;
        let (token, pending) = (flight.token, std::mem::take(&mut flight.pending));
        if pending == 0 {
            return;
        }
        let entry = self.slab.get_mut(token.index()).filter(|e| e.generation == token.generation());
        if let Some(state) = entry.and_then(|e| e.channel()) {
            state.channel.consume(pending);
        }
    }

    /// A batch of `token`'s lines starts.
    pub(crate) fn take_off(&mut self, token: Token) {
        self.settle();
        // As if given out: the handler of the line before may have read the channel.
        self.flight = Some(Flight { token, pending: 0, given_out: true });
    }

    /// Whether `token`'s batch may hand over its next line, its channel
    /// having consumed `mark` bytes in all once settled: nobody else took
    /// bytes from it, and it is still registered, unpaused and in line mode.
    #[inline]
    pub(crate) fn batch_holds(&mut self, token: Token, mark: u64) -> bool {
        let Some(flight) = self.flight.as_mut().filter(|f| f.token == token) else {
            return false; // a nested poll ran a batch of its own
        };
        if !std::mem::take(&mut flight.given_out) {
            return true;
        }
        let entry = self.slab.get_mut(token.index()).filter(|e| e.generation == token.generation());
        entry.and_then(|e| e.channel()).is_some_and(|state| {
            !state.paused && state.channel.is_line_buffered() && state.channel.consumed() == mark
        })
    }

    /// Notes `len` bytes of the batch handed over.
    #[inline]
    pub(crate) fn hand_over(&mut self, len: usize) {
        if let Some(flight) = &mut self.flight {
            flight.pending += len;
        }
    }

    /// The batch ended: what it handed over is consumed.
    pub(crate) fn land(&mut self) {
        self.settle();
        self.flight = None;
    }
}
