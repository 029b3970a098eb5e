//! One-shot timers in the loop: a binary heap of deadlines, so many timers
//! stay cheap (O(log n) to set, O(1) to cancel).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A timer set with `set_timer`; handed back in its timer event. No two
/// timers of a process share an id, whatever loop they belong to: an id
/// of another loop cancels nothing (and none of a Runner's own timers).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct TimerId(u64);

/// Below this many heap entries, cancelled ones are left to be skipped.
const COMPACT_ABOVE: usize = 1024;

#[derive(Debug, Default)]
pub(crate) struct Timers {
    /// Deadlines; a cancelled timer stays here until it comes up (then it
    /// is skipped) or until cancelled ones are the heap's majority (then
    /// they are swept out, so cancelled timers never pile up).
    heap: BinaryHeap<Reverse<(Instant, TimerId)>>,
    /// Timers not cancelled and not handed over: in the heap, or due and
    /// waiting in the reactor's queue of fired timers.
    live: HashSet<TimerId>,
    /// The most timers live at once since none last were, and that number
    /// for the time before: the room kept once none are live again.
    peak: usize,
    last_peak: usize,
}

/// The next timer's id, for every loop of the process.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl Timers {
    pub(crate) fn set(&mut self, after: Duration) -> TimerId {
        self.set_deadline(deadline_after(after))
    }

    fn set_deadline(&mut self, deadline: Instant) -> TimerId {
        let id = TimerId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
        self.heap.push(Reverse((deadline, id)));
        self.live.insert(id);
        self.peak = self.peak.max(self.live.len());
        id
    }

    /// False if the timer was handed over already or was cancelled. A
    /// timer that is due but not handed over yet can still be cancelled.
    pub(crate) fn cancel(&mut self, id: TimerId) -> bool {
        let was_live = self.live.remove(&id);
        if self.heap.len() > COMPACT_ABOVE && self.heap.len() > 2 * self.live.len() {
            let live = &self.live;
            self.heap.retain(|Reverse((_, id))| live.contains(id));
        }
        self.release_if_none_live();
        was_live
    }

    /// Once no timer is live, what a burst of them made the heap and the
    /// set hold goes (the heap holds cancelled ones only, if any): a loop
    /// that armed a million timers once does not keep their memory. Room
    /// for twice as many as were live at once before this burst is kept,
    /// so that a loop arming as many at each frame does not reallocate.
    fn release_if_none_live(&mut self) {
        if !self.live.is_empty() {
            return;
        }
        let keep = COMPACT_ABOVE.max(2 * self.last_peak);
        if self.heap.capacity() > 2 * keep || self.live.capacity() > 2 * keep {
            self.heap.clear();
            self.heap.shrink_to(keep);
            self.live.shrink_to(keep);
        }
        if self.peak > 0 {
            (self.last_peak, self.peak) = (self.peak, 0);
        }
    }

    /// Whether no timer is live.
    pub(crate) fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// When the next live timer is due; `None` without timers.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.skip_cancelled();
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Removes from the heap the next timer due by `now`; it stays live
    /// (cancellable) until [`hand_over`](Self::hand_over).
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<TimerId> {
        self.skip_cancelled();
        match self.heap.peek() {
            Some(Reverse((at, id))) if *at <= now => {
                let id = *id;
                self.heap.pop();
                Some(id)
            }
            _ => None,
        }
    }

    /// A due timer is about to be handed over: false if it was cancelled
    /// since it came due.
    pub(crate) fn hand_over(&mut self, id: TimerId) -> bool {
        let was_live = self.live.remove(&id);
        self.release_if_none_live();
        was_live
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

/// `now + after`, or a far instant when that overflows: a user's duration
/// (`Duration::MAX` for "never") can never make a deadline panic.
pub(crate) fn deadline_after(after: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(after).unwrap_or_else(|| {
        let century = Duration::from_secs(100 * 365 * 24 * 3600);
        now.checked_add(century).unwrap_or(now)
    })
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
        assert!(timers.hand_over(early));
        assert!(timers.cancel(late), "due but not handed over: still cancellable");
        assert!(!timers.hand_over(late), "a cancelled timer is not handed over");
        assert!(!timers.cancel(early), "a handed-over timer cannot be cancelled");
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
        assert!(fired.iter().all(|id| timers.hand_over(*id)));
        assert!(timers.live.is_empty() && timers.heap.is_empty());
    }

    /// A burst of timers, all handed over (or cancelled): the loop keeps
    /// none of their memory.
    #[test]
    fn no_memory_is_kept_once_a_burst_of_timers_is_over() {
        let mut timers = Timers::default();
        let ids: Vec<TimerId> = (0..10_000).map(|_| timers.set(Duration::ZERO)).collect();
        for id in &ids[..5_000] {
            assert!(timers.cancel(*id));
        }
        let later = Instant::now() + Duration::from_secs(1);
        let due: Vec<TimerId> = std::iter::from_fn(|| timers.pop_due(later)).collect();
        assert_eq!(due.len(), 5_000);
        assert!(due.iter().all(|id| timers.hand_over(*id)));
        let held = (timers.heap.capacity(), timers.live.capacity());
        assert!(held.0 <= 2 * COMPACT_ABOVE && held.1 <= 2 * COMPACT_ABOVE, "room for {held:?} kept");
    }

    /// A loop that arms as many timers at each frame keeps their room
    /// (no reallocation a frame): only a burst bigger than the frames
    /// before it is given back.
    #[test]
    fn a_loop_arming_as_many_timers_each_frame_keeps_their_room() {
        let mut timers = Timers::default();
        let mut held = Vec::new();
        for _ in 0..4 {
            let ids: Vec<TimerId> = (0..5_000).map(|_| timers.set(Duration::ZERO)).collect();
            let later = Instant::now() + Duration::from_secs(1);
            while timers.pop_due(later).is_some() {}
            assert!(ids.iter().all(|id| timers.hand_over(*id)));
            // The heap's room (a set's capacity counts its tombstones off).
            held.push(timers.heap.capacity());
        }
        assert!(held[0] <= 2 * COMPACT_ABOVE, "the first burst's room kept: {held:?}");
        assert!(held[1..].iter().all(|h| *h >= 5_000), "the frames' room given back: {held:?}");
    }

    #[test]
    fn not_due_before_deadline() {
        let mut timers = Timers::default();
        timers.set(Duration::from_secs(60));
        let now = Instant::now();
        assert_eq!(timers.pop_due(now), None);
        assert!(timers.next_deadline().unwrap() > now + Duration::from_secs(59));
    }

    #[test]
    fn cancelled_timers_do_not_pile_up() {
        let mut timers = Timers::default();
        for _ in 0..100_000 {
            let id = timers.set(Duration::from_secs(3600));
            assert!(timers.cancel(id));
        }
        assert!(timers.heap.len() <= 2 * COMPACT_ABOVE, "{} heap entries", timers.heap.len());
        assert!(timers.is_empty());
    }

    #[test]
    fn a_duration_too_long_for_instant_saturates() {
        let mut timers = Timers::default();
        timers.set(Duration::MAX);
        assert!(timers.next_deadline().unwrap() > Instant::now() + Duration::from_secs(3600));
    }
}
