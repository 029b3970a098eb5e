//! Turning the reactor's events into the Runner's: every reactor event
//! becomes an event for the handler (the user's own channels' as
//! [`Event::Reactor`]) except the Runner's own timers, which do their duty
//! and may leave notices; an exit's bookkeeping and restart decision are
//! done before the handler sees `Exited`, so a handler that unwinds or
//! restarts the alias by hand cannot undo them.

use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Instant;

use super::restart::Decision;
use super::running::{Duty, DutyKind, Notice, NoticeKind};
use super::tokens::Role;
use super::{Event, Runner};
use crate::reactor::ReactorEvent;
use crate::token::Token;

impl Runner {
    /// Hands `handler` the events `event` makes, at most `room` of them;
    /// returns how many.
    pub(super) fn dispatch<F>(&mut self, event: ReactorEvent<'_>, room: usize, handler: &mut F) -> usize
    where
        F: FnMut(&mut Runner, Event<'_>),
    {
        match event {
            ReactorEvent::Data { token, data } => self.hand_output(&mut None, token, data, handler),
            ReactorEvent::Closed { token } => match self.tokens.get(token) {
                Some((alias, Role::Stdout)) => {
                    let alias = alias.clone();
                    handler(self, Event::Closed { alias: &alias });
                    1
                }
                // A captured stderr's end of stream has no event of its own.
                Some(_) => 0,
                None => pass_on(self, ReactorEvent::Closed { token }, handler),
            },
            ReactorEvent::Exited { token, status } => match self.tokens.get(token) {
                Some((_, Role::Process)) => self.on_exit(token, status, room, handler),
                Some((_, Role::Abandoned)) => {
                    self.abandoned.retain(|t| *t != token);
                    self.tokens.remove(token);
                    0
                }
                Some(_) | None => pass_on(self, ReactorEvent::Exited { token, status }, handler),
            },
            ReactorEvent::Timer { id } => match self.duties.remove(&id) {
                Some(duty) => {
                    self.do_duty(duty);
                    self.hand_notices(room, handler)
                }
                None => {
                    handler(self, Event::Timer { id });
                    1
                }
            },
            other => pass_on(self, other, handler),
        }
    }

    /// Hands over a piece of an alias's output. `last` caches the alias of
    /// the token before, so the lines of a batch look it up once.
    #[inline(always)]
    pub(super) fn hand_output<F>(
        &mut self,
        last: &mut Option<(Token, Arc<str>, Role)>,
        token: Token,
        data: &[u8],
        handler: &mut F,
    ) -> usize
    where
        F: FnMut(&mut Runner, Event<'_>),
    {
        if last.as_ref().is_none_or(|(cached, ..)| *cached != token) {
            *last = self.tokens.get(token).map(|(alias, role)| (token, alias.clone(), role));
        }
        match last {
            Some((_, alias, Role::Stdout)) if self.turns.is_reply(alias, data) => {
                let alias = alias.clone();
                match self.turn_output(&alias) {
                    Some((turn, elapsed)) => {
                        handler(self, Event::Reply { turn, alias: &alias, data, elapsed })
                    }
                    None => handler(self, Event::Data { alias: &alias, data }),
                }
            }
            Some((_, alias, Role::Stderr)) => handler(self, Event::Stderr { alias, data }),
            Some((_, alias, _)) => handler(self, Event::Data { alias, data }),
            None => return pass_on(self, ReactorEvent::Data { token, data }, handler),
        }
        1
    }

    /// An alias's process exited (every byte of its output handed over):
    /// records it, decides about a restart, then hands `Exited` and what
    /// the decision says.
    fn on_exit<F>(&mut self, token: Token, status: ExitStatus, room: usize, handler: &mut F) -> usize
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
    fn do_duty(&mut self, duty: Duty) {
        if self.running.get(&duty.alias).is_none_or(|r| r.run != duty.run) {
            return;
        }
        match duty.kind {
            DutyKind::Restart => self.restart(&duty.alias),
            DutyKind::Connect => self.try_connect(&duty.alias),
            DutyKind::TurnDeadline(turn) => self.turn_deadline(&duty.alias, turn),
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

/// Hands on an event of the user's own channels and servers.
fn pass_on<F>(runner: &mut Runner, event: ReactorEvent<'_>, handler: &mut F) -> usize
where
    F: FnMut(&mut Runner, Event<'_>),
{
    handler(runner, Event::Reactor(event));
    1
}
