//! The reactor's own deadlines, apart from the user's timers: SIGKILL for
//! a stopped process whose grace has passed, and another try at accepting
//! on a server that ran out of fds.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::token::Token;

/// What is due for an entry at a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Deadline {
    /// SIGKILL to a stopped process, if its grace has passed and it runs.
    Sigkill,
    /// Accept again on a server whose last accept failed for want of fds.
    RetryAccept,
}

/// The reactor's own deadlines, earliest first. One no longer wanted (its
/// entry went, or its process ended) is dropped when it comes up, or swept
/// out before then (see [`sweep`](Deadlines::sweep)): a stop with an
/// endless grace must not keep its deadline for ever.
#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    heap: BinaryHeap<Reverse<(Instant, Token, Deadline)>>,
    /// Deadlines in the heap known to no longer apply.
    dead: usize,
}

/// The fewest stale deadlines worth a sweep.
const SWEEP_SLACK: usize = 64;

impl Deadlines {
    pub(crate) fn add(&mut self, at: Instant, token: Token, deadline: Deadline) {
        self.heap.push(Reverse((at, token, deadline)));
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, ..))| *at)
    }

    /// Whether no deadline is pending (stale ones count until swept).
    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Removes and returns the next deadline due by `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Token, Deadline)> {
        match self.heap.peek() {
            Some(Reverse((at, ..))) if *at <= now => {
                self.heap.pop().map(|Reverse((_, token, deadline))| (token, deadline))
            }
            _ => None,
        }
    }

    /// Notes that a deadline in the heap no longer applies (its process ended).
    pub(crate) fn note_dead(&mut self) {
        self.dead += 1;
    }

    /// Drops the deadlines `wanted` says no longer apply, once they are half
    /// the heap: each sweep is paid for by the deadlines it drops.
    pub(crate) fn sweep(&mut self, mut wanted: impl FnMut(Token, Deadline) -> bool) {
        if self.dead <= SWEEP_SLACK || self.dead * 2 < self.heap.len() {
            return;
        }
        self.heap.retain(|Reverse((_, token, deadline))| wanted(*token, *deadline));
        self.dead = 0;
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_drops_what_no_longer_applies_and_keeps_the_rest() {
        let mut deadlines = Deadlines::default();
        let now = Instant::now();
        for i in 0..1000 {
            deadlines.add(now, Token::new(i, 1), Deadline::Sigkill);
        }
        for _ in 0..900 {
            deadlines.note_dead();
            deadlines.sweep(|token, _| token.index() % 10 == 0);
        }
        assert_eq!(deadlines.len(), 100, "the dead are swept out");
        let mut kept = 0;
        while let Some((token, _)) = deadlines.pop_due(now) {
            kept += usize::from(token.index() % 10 == 0);
        }
        assert_eq!(kept, 100, "every wanted deadline stays");
    }
}
