//! How long the loop lets replies gather before it polls again, so that
//! one wake-up of the harness handles many moves instead of one `info`
//! line.
//!
//! Every wake-up costs the harness a context switch, about as much CPU as
//! all the rest of a move's work. While more engines think than there are
//! cores, a reply that waits a little for the harness costs the tournament
//! little: the cores stay busy with the others. So the loop naps for an
//! eighth of a turn's time (the engines in a turn over the rate turns end
//! at, Little's law), at most `MAX_NAP`: a turn then waits for the harness
//! a sixteenth of its time on average. It does not nap while the engines
//! are no more than the cores (they would idle), and only where the
//! engines have no clock (`Tournament::may_nap`).

use std::time::{Duration, Instant};

/// The longest nap: replies wait at most this long for the harness.
pub const MAX_NAP: Duration = Duration::from_millis(50);
/// The nap is a turn's time over this.
const TURN_SHARE: f64 = 8.0;
/// Shorter naps would gather next to nothing: the loop polls at once.
const MIN_NAP: Duration = Duration::from_millis(1);
/// The rate of turn ends is measured over windows of about this length.
const WINDOW: Duration = Duration::from_millis(250);

pub struct Pacing {
    cores: usize,
    window_began: Instant,
    /// Turns ended when the window began.
    ended_then: u64,
    /// Turns ended a second, over the last full window.
    rate: Option<f64>,
}

impl Pacing {
    pub fn new(cores: usize, now: Instant) -> Pacing {
        Pacing { cores: cores.max(1), window_began: now, ended_then: 0, rate: None }
    }

    /// The nap before the next poll, given the turns `ended` so far and
    /// the engines `busy` in a turn now.
    pub fn nap(&mut self, now: Instant, ended: u64, busy: usize) -> Option<Duration> {
        let window = now.saturating_duration_since(self.window_began);
        if window >= WINDOW {
            self.rate = Some(ended.saturating_sub(self.ended_then) as f64 / window.as_secs_f64());
            self.window_began = now;
            self.ended_then = ended;
        }
        if busy <= self.cores {
            return None;
        }
        let rate = self.rate.filter(|&r| r > 0.0)?;
        let turn = busy as f64 / rate;
        let nap = Duration::from_secs_f64((turn / TURN_SHARE).min(MAX_NAP.as_secs_f64()));
        (nap >= MIN_NAP).then_some(nap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pacing whose first window (`ended` turns in 250 ms) is measured.
    fn measured(ended: u64) -> (Pacing, Instant) {
        let start = Instant::now();
        let mut pacing = Pacing::new(2, start);
        let now = start + WINDOW;
        let _ = pacing.nap(now, ended, 0);
        (pacing, now)
    }

    #[test]
    fn no_nap_before_a_rate_is_known() {
        let start = Instant::now();
        let mut pacing = Pacing::new(2, start);
        assert_eq!(pacing.nap(start + Duration::from_millis(10), 5, 64), None);
    }

    #[test]
    fn no_nap_when_the_engines_are_no_more_than_the_cores() {
        let (mut pacing, now) = measured(25);
        assert_eq!(pacing.nap(now, 25, 2), None);
        assert_eq!(pacing.nap(now, 25, 1), None);
    }

    #[test]
    fn the_nap_is_an_eighth_of_a_turn() {
        // 25 turns in 250 ms: 100 a second; 8 engines in a turn: 80 ms a turn.
        let (mut pacing, now) = measured(25);
        assert_eq!(pacing.nap(now, 25, 8), Some(Duration::from_millis(10)));
    }

    #[test]
    fn the_nap_is_at_most_max_nap() {
        let (mut pacing, now) = measured(25);
        assert_eq!(pacing.nap(now, 25, 1000), Some(MAX_NAP));
    }

    #[test]
    fn a_nap_too_short_to_gather_anything_is_none() {
        // 1000 a second, 3 engines: 3 ms a turn, 0.375 ms.
        let (mut pacing, now) = measured(250);
        assert_eq!(pacing.nap(now, 250, 3), None);
    }

    #[test]
    fn no_nap_while_no_turn_ends() {
        let (mut pacing, now) = measured(0);
        assert_eq!(pacing.nap(now, 0, 64), None);
    }
}
