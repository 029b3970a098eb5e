//! [`ReactorView`]: the Runner's reactor, lent for channels and servers of
//! the user's own. It has no `poll_once` (the Runner's loop is the one
//! loop: a second one would swallow the Runner's events) and it cannot
//! reach the Runner's own channels and processes.

use std::time::Duration;

use super::tokens::Tokens;
use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::reactor::Reactor;
use crate::reactor::listener::Listener;
use crate::reactor::timers::TimerId;
use crate::reactor::token::Token;

/// The reactor under a [`Runner`](crate::Runner), as
/// [`Runner::reactor`](crate::Runner::reactor) lends it: what you register
/// here hands its events to the Runner's handler as
/// [`Event::Reactor`](crate::Event::Reactor).
#[derive(Debug)]
pub struct ReactorView<'a> {
    reactor: &'a mut Reactor,
    tokens: &'a Tokens,
    /// The Runner's owner, when this is a forked copy of it: nothing of
    /// the reactor may be touched then.
    forked_from: Option<u32>,
}

impl<'a> ReactorView<'a> {
    pub(super) fn new(
        reactor: &'a mut Reactor,
        tokens: &'a Tokens,
        forked_from: Option<u32>,
    ) -> ReactorView<'a> {
        ReactorView { reactor, tokens, forked_from }
    }

    fn owned(&self) -> Result<()> {
        self.forked_from.map_or(Ok(()), |owner| Err(Error::ForkedCopy { owner }))
    }

    /// Registers a channel (see [`Reactor::register`]).
    pub fn register(&mut self, channel: Channel) -> Result<Token> {
        self.owned()?;
        self.reactor.register(channel)
    }

    /// Removes a channel of yours and hands it back; `None` for a token
    /// that is not one of yours.
    pub fn unregister(&mut self, token: Token) -> Option<Channel> {
        self.yours(token)?;
        self.reactor.unregister(token)
    }

    /// A channel of yours.
    pub fn channel(&mut self, token: Token) -> Option<&mut Channel> {
        self.yours(token)?;
        self.reactor.channel(token)
    }

    /// Buffers a channel's input instead of handing it over (see
    /// [`Reactor::pause`]); false for a token that is not one of yours.
    pub fn pause(&mut self, token: Token) -> bool {
        self.yours(token).is_some() && self.reactor.pause(token)
    }

    /// Hands a paused channel's input over again.
    pub fn resume(&mut self, token: Token) -> bool {
        self.yours(token).is_some() && self.reactor.resume(token)
    }

    /// Accepts clients of `listener` (see [`Reactor::add_server`]).
    pub fn add_server(&mut self, listener: impl Into<Listener>) -> Result<Token> {
        self.owned()?;
        self.reactor.add_server(listener)
    }

    /// Removes a server and hands its listener back.
    pub fn remove_server(&mut self, token: Token) -> Option<Listener> {
        self.yours(token)?;
        self.reactor.remove_server(token)
    }

    /// Closes every channel and server of yours (the Runner's stay).
    pub fn close_all(&mut self) {
        if self.owned().is_err() {
            return;
        }
        let tokens = self.tokens;
        self.reactor.close_where(|token| !tokens.owns(token));
    }

    /// Sets a timer (see [`Reactor::set_timer`]).
    pub fn set_timer(&mut self, after: Duration) -> TimerId {
        self.reactor.set_timer(after)
    }

    /// Cancels a timer.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.reactor.cancel_timer(id)
    }

    fn yours(&self, token: Token) -> Option<()> {
        (!self.tokens.owns(token) && self.forked_from.is_none()).then_some(())
    }
}
