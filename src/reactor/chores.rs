//! The reactor's own deadlines, apart from the user's timers: SIGKILL for
//! a stopped process whose grace has passed, and another try at accepting
//! on a server that ran out of fds.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::token::Token;

/// What is due for an entry at a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Chore {
    /// SIGKILL to a stopped process, if its grace has passed and it runs.
    Kill,
    /// Accept again on a server whose last accept failed for want of fds.
    Accept,
}

/// Chores by deadline. One that is no longer wanted (its entry went, or
/// its process ended) is dropped when it comes up: the entry's own state
/// says whether it still applies.
#[derive(Debug, Default)]
pub(crate) struct Chores(BinaryHeap<Reverse<(Instant, Token, Chore)>>);

impl Chores {
    pub(crate) fn add(&mut self, at: Instant, token: Token, chore: Chore) {
        self.0.push(Reverse((at, token, chore)));
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.0.peek().map(|Reverse((at, ..))| *at)
    }

    /// Removes and returns the next chore due by `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Token, Chore)> {
        match self.0.peek() {
            Some(Reverse((at, ..))) if *at <= now => {
                self.0.pop().map(|Reverse((_, token, chore))| (token, chore))
            }
            _ => None,
        }
    }
}
