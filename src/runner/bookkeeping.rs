//! The Runner's own side of its events: an exit's bookkeeping and restart
//! decision, done before the handler sees `Exited` (so a handler that
//! unwinds or restarts the alias by hand cannot undo them); its own timers'
//! work; and the own events it hands over.

use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Instant;

use super::restart::Decision;
use super::running::{OwnEvent, OwnEventKind, OwnTimer, TimerPurpose};
use super::{Event, Runner};
use crate::reactor::token::Token;

impl Runner {
    /// An alias's process exited (every byte of its output handed over):
    /// records it, decides about a restart, then hands `Exited` and what
    /// the decision says.
    pub(super) fn on_exit<F>(
        &mut self,
        token: Token,
        status: ExitStatus,
        room: usize,
        handler: &mut F,
    ) -> usize
    where
        F: FnMut(&mut Runner, Event<'_>),
    {
        let Some(alias) = self.tokens.get(token).map(|(alias, _)| alias.clone()) else { return 0 };
        self.tokens.remove(token);
        let ended = self.reactor.remove_process(token);
        let Some(running) = self.running.get_mut(&alias).filter(|r| r.process == Some(token)) else {
            return 0;
        };
        running.process = None;
        running.ended = ended.map(Box::new);
        let connecting = running.connecting.take();
        self.end_what_is_left(&alias);
        if let Some(mut connecting) = connecting {
            let error = connecting.failure(status);
            if connecting.restarted.is_none() {
                self.start_failed(&alias, error);
            } else {
                // The user was never told of this run: no `Exited`, but the
                // policy hears of it, and says `Restarted` or `GaveUp`.
                log::warn!("restarted {alias} failed before its socket was connected: {error}");
                self.decide_restart(&alias, status, true);
            }
            self.turn_exit(&alias);
            return self.hand_own_events(room, handler);
        }
        self.decide_restart(&alias, status, false);
        self.turn_exit(&alias);
        handler(self, Event::Exited { alias: &alias, status });
        1 + self.hand_own_events(room - 1, handler)
    }

    /// What is left of an exited child: its tree (its leaf) and, if it
    /// was stopped, its group end with it; the timer that was to kill
    /// them goes.
    fn end_what_is_left(&mut self, alias: &Arc<str>) {
        let Some(running) = self.running.get_mut(alias) else { return };
        // A child's tree lives as long as the child.
        if let Some(leaf) = running.leaf.as_mut()
            && let Err(e) = leaf.end_tree()
        {
            log::warn!("killing what is left of {alias}'s tree in {}: {e}", leaf.dir().display());
        }
        // So does a stopped child's group, as its leaf would.
        if let Some(ended) = running.ended.as_deref().filter(|p| running.stopped && p.is_group_leader())
            && let Err(e) = ended.signal_group(crate::process::signal::Signal::SIGKILL)
        {
            log::warn!("killing what is left of {alias}'s group: {e}");
        }
        if let Some(timer) = running.tree_kill.take() {
            self.reactor.cancel_timer(timer); // killed already, just above
            self.own_timers.remove(&timer);
        }
    }

    /// Applies the app's restart policy to an exit: a restart timer, or a
    /// `GaveUp` event. A stopped alias stays as it is. A `failed_run` (a
    /// restarted run that never connected) counts as a failure whatever its
    /// status, and is never left without `Restarted` or `GaveUp` to come.
    fn decide_restart(&mut self, alias: &Arc<str>, status: ExitStatus, failed_run: bool) {
        let Some(running) = self.running.get_mut(alias) else { return };
        let run = running.run;
        let Some(origin) = running.origin.as_mut().filter(|_| !running.stopped) else { return };
        let policy = self.apps.get(&origin.app).map(|app| &app.restart);
        let now = Instant::now();
        let decision = match policy {
            Some(policy) if failed_run => policy.decide_failed(&mut origin.restart, now),
            Some(policy) => policy.decide(status, &mut origin.restart, now),
            None if failed_run => Decision::GiveUp,
            None => Decision::Stay,
        };
        match decision {
            Decision::Stay if !failed_run => {}
            Decision::RestartAfter(delay) => {
                let timer = self.reactor.set_timer(delay);
                origin.restart.pending = Some(timer);
                self.own_timers
                    .insert(timer, OwnTimer { alias: alias.clone(), run, kind: TimerPurpose::Restart });
            }
            Decision::Stay | Decision::GiveUp => {
                self.own_events.push_back(OwnEvent {
                    alias: alias.clone(),
                    run,
                    kind: OwnEventKind::GaveUp(status),
                });
            }
        }
    }

    /// Does one of the Runner's own timers' work, if its run is still the
    /// alias's current one.
    pub(super) fn on_own_timer(&mut self, own_timer: OwnTimer) {
        // A turn's timer is the turn's, not one alias's.
        if let TimerPurpose::TurnDeadline(turn, key) = own_timer.kind {
            return self.turn_deadline(turn, key);
        }
        if self.running.get(&own_timer.alias).is_none_or(|r| r.run != own_timer.run) {
            return;
        }
        match own_timer.kind {
            TimerPurpose::Restart => self.restart(&own_timer.alias),
            TimerPurpose::Connect => self.try_connect(&own_timer.alias),
            TimerPurpose::TurnDeadline(..) => {}
            TimerPurpose::KillTree => self.kill_tree(&own_timer.alias),
        }
    }

    /// Hands over its own events, at most `room` and only those queued
    /// when it began (a handler that queues one each time, e.g. a turn of
    /// a bot that has ended begun at each `TurnEnded`, cannot keep it
    /// going); one of a run that a later start of its alias replaced is
    /// dropped.
    pub(super) fn hand_own_events<F>(&mut self, room: usize, handler: &mut F) -> usize
    where
        F: FnMut(&mut Runner, Event<'_>),
    {
        let mut handed = 0;
        for _ in 0..self.own_events.len() {
            if handed == room {
                break;
            }
            let Some(queued) = self.own_events.pop_front() else { break };
            // By its kind, not an empty alias: "" is an alias a user may take.
            let stale = !matches!(queued.kind, OwnEventKind::TurnEnded(..))
                && self.running.get(&queued.alias).is_some_and(|r| r.run != queued.run);
            if stale {
                continue;
            }
            handler(self, queued.event());
            handed += 1;
        }
        handed
    }
}
