//! Channels and servers in the reactor: registering them (their fds into
//! the poll), handing them out, pausing and resuming their input, removing
//! and closing them.

use std::os::fd::{AsFd, AsRawFd, RawFd};

use mio::Interest;
use mio::unix::SourceFd;

use super::Reactor;
use super::entry::{ChannelState, Kind, READ, WRITE, Watched};
use super::listener::Listener;
use super::token::{Side, Token};
use crate::channel::Channel;
use crate::error::Result;

impl Reactor {
    /// Registers a channel; its input now arrives as events.
    ///
    /// ```
    /// use procloop::{Reactor, testing::TestChannel};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let (channel, _peer) = TestChannel::pair();
    /// let token = reactor.register(channel)?;
    /// assert!(reactor.channel(token).is_some());
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn register(&mut self, channel: Channel) -> Result<Token> {
        // A channel closed through its handle since the last wait may still
        // have a borrowed fd (perhaps this very one) in the poll.
        for token in self.lent.clone() {
            self.unwatch_closed_fds(token);
        }
        let token = self.next_token();
        let mut state = ChannelState::new(channel);
        self.watch_channel(token, &mut state)?;
        let channel = &state.channel;
        let pending = channel.buffered() > 0 || channel.at_eof();
        let queued = channel.queued() > 0;
        self.entries.insert(token, Kind::Channel(state));
        if pending {
            self.enqueue(token);
        }
        if queued {
            self.channel(token); // bytes queued before registering get their write end watched
        }
        Ok(token)
    }

    /// Removes a channel and hands it back, with any bytes still buffered;
    /// `None` for an unknown or stale token (or one that is not a channel).
    ///
    /// ```
    /// use procloop::{Reactor, testing::TestChannel};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let (channel, _peer) = TestChannel::pair();
    /// let token = reactor.register(channel)?;
    /// let channel = reactor.unregister(token).expect("registered");
    /// assert!(reactor.unregister(token).is_none(), "a token never answers twice");
    /// # drop(channel);
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn unregister(&mut self, token: Token) -> Option<Channel> {
        self.touch_channel(token)?;
        let Kind::Channel(mut state) = self.entries.remove(token)?.kind else { return None };
        self.unwatch_channel(&mut state);
        Some(state.channel)
    }

    /// The registered channel behind `token`.
    pub fn channel(&mut self, token: Token) -> Option<&mut Channel> {
        self.take_back_queued(token);
        let Reactor { entries, lent, .. } = self;
        let state = entries.channel(token)?;
        if !state.lent {
            state.lent = true;
            lent.push(token);
        }
        Some(&mut state.channel)
    }

    /// How the channel behind `token` hands over its input, looked at
    /// without touching the channel (its queued events stay queued).
    pub(crate) fn buffering_of(&self, token: Token) -> Option<crate::Buffering> {
        match &self.entries.peek(token)?.kind {
            Kind::Channel(state) => Some(state.channel.buffering()),
            _ => None,
        }
    }

    /// What `read` has taken of the channel behind `token` so far, looked
    /// at without touching the channel.
    pub(crate) fn taken_of(&self, token: Token) -> Option<u64> {
        match &self.entries.peek(token)?.kind {
            Kind::Channel(state) => Some(state.channel.taken()),
            _ => None,
        }
    }

    /// Notes `piece` of the channel behind `token` as handed over by a
    /// Runner's loop; whether it starts a line (see
    /// [`Channel::hand_piece`]). True for a token that is no channel.
    #[inline]
    pub(crate) fn hand_piece(&mut self, token: Token, piece: &[u8]) -> bool {
        self.entries.channel(token).is_none_or(|state| state.channel.hand_piece(piece))
    }

    /// Notes that the next piece of `token`'s channel continues a line
    /// (`true`) or starts one (`false`).
    #[inline]
    pub(crate) fn set_mid_line(&mut self, token: Token, mid_line: bool) {
        if let Some(state) = self.entries.channel(token) {
            state.channel.set_mid_line(mid_line);
        }
    }

    /// Drops a channel: its fds close, which takes them out of the poll.
    pub(crate) fn discard(&mut self, token: Token) {
        if self.touch_channel(token).is_some() {
            self.entries.remove(token);
        }
    }

    /// Stops handing over `token`'s input as events: it is buffered (up to
    /// the channel's input capacity, then the fd is left alone until
    /// `read()` drains it) for `channel(token).read()`. False for an
    /// unknown token.
    ///
    /// ```
    /// use std::time::Duration;
    /// use procloop::{Reactor, testing::TestChannel};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let (channel, mut peer) = TestChannel::pair();
    /// let token = reactor.register(channel)?;
    /// reactor.pause(token);
    /// peer.put(b"later");
    /// while reactor.channel(token).unwrap().buffered() < 5 {
    ///     reactor.poll_once(Some(Duration::from_millis(10)), |_, e| panic!("paused: {e:?}"))?;
    /// }
    /// assert_eq!(reactor.channel(token).unwrap().read()?, b"later");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn pause(&mut self, token: Token) -> bool {
        self.set_paused(token, true)
    }

    /// Hands `token`'s input over as events again, starting with what was
    /// buffered while paused.
    pub fn resume(&mut self, token: Token) -> bool {
        self.set_paused(token, false)
    }

    /// Accepts clients of `listener`: each becomes a registered channel,
    /// announced by [`ReactorEvent::Accepted`](crate::ReactorEvent::Accepted).
    ///
    /// ```
    /// use std::net::{TcpListener, TcpStream};
    /// use std::time::Duration;
    /// use procloop::{Reactor, ReactorEvent};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let server = reactor.add_server(listener)?;
    /// let _client = TcpStream::connect(addr)?;
    /// let mut accepted = None;
    /// while accepted.is_none() {
    ///     reactor.poll_once(Some(Duration::from_secs(5)), |_, event| {
    ///         if let ReactorEvent::Accepted { server: s, client, .. } = event {
    ///             assert_eq!(s, server);
    ///             accepted = Some(client);
    ///         }
    ///     })?;
    /// }
    /// assert!(reactor.channel(accepted.unwrap()).is_some());
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn add_server(&mut self, listener: impl Into<Listener>) -> Result<Token> {
        let listener = listener.into();
        listener.set_nonblocking()?;
        let token = self.next_token();
        self.watch_fd(listener.as_fd().as_raw_fd(), token.to_mio(Side::Main), Interest::READABLE)?;
        self.entries.insert(token, Kind::Server(listener));
        Ok(token)
    }

    /// Removes a server and hands its listener back.
    pub fn remove_server(&mut self, token: Token) -> Option<Listener> {
        if !matches!(self.entries.get(token)?.kind, Kind::Server(_)) {
            return None;
        }
        let Kind::Server(listener) = self.entries.remove(token)?.kind else { return None };
        self.unwatch_fd(listener.as_fd().as_raw_fd());
        Some(listener)
    }

    /// Closes every channel and server (processes stay watched).
    ///
    /// ```
    /// use procloop::{Reactor, testing::TestChannel};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let (channel, mut peer) = TestChannel::pair();
    /// reactor.register(channel)?;
    /// reactor.close_all();
    /// assert!(reactor.is_empty());
    /// assert_eq!(peer.get(), b"", "the peer reads end of stream");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn close_all(&mut self) {
        self.close_where(|_| true);
    }

    /// Closes every channel and server whose token `doomed` picks.
    pub(crate) fn close_where(&mut self, doomed: impl Fn(Token) -> bool) {
        let picked =
            self.entries.tokens_where(|token, e| !matches!(e.kind, Kind::Process(_)) && doomed(token));
        for token in picked {
            self.touch_channel(token);
            let Some(entry) = self.entries.remove(token) else { continue };
            match entry.kind {
                Kind::Channel(mut state) => self.unwatch_channel(&mut state),
                Kind::Server(listener) => self.unwatch_fd(listener.as_fd().as_raw_fd()),
                Kind::Process(_) => {}
            }
        }
    }

    fn set_paused(&mut self, token: Token, paused: bool) -> bool {
        let Some(state) = self.touch_channel(token) else { return false };
        state.paused = paused;
        self.enqueue(token);
        true
    }

    /// Watches a channel's read side (a socket's both sides). A pipe's write
    /// end is watched only once bytes wait to be written: most writes go
    /// through at once, and each watch is a syscall per channel.
    fn watch_channel(&self, token: Token, state: &mut ChannelState) -> Result<()> {
        let channel = &state.channel;
        let Some(fd) = channel.read_fd().map(|fd| fd.as_raw_fd()) else { return Ok(()) };
        let interest =
            if channel.is_single_fd() { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
        self.watch_fd(fd, token.to_mio(Side::Main), interest)?;
        state.watched[READ] = Some(Watched { fd, borrowed: channel.is_borrowed() });
        Ok(())
    }

    /// Watches a pipe's write end, once bytes wait to be written.
    pub(crate) fn watch_write_end(&mut self, token: Token) {
        let Reactor { entries, poll, .. } = self;
        let Some(state) = entries.channel(token) else { return };
        let channel = &state.channel;
        if state.watched[WRITE].is_some() || channel.is_single_fd() || channel.queued() == 0 {
            return;
        }
        let Some(fd) = channel.write_fd().map(|fd| fd.as_raw_fd()) else { return };
        match poll.registry().register(&mut SourceFd(&fd), token.to_mio(Side::Write), Interest::WRITABLE) {
            Ok(()) => state.watched[WRITE] = Some(Watched { fd, borrowed: channel.is_borrowed() }),
            Err(e) => log::warn!("cannot watch the write end of {token:?}: {e}"),
        }
    }

    /// Takes out of the poll the fds a channel closed since they were
    /// watched (`close`, `close_write`): a borrowed one stays open, so the
    /// kernel keeps it in the poll, where registering it again would fail.
    /// An owned one left the poll when it closed.
    pub(crate) fn unwatch_closed_fds(&mut self, token: Token) {
        let Some(state) = self.entries.channel(token) else { return };
        for fd in forget_closed_fds(state).into_iter().flatten() {
            self.unwatch_fd(fd);
        }
    }

    /// Takes a channel's fds out of the poll: those still open, and the
    /// borrowed ones it closed.
    fn unwatch_channel(&self, state: &mut ChannelState) {
        let open = [state.channel.read_fd(), state.channel.write_fd()].map(|fd| fd.map(|fd| fd.as_raw_fd()));
        for (side, watched) in state.watched.iter_mut().enumerate() {
            let Some(w) = watched.take() else { continue };
            if w.borrowed || open[side] == Some(w.fd) {
                self.unwatch_fd(w.fd);
            }
        }
    }
}

/// Forgets the watched fds the channel closed since; returns the borrowed
/// ones among them, which the caller takes out of the poll. It runs for each
/// channel lent since the last wait (each request's write), so the usual
/// case, nothing closed, is a compare of two fds and no more.
#[inline]
pub(super) fn forget_closed_fds(state: &mut ChannelState) -> [Option<RawFd>; 2] {
    let channel = &state.channel;
    let open = [channel.read_fd(), channel.write_fd()].map(|fd| fd.map(|fd| fd.as_raw_fd()));
    let mut borrowed = [None; 2];
    for (side, watched) in state.watched.iter_mut().enumerate() {
        if let Some(w) = *watched
            && open[side] != Some(w.fd)
        {
            *watched = None;
            borrowed[side] = w.borrowed.then_some(w.fd);
        }
    }
    borrowed
}
