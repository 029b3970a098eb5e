//! Restart policies: whether an exited process is started again, after
//! which delay, and when to give up.

use std::collections::VecDeque;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::reactor::timers::TimerId;

/// When a process that exited by itself is started again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize), serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Restart {
    /// Never (the default).
    #[default]
    Never,
    /// When it exited with a failure: a non-zero code or a signal.
    OnFailure,
    /// Whenever it exited.
    Always,
}

/// An app's restart policy: when, how fast, how often.
#[derive(Clone, Debug)]
pub(crate) struct RestartPolicy {
    pub(crate) when: Restart,
    pub(crate) initial: Duration,
    pub(crate) max: Duration,
    pub(crate) max_restarts: u32,
    pub(crate) window: Duration,
}

impl Default for RestartPolicy {
    fn default() -> RestartPolicy {
        RestartPolicy {
            when: Restart::Never,
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            max_restarts: u32::MAX,
            window: Duration::from_secs(60),
        }
    }
}

/// One alias's restarts so far.
#[derive(Debug, Default)]
pub(crate) struct RestartState {
    /// When each restart within the window was decided.
    history: VecDeque<Instant>,
    /// The timer of a restart not done yet.
    pub(crate) pending: Option<TimerId>,
}

/// What to do after an exit.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Stay,
    RestartAfter(Duration),
    GiveUp,
}

impl RestartPolicy {
    /// Decides about an exit with `status` at `now`, and records a restart.
    pub(crate) fn decide(&self, status: ExitStatus, state: &mut RestartState, now: Instant) -> Decision {
        let wanted = match self.when {
            Restart::Never => false,
            Restart::OnFailure => !status.success(),
            Restart::Always => true,
        };
        if !wanted {
            return Decision::Stay;
        }
        self.schedule(state, now)
    }

    /// Decides about a restarted run that failed before it was ready (its
    /// socket never connected): a failure, whatever its exit status.
    pub(crate) fn decide_failed(&self, state: &mut RestartState, now: Instant) -> Decision {
        if self.when == Restart::Never {
            return Decision::Stay;
        }
        self.schedule(state, now)
    }

    /// A restart after the backoff, or giving up after too many.
    fn schedule(&self, state: &mut RestartState, now: Instant) -> Decision {
        state.history.retain(|at| now.duration_since(*at) < self.window);
        if state.history.len() >= self.max_restarts as usize {
            return Decision::GiveUp;
        }
        let doublings = state.history.len().min(32) as u32;
        let delay = self.initial.saturating_mul(2u32.saturating_pow(doublings)).min(self.max);
        state.history.push_back(now);
        Decision::RestartAfter(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn failure() -> ExitStatus {
        ExitStatus::from_raw(1 << 8)
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_then_gives_up() {
        let policy = RestartPolicy {
            when: Restart::OnFailure,
            initial: Duration::from_millis(100),
            max: Duration::from_millis(300),
            max_restarts: 3,
            window: Duration::from_secs(60),
        };
        let mut state = RestartState::default();
        let now = Instant::now();
        let delays: Vec<Decision> = (0..4).map(|_| policy.decide(failure(), &mut state, now)).collect();
        assert_eq!(
            delays,
            [
                Decision::RestartAfter(Duration::from_millis(100)),
                Decision::RestartAfter(Duration::from_millis(200)),
                Decision::RestartAfter(Duration::from_millis(300)),
                Decision::GiveUp,
            ]
        );
        let later = now + Duration::from_secs(61);
        assert_eq!(
            policy.decide(failure(), &mut state, later),
            Decision::RestartAfter(Duration::from_millis(100))
        );
    }

    #[test]
    fn a_backoff_cap_below_its_start_waits_the_start_every_time() {
        let app = crate::App::new("true")
            .restart(Restart::Always)
            .backoff(Duration::from_secs(2), Duration::from_millis(10));
        let mut state = RestartState::default();
        let now = Instant::now();
        let delays: Vec<Decision> = (0..3).map(|_| app.restart.decide(failure(), &mut state, now)).collect();
        assert!(delays.iter().all(|d| *d == Decision::RestartAfter(Duration::from_secs(2))), "{delays:?}");
    }

    #[test]
    fn on_failure_leaves_a_clean_exit_alone() {
        let policy = RestartPolicy { when: Restart::OnFailure, ..RestartPolicy::default() };
        let mut state = RestartState::default();
        assert_eq!(policy.decide(ExitStatus::from_raw(0), &mut state, Instant::now()), Decision::Stay);
        let never = RestartPolicy::default();
        assert_eq!(never.decide(failure(), &mut state, Instant::now()), Decision::Stay);
    }
}
