//! The reactor's own deadlines, apart from the user's timers: SIGKILL for
//! a stopped process whose grace has passed, and another try at accepting
//! on a server that ran out of fds.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::token::Token;

/// What is due for an entry at a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Chore {
    /// SIGKILL to a stopped process, if its grace has passed and it runs.
    Kill,
    /// Accept again on a server whose last accept failed for want of fds.
    Accept,
}

/// Chores by deadline. One that is no longer wanted (its entry went, or
/// its process ended) is dropped when it comes up, or swept out before
/// then (see [`sweep`](Chores::sweep)): a stop with an endless grace must
/// not keep its deadline for ever.
#[derive(Debug, Default)]
pub(crate) struct Chores {
    heap: BinaryHeap<Reverse<(Instant, Token, Chore)>>,
    /// Chores in the heap known to no longer apply.
    dead: usize,
}

/// The fewest dead chores worth a sweep.
const SWEEP_SLACK: usize = 64;

impl Chores {
    pub(crate) fn add(&mut self, at: Instant, token: Token, chore: Chore) {
        self.heap.push(Reverse((at, token, chore)));
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, ..))| *at)
    }

    /// Removes and returns the next chore due by `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Token, Chore)> {
        match self.heap.peek() {
            Some(Reverse((at, ..))) if *at <= now => {
                self.heap.pop().map(|Reverse((_, token, chore))| (token, chore))
            }
            _ => None,
        }
    }

    /// Notes that a chore in the heap no longer applies (its process ended).
    pub(crate) fn note_dead(&mut self) {
        self.dead += 1;
    }

    /// Drops the chores `wanted` says no longer apply, once they are half
    /// the heap: each sweep is paid for by the chores it drops.
    pub(crate) fn sweep(&mut self, mut wanted: impl FnMut(Token, Chore) -> bool) {
        if self.dead <= SWEEP_SLACK || self.dead * 2 < self.heap.len() {
            return;
        }
        self.heap.retain(|Reverse((_, token, chore))| wanted(*token, *chore));
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
        let mut chores = Chores::default();
        let now = Instant::now();
        for i in 0..1000 {
            chores.add(now, Token::new(i, 1), Chore::Kill);
        }
        for _ in 0..900 {
            chores.note_dead();
            chores.sweep(|token, _| token.index() % 10 == 0);
        }
        assert_eq!(chores.len(), 100, "the dead are swept out");
        let mut kept = 0;
        while let Some((token, _)) = chores.pop_due(now) {
            kept += usize::from(token.index() % 10 == 0);
        }
        assert_eq!(kept, 100, "every wanted chore stays");
    }
}
