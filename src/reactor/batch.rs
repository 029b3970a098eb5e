//! Handing over a batch of lines: the whole lines a step copied to the
//! delivery buffer after the line it handed over, each to the handler in
//! turn, without a trip round the loop (and its lookups) per line.
//!
//! The lines stay in their channel's buffer while they are handed over.
//! The reactor notes how many bytes were handed over (`InFlight`) and
//! settles them, consuming them from the channel's buffer, when the batch
//! ends or when the handler reaches for a channel: every reactor method
//! that can read, pause or drop a channel, or wait, settles first. After
//! such a touch the batch goes on only if its channel is still registered,
//! unpaused and line-buffered, and nobody else took bytes from its buffer;
//! otherwise the rest stays in the channel's buffer for the next step.

use super::Reactor;
use super::delivery::Delivery;
use crate::token::Token;

/// A batch being handed over.
#[derive(Debug)]
pub(crate) struct InFlight {
    token: Token,
    /// Bytes handed over and not consumed from the channel's buffer yet.
    pending: usize,
    /// Settled since the batch last checked its channel.
    touched: bool,
}

impl Reactor {
    /// Consumes what a batch in flight handed over so far; called before
    /// anything that may look at a channel's input.
    pub(crate) fn settle(&mut self) {
        let Some(flight) = &mut self.in_flight else { return };
        flight.touched = true;
        let (token, pending) = (flight.token, std::mem::take(&mut flight.pending));
        if pending > 0
            && let Some(state) = self.entry(token).and_then(|e| e.channel())
        {
            state.channel.consume(pending);
        }
    }

    /// Whether `token`'s batch may hand over its next line, its channel
    /// having consumed `mark` bytes in all once settled.
    #[inline]
    fn batch_holds(&mut self, token: Token, mark: u64) -> bool {
        let Some(flight) = self.in_flight.as_mut().filter(|f| f.token == token) else {
            return false; // a nested poll ran a batch of its own
        };
        if !std::mem::take(&mut flight.touched) {
            return true;
        }
        self.entry(token).and_then(|e| e.channel()).is_some_and(|state| {
            !state.paused && state.channel.is_line_buffered() && state.channel.consumed() == mark
        })
    }

    #[inline]
    fn hand_over(&mut self, len: usize) {
        if let Some(flight) = &mut self.in_flight {
            flight.pending += len;
        }
    }
}

/// Hands each line of `token`'s batch in `delivery` to `hand`; returns how
/// many it handed over.
pub(crate) fn hand_lines<T>(
    owner: &mut T,
    reactor: impl Fn(&mut T) -> &mut Reactor,
    token: Token,
    delivery: &mut Delivery,
    mut hand: impl FnMut(&mut T, &[u8]),
) -> usize {
    let Some(lines) = delivery.take_lines(token) else { return 0 };
    // Touched: the handler of the line before may have read the channel.
    reactor(owner).in_flight = Some(InFlight { token, pending: 0, touched: true });
    let (mut mark, mut handed, mut whole) = (lines.mark, 0, true);
    for line in delivery.lines(&lines) {
        let reactor = reactor(owner);
        if !reactor.batch_holds(token, mark) {
            whole = false;
            break;
        }
        reactor.hand_over(line.len());
        mark += line.len() as u64;
        hand(owner, line);
        handed += 1;
    }
    let reactor = reactor(owner);
    reactor.settle();
    reactor.in_flight = None;
    delivery.batch_done(whole);
    handed
}
