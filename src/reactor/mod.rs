//! [`Reactor`]: one `mio::Poll` over channels, servers and processes. This
//! file is its face: its state, timers, `poll_once`, and the poll's fd for a
//! host loop; `registry.rs` holds channels and servers, `processes.rs` the
//! children, and a poll is `wait.rs` (readiness), `fill.rs` and `step.rs`
//! (reads and the events they make, queued) and `poll.rs` (handing them).
//! `token.rs` names entries, `timers.rs` keeps the user's timers, `waker.rs`
//! wakes a waiting poll from another thread, `listener.rs` is a server.

mod deadlines;
mod entry;
mod event;
mod fill;
pub(crate) mod listener;
mod poll;
mod processes;
mod registry;
mod speculation;
mod step;
mod table;
pub(crate) mod timers;
pub(crate) mod token;
mod wait;
pub(crate) mod waker;

use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll};

use crate::error::Result;
use crate::process::Process;
use deadlines::Deadlines;
pub use event::ReactorEvent;
use poll::Queue;
pub(crate) use poll::{Handing, Lines, poll};
use table::Table;
use timers::{TimerId, Timers};
use token::{Token, WAKER};
use waker::Waker;

/// The most steps between two waits; the rest wait for the next call,
/// which then does not block. It keeps one flooding channel from holding
/// the loop. (A step reads at most once, up to the channel's input
/// capacity; in line mode that may make many events, one a line.)
const EVENT_BUDGET: usize = 1024;

/// The most bytes read between two waits (give or take a fill's last
/// steps): channels that stay readable (a socket holds more than a read
/// takes) cannot keep a channel that became readable since the last wait
/// from being noticed while 1,024 steps of theirs (64 MiB) are handed.
const READ_BUDGET: usize = 1024 * 1024;

/// The event loop: every registered channel's fds, every listening socket
/// and every child's pidfd in one `mio::Poll`.
///
/// `poll_once` waits when no event is queued, reads what is ready into
/// one scratch buffer, queues the events it makes, and hands each to the
/// handler, which gets the reactor too (and may poll again: a nested
/// `poll_once` hands the same queue on).
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
    entries: Table,
    /// Entries with work to do, served round-robin.
    ready: VecDeque<Token>,
    /// Events ready to be handed over, in order.
    queue: Queue,
    /// The bytes of the queued `Data` events: one scratch buffer for the
    /// loop, reused by each fill (a new one if a handler still holds it).
    arena: Arc<Vec<u8>>,
    /// Channels lent by `channel()` since the last wait: they may
    /// have queued bytes whose write end is not watched yet.
    lent: Vec<Token>,
    /// Paused channels that stopped reading (full buffer) or hold their end
    /// of stream; looked at again before each wait.
    blocked: Vec<Token>,
    timers: Timers,
    /// Timers that came due, to be handed over (unless cancelled first).
    fired: VecDeque<TimerId>,
    /// The reactor's own deadlines: SIGKILLs, accept retries.
    deadlines: Deadlines,
    /// Made on first use: an eventfd a reactor that is never woken need not have.
    waker: OnceLock<Arc<mio::Waker>>,
    /// Processes without a pidfd, whose exits are found by polling.
    unwatched: Vec<Token>,
    next_exit_check: Instant,
    /// When the last wait ended, where something timed was pending then.
    woke_at: Option<Instant>,
    budget: usize,
    /// Bytes left to read until the next wait ([`READ_BUDGET`]).
    read_budget: usize,
    /// The process whose exit was handed over last, until the next wait:
    /// its handler may take it back with `remove_process`.
    exited: Option<(Token, Process)>,
}

impl Reactor {
    /// A reactor with nothing registered.
    pub fn new() -> Result<Reactor> {
        Ok(Reactor {
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
            entries: Table::default(),
            ready: VecDeque::new(),
            queue: Queue::default(),
            arena: Arc::new(Vec::new()),
            lent: Vec::new(),
            blocked: Vec::new(),
            timers: Timers::default(),
            fired: VecDeque::new(),
            deadlines: Deadlines::default(),
            waker: OnceLock::new(),
            unwatched: Vec::new(),
            next_exit_check: Instant::now(),
            woke_at: None,
            budget: 0,
            read_budget: 0,
            exited: None,
        })
    }

    /// How many channels, servers and processes are registered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.len() == 0
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

    /// Cancels a timer; false if it was handed over already or was
    /// cancelled. A timer that came due in this `poll_once` but was not
    /// handed over yet is cancelled: it won't be handed over.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.timers.cancel(id)
    }

    /// When `poll_once` has something to do next without any fd becoming
    /// ready: now if events are waiting, else the earliest timer (or the
    /// reactor's own deadline: a stopped process's SIGKILL, a poll for an
    /// exit where there is no pidfd); `None` if only fds can wake it. For a
    /// host loop that waits on the reactor's fd: call `poll_once` with a
    /// zero timeout when the fd is readable or this instant has come.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let busy = !self.ready.is_empty() || !self.fired.is_empty() || !self.lent.is_empty();
        if busy || !self.queue.is_empty() {
            return Some(Instant::now());
        }
        self.own_deadline()
    }

    /// Waits (`None`: until something happens; `Some(ZERO)`: not at all)
    /// and hands every event to `handler`. Returns how many it handed.
    /// Channels that keep giving are read up to about 1 MiB a call; what
    /// they have beyond waits for the next call, which then does not block.
    ///
    /// It returns once it handed at least one event, when the timeout
    /// passes, when a [`Waker`] wakes it, or when a signal interrupts the
    /// wait (then `Ok(0)`). With `None` and nothing that could ever produce
    /// an event (no channel, server, process or timer, and no waker made),
    /// it returns `Ok(0)` at once instead of waiting for ever.
    pub fn poll_once<F>(&mut self, timeout: Option<Duration>, handler: F) -> Result<usize>
    where
        F: FnMut(&mut Reactor, ReactorEvent<'_>),
    {
        self.poll_once_max(timeout, usize::MAX, handler)
    }

    /// As [`poll_once`](Self::poll_once), handing over at most `max_events`
    /// events; the rest wait for the next call, which then does not block.
    /// (A cap of zero is taken as one.)
    ///
    /// ```
    /// use std::time::Duration;
    /// use procloop::{Reactor, testing::TestChannel};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let (channel, mut peer) = TestChannel::pair();
    /// reactor.register(channel.line_buffered())?;
    /// peer.put(b"1\n2\n3\n");
    /// let mut lines = 0;
    /// while lines < 3 {
    ///     let handed = reactor.poll_once_max(Some(Duration::from_secs(5)), 2, |_, _| lines += 1)?;
    ///     assert!(handed <= 2);
    /// }
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn poll_once_max<F>(
        &mut self,
        timeout: Option<Duration>,
        max_events: usize,
        mut handler: F,
    ) -> Result<usize>
    where
        F: FnMut(&mut Reactor, ReactorEvent<'_>),
    {
        poll(
            self,
            |r| r,
            timeout,
            max_events.max(1),
            |reactor, handing, room| match handing {
                Handing::Event(event) => {
                    handler(reactor, event);
                    1
                }
                Handing::Lines(lines) => {
                    let token = lines.token();
                    lines.hand_each(
                        reactor,
                        |r| r,
                        room,
                        |r, data| handler(r, ReactorEvent::Data { token, data }),
                    )
                }
            },
        )
    }

    fn next_token(&mut self) -> Token {
        Token::new(self.entries.vacant(), token::next_generation())
    }

    fn enqueue(&mut self, token: Token) {
        if let Some(entry) = self.entries.get(token)
            && !entry.queued
        {
            entry.queued = true;
            self.ready.push_back(token);
        }
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
