//! The Runner's `poll_once`: its own events first, then the reactor's
//! events, each turned into the Runner's (the user's own channels' as
//! [`Event::Reactor`]); the Runner's own timers do their work instead, and
//! an exit gets its bookkeeping (`bookkeeping.rs`) before it is handed.

use std::sync::Arc;
use std::time::Duration;

use super::tokens::Role;
use super::{Event, Runner};
use crate::error::Result;
use crate::reactor::token::Token;
use crate::reactor::{ReactorEvent, poll};

/// The alias of the token that gave the last piece of output, so a run of
/// lines of one channel looks it up once. Kept by the `poll_once` frame,
/// not the Runner: a handler that unwinds drops it, and a token's alias
/// never changes.
type LastAlias = Option<(Token, Arc<str>, Role)>;

impl Runner {
    /// Waits (`None`: until something happens; `Some(ZERO)`: not at all)
    /// and hands every event to `handler`; returns how many it handed.
    ///
    /// With `None` and nothing that could ever produce an event (no
    /// process, channel, server or timer, and no waker made), it returns
    /// `Ok(0)` at once instead of waiting for ever.
    pub fn poll_once<F>(&mut self, timeout: Option<Duration>, handler: F) -> Result<usize>
    where
        F: FnMut(&mut Runner, Event<'_>),
    {
        self.poll_once_max(timeout, usize::MAX, handler)
    }

    /// As [`poll_once`](Self::poll_once), handing over at most `max_events`
    /// events; the rest wait for the next call, which then does not block.
    /// (A cap of zero is taken as one.)
    pub fn poll_once_max<F>(
        &mut self,
        timeout: Option<Duration>,
        max_events: usize,
        mut handler: F,
    ) -> Result<usize>
    where
        F: FnMut(&mut Runner, Event<'_>),
    {
        self.owned()?;
        let max_events = max_events.max(1);
        let handed = self.hand_own_events(max_events, &mut handler);
        if handed == max_events {
            return Ok(handed);
        }
        let timeout = if handed > 0 { Some(Duration::ZERO) } else { timeout };
        let mut last: LastAlias = None;
        let rest = poll(
            self,
            |r| &mut r.reactor,
            timeout,
            max_events - handed,
            #[inline(always)]
            |runner, event, room| match event {
                // Output is most events: its path stays inline in the loop.
                ReactorEvent::Data { token, data } => {
                    runner.hand_output(&mut last, token, data, &mut handler)
                }
                other => runner.dispatch(other, room, &mut handler),
            },
        )?;
        Ok(handed + rest)
    }

    /// Hands over a piece of an alias's output.
    #[inline(always)]
    fn hand_output<F>(&mut self, last: &mut LastAlias, token: Token, data: &[u8], handler: &mut F) -> usize
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
            None => handler(self, Event::Reactor(ReactorEvent::Data { token, data })),
        }
        1
    }

    /// Hands `handler` the events a reactor event other than output makes,
    /// at most `room` of them; returns how many.
    fn dispatch<F>(&mut self, event: ReactorEvent<'_>, room: usize, handler: &mut F) -> usize
    where
        F: FnMut(&mut Runner, Event<'_>),
    {
        match event {
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
            ReactorEvent::Timer { id } => match self.own_timers.remove(&id) {
                Some(own_timer) => {
                    self.on_own_timer(own_timer);
                    self.hand_own_events(room, handler)
                }
                None => {
                    handler(self, Event::Timer { id });
                    1
                }
            },
            other => pass_on(self, other, handler),
        }
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
