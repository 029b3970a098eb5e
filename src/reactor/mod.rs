//! [`Reactor`]: one `mio::Poll` over channels, servers and processes.

mod batch;
mod delivery;
mod entry;
mod event;
mod step;

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::process::Child;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll};
use slab::Slab;

use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::listener::Listener;
use crate::process::{EXIT_POLL_INTERVAL, Process};
use crate::timers::{TimerId, Timers, far_future};
use crate::token::{Side, Token, WAKER};
use crate::waker::Waker;
pub(crate) use batch::hand_lines;
pub(crate) use delivery::Delivery;
use entry::{ChannelState, Entry, Kind, ProcessState};
pub use event::ReactorEvent;
pub(crate) use event::Step;

/// The most steps one `poll_once` takes; the rest wait for the next call,
/// which then does not block. It keeps one flooding channel from holding
/// the loop. (A step in line mode may hand over a batch: the whole lines
/// of one buffer, at most one input capacity.)
const EVENT_BUDGET: usize = 1024;

/// The event loop: every registered channel's fds, every listening socket
/// and every child's pidfd in one `mio::Poll`.
///
/// `poll_once` waits once, moves ready bytes into the channels' buffers and
/// hands each event to the handler, which gets the reactor too.
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use std::time::Duration;
/// use procloop::{Channel, Reactor, ReactorEvent};
///
/// let mut reactor = Reactor::new()?;
/// let (ours, mut theirs) = UnixStream::pair()?;
/// let token = reactor.register(Channel::from_unix(ours)?)?;
/// std::io::Write::write_all(&mut theirs, b"ping")?;
///
/// let mut got = Vec::new();
/// while got.len() < 4 {
///     reactor.poll_once(Some(Duration::from_secs(5)), |reactor, event| {
///         if let ReactorEvent::Data { token, data } = event {
///             got.extend_from_slice(data);
///             reactor.channel(token).unwrap().write(b"pong").unwrap();
///         }
///     })?;
/// }
/// assert_eq!(got, b"ping");
/// # Ok::<(), procloop::Error>(())
/// ```
#[derive(Debug)]
pub struct Reactor {
    poll: Poll,
    events: Events,
    entries: Slab<Entry>,
    next_generation: u32,
    /// Entries with work to do, served round-robin.
    ready: VecDeque<Token>,
    /// The entry that gave the last event, and how many it gave in a row.
    current: Option<(Token, usize)>,
    /// Channels handed out by `channel()` since the last wait: they may
    /// have queued bytes whose write end is not watched yet.
    touched: Vec<Token>,
    /// Paused channels that stopped reading (full buffer) or hold their end
    /// of stream; looked at again before each wait.
    blocked: Vec<Token>,
    timers: Timers,
    fired: VecDeque<TimerId>,
    /// Made on first use: an eventfd a reactor that is never woken need not have.
    waker: OnceLock<Arc<mio::Waker>>,
    /// Processes without a pidfd, whose exits are found by polling.
    unwatched: Vec<Token>,
    next_exit_check: Instant,
    budget: usize,
    /// Where handed-over bytes sit while the handler runs.
    delivery: Delivery,
    /// A batch of lines being handed over.
    in_flight: Option<batch::InFlight>,
}

impl Reactor {
    /// A reactor with nothing registered.
    pub fn new() -> Result<Reactor> {
        Ok(Reactor {
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
            entries: Slab::new(),
            next_generation: 0,
            ready: VecDeque::new(),
            current: None,
            touched: Vec::new(),
            blocked: Vec::new(),
            timers: Timers::default(),
            fired: VecDeque::new(),
            waker: OnceLock::new(),
            unwatched: Vec::new(),
            next_exit_check: Instant::now(),
            budget: 0,
            delivery: Delivery::default(),
            in_flight: None,
        })
    }

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
        let token = self.next_token();
        self.watch_channel(token, &channel)?;
        let pending = channel.buffered() > 0 || channel.at_eof();
        let queued = channel.queued() > 0;
        self.insert(token, Kind::Channel(ChannelState::new(channel)));
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
        self.settle();
        self.entry(token)?.channel()?;
        let Kind::Channel(state) = self.entries.remove(token.index()).kind else { unreachable!() };
        self.unwatch_channel(&state);
        Some(state.channel)
    }

    /// The registered channel behind `token`.
    pub fn channel(&mut self, token: Token) -> Option<&mut Channel> {
        self.settle();
        let state =
            self.entries.get_mut(token.index()).filter(|e| e.generation == token.generation())?.channel()?;
        if !state.touched {
            state.touched = true;
            self.touched.push(token);
        }
        Some(&mut state.channel)
    }

    /// Drops a channel: its fds close, which takes them out of the poll.
    pub(crate) fn discard(&mut self, token: Token) {
        self.settle();
        if self.entry(token).is_some_and(|e| e.channel().is_some()) {
            self.entries.remove(token.index());
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
    /// announced by [`ReactorEvent::Accepted`].
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
        self.insert(token, Kind::Server(listener));
        Ok(token)
    }

    /// Removes a server and hands its listener back.
    pub fn remove_server(&mut self, token: Token) -> Option<Listener> {
        if !matches!(self.entry(token)?.kind, Kind::Server(_)) {
            return None;
        }
        let Kind::Server(listener) = self.entries.remove(token.index()).kind else { unreachable!() };
        self.unwatch_fd(listener.as_fd().as_raw_fd());
        Some(listener)
    }

    /// Watches a child: when it exits, the reactor reaps it and hands
    /// [`ReactorEvent::Exited`], after every byte it wrote to the
    /// `outputs` channels was handed over.
    ///
    /// On failure the child is dropped, not killed, as `std` drops it.
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use std::time::Duration;
    /// use procloop::{Channel, Reactor, ReactorEvent};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
    /// let stdout = Channel::from_pipe(Some(child.stdout.take().unwrap().into()), None)?;
    /// let output = reactor.register(stdout)?;
    /// let process = reactor.add_process(child, &[output])?;
    /// let mut seen = Vec::new();
    /// while !matches!(seen.last(), Some(&"exited")) {
    ///     reactor.poll_once(Some(Duration::from_secs(5)), |_, event| match event {
    ///         ReactorEvent::Data { .. } => seen.push("data"),
    ///         ReactorEvent::Exited { token, status } => {
    ///             assert!(token == process && status.success());
    ///             seen.push("exited");
    ///         }
    ///         _ => {}
    ///     })?;
    /// }
    /// assert_eq!(seen.first(), Some(&"data"), "the output comes before the exit");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn add_process(&mut self, child: Child, outputs: &[Token]) -> Result<Token> {
        self.add_watched_process(Process::new(child)?, outputs).map_err(|(e, _)| e)
    }

    /// As [`add_process`](Self::add_process); on failure the process comes
    /// back with the error, for the caller to kill.
    pub(crate) fn add_watched_process(
        &mut self,
        process: Process,
        outputs: &[Token],
    ) -> std::result::Result<Token, (Error, Process)> {
        let token = self.next_token();
        match process.pidfd() {
            Some(pidfd) => {
                let fd = pidfd.as_fd().as_raw_fd();
                if let Err(e) = self.watch_fd(fd, token.to_mio(Side::Main), Interest::READABLE) {
                    return Err((e, process));
                }
            }
            None => self.unwatched.push(token),
        }
        let state = ProcessState { process, outputs: outputs.to_vec(), drain_budget: None };
        self.insert(token, Kind::Process(state));
        Ok(token)
    }

    /// The watched process behind `token`, until its exit is handed over.
    pub fn process(&mut self, token: Token) -> Option<&mut Process> {
        match &mut self.entry(token)?.kind {
            Kind::Process(state) => Some(&mut state.process),
            _ => None,
        }
    }

    /// Stops watching a process and hands it back (not reaped yet, unless
    /// it was).
    pub fn remove_process(&mut self, token: Token) -> Option<Process> {
        let process = self.take_process(token)?;
        if let Some(pidfd) = process.pidfd() {
            self.unwatch_fd(pidfd.as_fd().as_raw_fd());
        }
        Some(process)
    }

    /// Removes a process for a caller that drops it: its pidfd then closes,
    /// which takes it out of the poll without a syscall of ours.
    pub(crate) fn take_process(&mut self, token: Token) -> Option<Process> {
        if !matches!(self.entry(token)?.kind, Kind::Process(_)) {
            return None;
        }
        let Kind::Process(state) = self.entries.remove(token.index()).kind else { unreachable!() };
        if !self.unwatched.is_empty() {
            self.unwatched.retain(|t| *t != token);
        }
        Some(state.process)
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
        self.settle();
        let doomed: Vec<usize> = self
            .entries
            .iter()
            .filter(|(_, e)| !matches!(e.kind, Kind::Process(_)))
            .map(|(i, _)| i)
            .collect();
        for index in doomed {
            match self.entries.remove(index).kind {
                Kind::Channel(state) => self.unwatch_channel(&state),
                Kind::Server(listener) => self.unwatch_fd(listener.as_fd().as_raw_fd()),
                Kind::Process(_) => unreachable!(),
            }
        }
    }

    /// How many channels, servers and processes are registered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A handle that wakes a waiting `poll_once` from any thread.
    pub fn waker(&self) -> Result<Waker> {
        if self.waker.get().is_none() {
            // Should two threads race here, the loser's eventfd just closes.
            let _ = self.waker.set(Arc::new(mio::Waker::new(self.poll.registry(), WAKER)?));
        }
        Ok(Waker(Arc::clone(self.waker.get().expect("set above"))))
    }

    /// Sets a one-shot timer: `poll_once` waits no longer than its deadline
    /// and then hands [`ReactorEvent::Timer`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use procloop::{Reactor, ReactorEvent};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let late = reactor.set_timer(Duration::from_millis(300));
    /// let early = reactor.set_timer(Duration::from_millis(1));
    /// let mut fired = Vec::new();
    /// while fired.len() < 2 {
    ///     reactor.poll_once(None, |_, event| {
    ///         if let ReactorEvent::Timer { id } = event {
    ///             fired.push(id);
    ///         }
    ///     })?;
    /// }
    /// assert_eq!(fired, [early, late]);
    /// assert!(!reactor.cancel_timer(early), "it fired already");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn set_timer(&mut self, after: Duration) -> TimerId {
        self.timers.set(after)
    }

    /// Cancels a timer; false if it already fired or was cancelled.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.timers.cancel(id)
    }

    /// Waits (`None`: until something happens; `Some(ZERO)`: not at all)
    /// and hands every event to `handler`. Returns how many it handed.
    ///
    /// It returns once it handed at least one event, when the timeout
    /// passes, when a [`Waker`] wakes it, or when a signal interrupts the
    /// wait (then `Ok(0)`).
    pub fn poll_once<F>(&mut self, timeout: Option<Duration>, mut handler: F) -> Result<usize>
    where
        F: FnMut(&mut Reactor, ReactorEvent<'_>),
    {
        let mut delivery = std::mem::take(&mut self.delivery);
        let result = poll_loop(
            self,
            |r| r,
            &mut delivery,
            timeout,
            |reactor, step, delivery| {
                let batch_of = match step {
                    Step::Data { token, .. } => Some(token),
                    _ => None,
                };
                handler(reactor, step.event(delivery));
                1 + batch_of.map_or(0, |token| {
                    hand_lines(
                        reactor,
                        |r| r,
                        token,
                        delivery,
                        |reactor, data| handler(reactor, ReactorEvent::Data { token, data }),
                    )
                })
            },
        );
        self.delivery = delivery;
        result
    }

    /// Waits for readiness and notes it; the first half of `poll_once`.
    /// True if a waker or a signal ended the wait.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        self.settle();
        if let Some((token, _)) = self.current.take() {
            self.ready.push_front(token);
        }
        self.requeue_unblocked();
        let nothing_ready = self.ready.is_empty() && self.fired.is_empty();
        // With only bets on the queue, a wait that may block tries them
        // before asking the kernel; if they lose, the next wait polls.
        let only_bets = self.follow_up_touched() && nothing_ready && timeout != Some(Duration::ZERO);
        let timeout = self.wait_timeout(timeout);
        let mut woken = false;
        let polled = if only_bets {
            self.events.clear();
            Ok(())
        } else {
            self.poll.poll(&mut self.events, timeout)
        };
        match polled {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                self.events.clear();
                woken = true;
            }
            Err(e) => return Err(e.into()),
        }
        let Reactor { events, entries, ready, .. } = self;
        for event in events.iter() {
            woken |= event.token() == WAKER;
            note_readiness(entries, ready, event);
        }
        let now = Instant::now();
        if !self.unwatched.is_empty() && now >= self.next_exit_check {
            self.check_unwatched_exits(now);
        }
        while let Some(id) = self.timers.pop_due(now) {
            self.fired.push_back(id);
        }
        self.budget = EVENT_BUDGET;
        Ok(woken)
    }

    fn wait_timeout(&mut self, timeout: Option<Duration>) -> Option<Duration> {
        if !self.ready.is_empty() || !self.fired.is_empty() {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        let mut limits = [timeout, self.timers.until_next(now), None];
        if !self.unwatched.is_empty() {
            limits[2] = Some(self.next_exit_check.saturating_duration_since(now));
        }
        limits.into_iter().flatten().min()
    }

    /// Finds exits of processes without a pidfd, by polling.
    fn check_unwatched_exits(&mut self, now: Instant) {
        self.next_exit_check = now + EXIT_POLL_INTERVAL;
        for token in self.unwatched.clone() {
            let exited = self.process(token).map(|p| p.try_wait());
            if let Some(Ok(Some(_)) | Err(_)) = exited {
                self.unwatched.retain(|t| *t != token);
                self.enqueue(token);
            }
        }
    }

    fn requeue_unblocked(&mut self) {
        let blocked = std::mem::take(&mut self.blocked);
        for token in blocked {
            let Some(state) = self.entry(token).and_then(|e| e.channel()) else { continue };
            let channel = &state.channel;
            // Each reason to be blocked has its own way out: a full buffer
            // that got room, an end of stream whose bytes were all read.
            let room_again = !channel.at_eof() && !channel.input_is_full();
            let closed_now = channel.at_eof() && channel.buffered() == 0;
            let unblocked = !state.paused || room_again || closed_now;
            if unblocked {
                self.enqueue(token);
            } else {
                self.blocked.push(token);
            }
        }
    }

    fn set_paused(&mut self, token: Token, paused: bool) -> bool {
        self.settle();
        let Some(state) = self.entry(token).and_then(|e| e.channel()) else { return false };
        state.paused = paused;
        self.enqueue(token);
        true
    }

    fn next_token(&mut self) -> Token {
        self.next_generation = self.next_generation.wrapping_add(1);
        Token::new(self.entries.vacant_key(), self.next_generation)
    }

    fn insert(&mut self, token: Token, kind: Kind) {
        let index = self.entries.insert(Entry::new(token.generation(), kind));
        debug_assert_eq!(index, token.index());
    }

    pub(crate) fn entry(&mut self, token: Token) -> Option<&mut Entry> {
        self.entries.get_mut(token.index()).filter(|e| e.generation == token.generation())
    }

    fn enqueue(&mut self, token: Token) {
        if let Some(entry) = self.entry(token)
            && !entry.queued
        {
            entry.queued = true;
            self.ready.push_back(token);
        }
    }

    /// Watches a channel's read side (a socket's both sides). A pipe's write
    /// end is watched only once bytes wait to be written: most writes go
    /// through at once, and each watch is a syscall per channel.
    fn watch_channel(&self, token: Token, channel: &Channel) -> Result<()> {
        let read = channel.read_fd().map(|fd| fd.as_raw_fd());
        match read {
            Some(fd) if channel.is_single_fd() => {
                self.watch_fd(fd, token.to_mio(Side::Main), Interest::READABLE | Interest::WRITABLE)
            }
            Some(fd) => self.watch_fd(fd, token.to_mio(Side::Main), Interest::READABLE),
            None => Ok(()),
        }
    }

    fn unwatch_channel(&self, state: &ChannelState) {
        let channel = &state.channel;
        if let Some(fd) = channel.read_fd() {
            self.unwatch_fd(fd.as_raw_fd());
        }
        if let Some(fd) = channel.write_fd().filter(|_| state.write_watched && !channel.is_single_fd()) {
            self.unwatch_fd(fd.as_raw_fd());
        }
    }

    /// Looks at the channels handed out since the last wait: watches the
    /// write ends that now have bytes queued, and queues a read of those not
    /// known to be readable, on the bet that an answer to what was just
    /// written is already there (a request and its reply). Returns whether
    /// it queued such a read.
    fn follow_up_touched(&mut self) -> bool {
        let mut speculated = false;
        // Taken out and put back emptied, so its memory serves every wait.
        let mut touched = std::mem::take(&mut self.touched);
        for token in touched.drain(..) {
            speculated |= self.follow_up(token);
        }
        self.touched = touched;
        speculated
    }

    /// [`follow_up_touched`](Self::follow_up_touched) for one channel; true
    /// if it queued a read.
    fn follow_up(&mut self, token: Token) -> bool {
        let mut speculated = false;
        {
            let Some(entry) = self.entry(token) else { return false };
            let readable = entry.readable;
            let Some(state) = entry.channel() else { return false };
            state.touched = false;
            if !readable && !state.paused && !state.channel.at_eof() && state.channel.read_fd().is_some() {
                entry.readable = true;
                speculated = true;
            }
        }
        if speculated {
            self.enqueue(token);
        }
        let Some(state) = self.entry(token).and_then(|e| e.channel()) else { return speculated };
        let pending = state.channel.queued() > 0 && !state.write_watched && !state.channel.is_single_fd();
        if let Some(fd) = state.channel.write_fd().filter(|_| pending).map(|fd| fd.as_raw_fd()) {
            state.write_watched = true;
            if let Err(e) = self.watch_fd(fd, token.to_mio(Side::Write), Interest::WRITABLE) {
                log::warn!("cannot watch the write end of {token:?}: {e}");
            }
        }
        speculated
    }

    fn watch_fd(&self, fd: RawFd, token: mio::Token, interest: Interest) -> Result<()> {
        Ok(self.poll.registry().register(&mut SourceFd(&fd), token, interest)?)
    }

    fn unwatch_fd(&self, fd: RawFd) {
        if let Err(e) = self.poll.registry().deregister(&mut SourceFd(&fd)) {
            log::debug!("deregister fd {fd}: {e}");
        }
    }
}

/// The loop behind every `poll_once`: wait, then dispatch each step to
/// `dispatch` (which says how many events it handed over), until at least
/// one event was handed, the timeout passed, or a waker or signal ended a
/// wait. `delivery` holds each step's bytes.
pub(crate) fn poll_loop<T>(
    owner: &mut T,
    reactor: fn(&mut T) -> &mut Reactor,
    delivery: &mut Delivery,
    timeout: Option<Duration>,
    mut dispatch: impl FnMut(&mut T, Step, &mut Delivery) -> usize,
) -> Result<usize> {
    let deadline = timeout.map(|t| Instant::now().checked_add(t).unwrap_or_else(far_future));
    let mut count = 0;
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let woken = reactor(owner).wait(left)?;
        while let Some(step) = reactor(owner).next_step(delivery) {
            count += dispatch(owner, step, delivery);
        }
        if count > 0 || woken || left.is_some_and(|l| l.is_zero()) {
            return Ok(count);
        }
    }
}

/// Records one readiness event on its entry and queues the entry.
fn note_readiness(entries: &mut Slab<Entry>, ready: &mut VecDeque<Token>, event: &mio::event::Event) {
    if event.token() == WAKER {
        return;
    }
    let (token, side) = Token::from_mio(event.token());
    let Some(entry) = entries.get_mut(token.index()).filter(|e| e.generation == token.generation()) else {
        return;
    };
    entry.writable |= event.is_writable() || (side == Side::Write && event.is_error());
    if side == Side::Main {
        entry.readable |= event.is_readable() || event.is_read_closed() || event.is_error();
        entry.hup |= event.is_read_closed();
    }
    if !entry.queued {
        entry.queued = true;
        ready.push_back(token);
    }
}

impl AsFd for Reactor {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.poll.registry().as_fd()
    }
}

impl AsRawFd for Reactor {
    fn as_raw_fd(&self) -> RawFd {
        self.poll.as_raw_fd()
    }
}
