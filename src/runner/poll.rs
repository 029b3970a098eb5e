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
use crate::reactor::{Handing, Lines, Reactor, ReactorEvent, poll};

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
        // Most polls have none: no call to find that out.
        let handed = match self.own_events.is_empty() {
            true => 0,
            false => self.hand_own_events(max_events, &mut handler),
        };
        if handed == max_events {
            return Ok(handed);
        }
        let timeout = if handed > 0 { Some(Duration::ZERO) } else { timeout };
        let rest = poll(
            self,
            |r| &mut r.reactor,
            timeout,
            max_events - handed,
            #[inline(always)]
            |runner, handing, room| match handing {
                // Lines are most events: a batch goes to one loop a role.
                Handing::Lines(lines) => runner.hand_lines(lines, room, &mut handler),
                Handing::Event(ReactorEvent::Data { token, data }) => match runner.tokens.get(token) {
                    Some((alias, role)) => {
                        let alias = alias.clone();
                        runner.hand_output(&alias, role, (token, data), room, &mut handler)
                    }
                    None => pass_on(runner, ReactorEvent::Data { token, data }, &mut handler),
                },
                Handing::Event(other) => runner.dispatch(other, room, &mut handler),
            },
        )?;
        Ok(handed + rest)
    }

    /// Hands over lines of a batch, at most `room`; returns how many. What
    /// they are (the alias and its role) is looked up once, and each role
    /// gets a loop of its own.
    #[inline(always)]
    fn hand_lines<F>(&mut self, lines: Lines<'_>, room: usize, handler: &mut F) -> usize
    where
        F: FnMut(&mut Runner, Event<'_>),
    {
        let token = lines.token();
        fn reactor(runner: &mut Runner) -> &mut Reactor {
            &mut runner.reactor
        }
        let kept = &mut self.handed_alias;
        let Some((alias, role)) = self.tokens.get(token).map(|(alias, role)| (own_alias(kept, alias), role))
        else {
            let hand = |r: &mut Runner, data| handler(r, Event::Reactor(ReactorEvent::Data { token, data }));
            return lines.hand_each(self, reactor, room, hand);
        };
        let handed = self.hand_lines_of(&alias, role, lines, room, handler);
        self.handed_alias = Some(alias);
        handed
    }

    /// [`hand_lines`](Self::hand_lines) of `alias`'s output from its `role`.
    #[inline(always)]
    fn hand_lines_of<F>(
        &mut self,
        alias: &Arc<str>,
        role: Role,
        mut lines: Lines<'_>,
        room: usize,
        handler: &mut F,
    ) -> usize
    where
        F: FnMut(&mut Runner, Event<'_>),
    {
        let token = lines.token();
        fn reactor(runner: &mut Runner) -> &mut Reactor {
            &mut runner.reactor
        }
        match role {
            Role::Stdout => {
                // While no turn runs no line is a reply: a loop that does not
                // ask; the rest, once one runs, one that does.
                let no_turn = |r: &Runner| r.turns.members.is_empty();
                if room > 0 && no_turn(self) {
                    // The loop below hands a line at least (a batch has
                    // one), and each ends in a newline: once a batch, not
                    // once a line, the next piece is noted to start a line.
                    self.reactor.set_mid_line(token, false);
                }
                let data = |r: &mut Runner, data| handler(r, Event::Data { alias, data });
                let handed = lines.hand_while(self, reactor, room, no_turn, data);
                if handed == room || self.turns.members.is_empty() {
                    return handed;
                }
                // (A line is never split in two events: see `hand_reply`.)
                let reply_or_data = |r: &mut Runner, data| {
                    r.hand_stdout(alias, (token, data), usize::MAX, handler);
                };
                handed + lines.hand_each(self, reactor, room - handed, reply_or_data)
            }
            Role::Stderr => {
                lines.hand_each(self, reactor, room, |r, data| handler(r, Event::Stderr { alias, data }))
            }
            _ => lines.hand_each(self, reactor, room, |r, data| handler(r, Event::Data { alias, data })),
        }
    }

    /// Hands over a piece (a line in line mode) of `alias`'s output, which
    /// comes from its `role` (channel `token`), as at most `room` events;
    /// returns how many.
    #[inline(always)]
    fn hand_output<F>(
        &mut self,
        alias: &Arc<str>,
        role: Role,
        (token, data): (Token, &[u8]),
        room: usize,
        handler: &mut F,
    ) -> usize
    where
        F: FnMut(&mut Runner, Event<'_>),
    {
        match role {
            Role::Stdout => return self.hand_stdout(alias, (token, data), room, handler),
            Role::Stderr => handler(self, Event::Stderr { alias, data }),
            _ => handler(self, Event::Data { alias, data }),
        }
        1
    }

    /// Hands over a piece of `alias`'s stdout (channel `token`): a turn's
    /// reply, or data; at most `room` events, returns how many.
    #[inline(always)]
    fn hand_stdout<F>(
        &mut self,
        alias: &Arc<str>,
        (token, data): (Token, &[u8]),
        room: usize,
        handler: &mut F,
    ) -> usize
    where
        F: FnMut(&mut Runner, Event<'_>),
    {
        let Runner { turns, reactor, .. } = self;
        let starts_line = reactor.hand_piece(token, data);
        if turns.is_reply(alias, (data, starts_line), |token| reactor.taken_of(token)) {
            return self.hand_reply(alias, (token, data), room, handler);
        }
        handler(self, Event::Data { alias, data });
        1
    }

    /// Hands over what a turn took for its reply (`Data` if the turn ended
    /// meanwhile); the bytes of the piece that came before the payload was
    /// written go first, as `Data` (in byte mode only: a pause joins them
    /// in one piece; a line is all before or all after). Returns how many
    /// events it handed: with room for one only, the reply goes back to
    /// the channel (before anything a nested poll could hand) and comes
    /// in a later poll.
    #[cold]
    fn hand_reply<F>(
        &mut self,
        alias: &Arc<str>,
        (token, data): (Token, &[u8]),
        room: usize,
        handler: &mut F,
    ) -> usize
    where
        F: FnMut(&mut Runner, Event<'_>),
    {
        let at = self.turns.take_reply_at();
        if at > 0 && room < 2 {
            self.reactor.hand_again(token, &data[at..]);
            self.reactor.set_mid_line(token, data[at - 1] != b'\n');
            handler(self, Event::Data { alias, data: &data[..at] });
            return 1;
        }
        let data = match at {
            0 => data,
            _ => {
                handler(self, Event::Data { alias, data: &data[..at] });
                &data[at..]
            }
        };
        match self.turn_output(alias) {
            Some((turn, elapsed)) => handler(self, Event::Reply { turn, alias, data, elapsed }),
            None => handler(self, Event::Data { alias, data }),
        }
        1 + usize::from(at > 0)
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

/// `alias` as a handle of its own for a handler's events: the one kept
/// from the last batch when it is the same alias, else a clone. A loop of
/// requests and replies touches no reference count then (an atomic add
/// and subtract a reply, each tens of cycles).
#[inline(always)]
fn own_alias(kept: &mut Option<Arc<str>>, alias: &Arc<str>) -> Arc<str> {
    match kept.take() {
        Some(kept) if Arc::ptr_eq(&kept, alias) => kept,
        _ => Arc::clone(alias),
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
