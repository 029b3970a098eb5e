//! The Runner's own side of its events: an exit's bookkeeping and restart
//! decision, done before the handler sees `Exited` (so a handler that
//! unwinds or restarts the alias by hand cannot undo them); its own timers'
//! work; and the notices it hands over.

use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Instant;

use super::restart::Decision;
use super::running::{Duty, DutyKind, Notice, NoticeKind};
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
        // A child's tree lives as long as the child.
        if let Some(leaf) = running.leaf.as_mut()
            && let Err(e) = leaf.kill()
        {
            log::warn!("killing what is left of {alias}'s tree in {}: {e}", leaf.dir().display());
        }
        if let Some(timer) = running.tree_kill.take() {
            self.reactor.cancel_timer(timer); // killed already, just above
            self.duties.remove(&timer);
        }
        if let Some(mut connecting) = running.connecting.take() {
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
            return self.hand_notices(room, handler);
        }
        self.decide_restart(&alias, status, false);
        self.turn_exit(&alias);
        handler(self, Event::Exited { alias: &alias, status });
        1 + self.hand_notices(room - 1, handler)
    }

    /// Applies the app's restart policy to an exit: a restart timer, or a
    /// `GaveUp` notice. A stopped alias stays as it is. A `failed_run` (a
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
                self.duties.insert(timer, Duty { alias: alias.clone(), run, kind: DutyKind::Restart });
            }
            Decision::Stay | Decision::GiveUp => {
                self.notices.push_back(Notice {
                    alias: alias.clone(),
                    run,
                    kind: NoticeKind::GaveUp(status),
                });
            }
        }
    }

    /// Does one of the Runner's own timers' work, if its run is still the
    /// alias's current one.
    pub(super) fn do_duty(&mut self, duty: Duty) {
        if self.running.get(&duty.alias).is_none_or(|r| r.run != duty.run) {
            return;
        }
        match duty.kind {
            DutyKind::Restart => self.restart(&duty.alias),
            DutyKind::Connect => self.try_connect(&duty.alias),
            DutyKind::TurnDeadline(turn) => self.turn_deadline(&duty.alias, turn),
            DutyKind::KillTree => self.kill_tree(&duty.alias),
        }
    }

    /// Hands over waiting notices, at most `room`; a notice of a run that
    /// a later start of its alias replaced is dropped.
    pub(super) fn hand_notices<F>(&mut self, room: usize, handler: &mut F) -> usize
    where
        F: FnMut(&mut Runner, Event<'_>),
    {
        let mut handed = 0;
        while handed < room {
            let Some(notice) = self.notices.pop_front() else { break };
            let stale = !notice.alias.is_empty()
                && self.running.get(&notice.alias).is_some_and(|r| r.run != notice.run);
            if stale {
                continue;
            }
            handler(self, notice.event());
            handed += 1;
        }
        handed
    }
}
