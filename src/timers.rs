//! One-shot timers in the loop: a binary heap of deadlines, so many timers
//! stay cheap (O(log n) to set, O(1) to cancel).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::time::{Duration, Instant};

/// A timer set with `set_timer`; handed back in its timer event.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct TimerId(u64);

#[derive(Debug, Default)]
pub(crate) struct Timers {
    /// Deadlines; a cancelled timer stays here until it comes up, then is skipped.
    heap: BinaryHeap<Reverse<(Instant, TimerId)>>,
    live: HashSet<TimerId>,
    next_id: u64,
}

impl Timers {
    pub(crate) fn set(&mut self, after: Duration) -> TimerId {
        self.set_deadline(Instant::now().checked_add(after).unwrap_or_else(far_future))
    }

    fn set_deadline(&mut self, deadline: Instant) -> TimerId {
        let id = TimerId(self.next_id);
        self.next_id += 1;
        self.heap.push(Reverse((deadline, id)));
        self.live.insert(id);
        id
    }

    /// False if the timer already fired or was cancelled.
    pub(crate) fn cancel(&mut self, id: TimerId) -> bool {
        self.live.remove(&id)
    }

    /// How long until the next live timer is due; `None` without timers.
    pub(crate) fn until_next(&mut self, now: Instant) -> Option<Duration> {
        self.skip_cancelled();
        self.heap.peek().map(|Reverse((at, _))| at.saturating_duration_since(now))
    }

    /// Removes and returns the next timer due by `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<TimerId> {
        self.skip_cancelled();
        match self.heap.peek() {
            Some(Reverse((at, id))) if *at <= now => {
                let id = *id;
                self.heap.pop();
                self.live.remove(&id);
                Some(id)
            }
            _ => None,
        }
    }

    fn skip_cancelled(&mut self) {
        while let Some(Reverse((_, id))) = self.heap.peek() {
            if self.live.contains(id) {
                return;
            }
            self.heap.pop();
        }
    }
}

/// An instant no timeout reaches; for deadlines that overflow `Instant`.
pub(crate) fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fire_in_deadline_order_and_skip_cancelled() {
        let mut timers = Timers::default();
        // Deadlines far apart, so however slowly this runs (valgrind), the
        // order of deadlines is not the order of `set`.
        let late = timers.set(Duration::from_secs(50));
        let early = timers.set(Duration::from_secs(10));
        let cancelled = timers.set(Duration::from_secs(5));
        assert!(timers.cancel(cancelled));
        assert!(!timers.cancel(cancelled), "a second cancel says it was gone");
        let later = Instant::now() + Duration::from_secs(100);
        assert_eq!(timers.pop_due(later), Some(early));
        assert_eq!(timers.pop_due(later), Some(late));
        assert_eq!(timers.pop_due(later), None);
        assert!(!timers.cancel(late), "a fired timer cannot be cancelled");
    }

    #[test]
    fn ten_thousand_timers_fire_in_deadline_order() {
        let mut timers = Timers::default();
        let base = Instant::now();
        let mut expected = Vec::new();
        let mut seed = 88172645463325252u64;
        for i in 0..10_000u64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let deadline = base + Duration::from_micros(seed % 5_000);
            let id = timers.set_deadline(deadline);
            if i % 10 == 0 {
                assert!(timers.cancel(id));
            } else {
                expected.push((deadline, id));
            }
        }
        expected.sort();
        let end = base + Duration::from_secs(1);
        let fired: Vec<TimerId> = std::iter::from_fn(|| timers.pop_due(end)).collect();
        assert_eq!(fired, expected.iter().map(|(_, id)| *id).collect::<Vec<_>>());
        assert!(timers.live.is_empty() && timers.heap.is_empty());
    }

    #[test]
    fn not_due_before_deadline() {
        let mut timers = Timers::default();
        timers.set(Duration::from_secs(60));
        let now = Instant::now();
        assert_eq!(timers.pop_due(now), None);
        assert!(timers.until_next(now).unwrap() > Duration::from_secs(59));
    }
}
