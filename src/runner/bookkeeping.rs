//! The Runner's own side of its events: an exit's bookkeeping and restart
//! decision, done before the handler sees `Exited` (so a handler that
//! unwinds or restarts the alias by hand cannot undo them); its own timers'
//! work; and the notices it hands over.

use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Instant;

use super::running::{Duty, DutyKind, Notice, NoticeKind};
use super::{Event, Runner};
use crate::error::Error;
use crate::token::Token;

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
        running.ended = ended;
        if let Some(connecting) = running.connecting.take() {
            let error = Error::SocketAppExited { path: connecting.path, status };
            self.start_failed(&alias, error);
            return self.hand_notices(room, handler);
        }
        self.decide_restart(&alias, status);
        handler(self, Event::Exited { alias: &alias, status });
        1 + self.hand_notices(room - 1, handler)
    }

    /// Applies the app's restart policy to an exit: a restart timer, or a
    /// `GaveUp` notice. A stopped alias stays as it is.
    fn decide_restart(&mut self, alias: &Arc<str>, status: ExitStatus) {
        let Some(running) = self.running.get_mut(alias) else { return };
        let run = running.run;
        let Some(origin) = running.origin.as_mut().filter(|_| !running.stopped) else { return };
        let Some(app) = self.apps.get(&origin.app) else { return };
        match app.restart.decide(status, &mut origin.restart, Instant::now()) {
            super::restart::Decision::Stay => {}
            super::restart::Decision::RestartAfter(delay) => {
                let timer = self.reactor.set_timer(delay);
                origin.restart.pending = Some(timer);
                self.duties.insert(timer, Duty { alias: alias.clone(), run, kind: DutyKind::Restart });
            }
            super::restart::Decision::GiveUp => {
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
            if self.running.get(&notice.alias).is_some_and(|r| r.run != notice.run) {
                continue;
            }
            handler(self, notice.event());
            handed += 1;
        }
        handed
    }
}
