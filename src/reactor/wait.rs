//! The first half of `poll_once`: waiting for readiness (bounded by the
//! caller's timeout, the timers and the reactor's own deadlines) and noting
//! it on the entries, which then queue for their steps.

use std::io;
use std::time::{Duration, Instant};

use super::Reactor;
use super::deadlines::Deadline;
use super::entry::{Kind, WRITE};
use super::registry::forget_closed_fds;
use super::token::{Side, Token, WAKER};
use crate::error::Result;
use crate::process::EXIT_POLL_INTERVAL;

/// How a wait ended, besides the readiness it noted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WaitEnd {
    /// Readiness or the timeout (or nothing to wait for yet).
    Ready,
    /// A waker or a signal: `poll_once` returns even without events.
    Interrupted,
    /// Nothing registered could ever produce an event, and the caller
    /// would have waited for ever: `poll_once` returns `Ok(0)` at once.
    Idle,
}

impl Reactor {
    /// Waits for readiness and notes it.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) -> Result<WaitEnd> {
        self.exited = None;
        self.requeue_unblocked();
        let nothing_ready = self.ready.is_empty() && self.fired.is_empty();
        let speculated = self.follow_up_lent();
        // After the follow-ups: a channel they queue was not spent, so the
        // answer is the same, and a queued one answers it at its first look.
        if timeout.is_none() && self.is_idle() {
            return Ok(WaitEnd::Idle);
        }
        // With only speculative reads to do, a wait that may block tries
        // them before asking the kernel; if they find nothing, the next
        // wait polls.
        let only_speculative = speculated && nothing_ready && timeout != Some(Duration::ZERO);
        let timeout = self.wait_timeout(timeout);
        let mut wait_end = WaitEnd::Ready;
        let polled = if only_speculative {
            self.events.clear();
            Ok(())
        } else {
            self.poll.poll(&mut self.events, timeout)
        };
        match polled {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                self.events.clear();
                wait_end = WaitEnd::Interrupted;
            }
            Err(e) => return Err(e.into()),
        }
        let Reactor { events, entries, ready, .. } = self;
        for event in events.iter() {
            if event.token() == WAKER {
                wait_end = WaitEnd::Interrupted;
                continue;
            }
            let (token, side) = Token::from_mio(event.token());
            let Some(entry) = entries.for_readiness(token) else { continue };
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
        self.after_wait();
        Ok(wait_end)
    }

    /// When the last wait ended, if the clock was read then: a reply
    /// handed over since sat readable for at most the time from then.
    /// A turn always has a timer, so the clock was read at every wait
    /// that could bring a reply.
    pub(crate) fn woke_at(&self) -> Option<Instant> {
        self.woke_at
    }

    /// What comes due with time: exits found by polling, its own
    /// deadlines, timers. The clock is read only when one of those is
    /// pending: a loop of requests and replies reads none (a clock read is
    /// about 30 ns here, a round trip through `cat` 7 µs).
    fn after_wait(&mut self) {
        self.budget = super::EVENT_BUDGET;
        self.read_budget = super::READ_BUDGET;
        let timed = !self.unwatched.is_empty() || !self.deadlines.is_empty() || !self.timers.is_empty();
        self.woke_at = timed.then(Instant::now);
        let Some(now) = self.woke_at else { return };
        if !self.unwatched.is_empty() && now >= self.next_exit_check {
            self.check_unwatched_exits(now);
        }
        while let Some((token, deadline)) = self.deadlines.pop_due(now) {
            self.on_deadline(token, deadline, now);
        }
        // Without a live timer none is due (cancelled ones are swept out by
        // the next `set_timer` or pop).
        while !self.timers.is_empty()
            && let Some(id) = self.timers.pop_due(now)
        {
            self.fired.push_back(id);
        }
    }

    fn on_deadline(&mut self, token: Token, deadline: Deadline, now: Instant) {
        match deadline {
            Deadline::Sigkill => {
                if let Some(process) = self.process(token) {
                    process.kill_if_due(now);
                }
            }
            Deadline::RetryAccept => self.enqueue(token),
        }
    }

    /// Whether nothing registered could ever produce an event: no process,
    /// server or timer, no waker made, nothing queued, and every channel
    /// spent (its `Closed` was handed over, or it is paused at end of
    /// stream, or it is write-only, and it has nothing left to write).
    /// Then `poll_once(None)` returns `Ok(0)` at once.
    pub fn is_idle(&self) -> bool {
        // What a busy loop has first: it is asked before every wait.
        self.ready.is_empty()
            && self.fired.is_empty()
            && self.queue.is_empty()
            && self.timers.is_empty()
            && self.waker.get().is_none()
            && self.entries.iter().all(|entry| entry.is_spent())
    }

    /// How long the wait may block: not at all with work queued (the
    /// usual case in a busy loop, inlined), else until the caller's timeout
    /// or the earliest deadline.
    #[inline]
    fn wait_timeout(&mut self, timeout: Option<Duration>) -> Option<Duration> {
        if !self.ready.is_empty() || !self.fired.is_empty() {
            return Some(Duration::ZERO);
        }
        self.blocking_timeout(timeout)
    }

    #[inline(never)]
    fn blocking_timeout(&mut self, timeout: Option<Duration>) -> Option<Duration> {
        let now = Instant::now();
        let own = self.own_deadline().map(|at| at.saturating_duration_since(now));
        [timeout, own].into_iter().flatten().min()
    }

    /// The earliest of the timers, its own deadlines and the next exit check.
    pub(crate) fn own_deadline(&mut self) -> Option<Instant> {
        let exit_check = (!self.unwatched.is_empty()).then_some(self.next_exit_check);
        [self.timers.next_deadline(), self.deadlines.next(), exit_check].into_iter().flatten().min()
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
        if self.blocked.is_empty() {
            return;
        }
        let blocked = std::mem::take(&mut self.blocked);
        for token in blocked {
            let Some(state) = self.entries.channel(token) else { continue };
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

    /// Looks at the channels lent since the last wait: watches the
    /// write ends that now have bytes queued, and queues a read of those not
    /// known to be readable, speculating that an answer to what was just
    /// written is already there (a request and its reply). Returns whether
    /// it queued such a read.
    fn follow_up_lent(&mut self) -> bool {
        let mut speculated = false;
        // By index, then cleared: the list keeps its memory for every wait.
        let mut i = 0;
        while let Some(&token) = self.lent.get(i) {
            speculated |= self.follow_up(token);
            i += 1;
        }
        self.lent.clear();
        speculated
    }

    /// [`follow_up_lent`](Self::follow_up_lent) for one channel; true
    /// if it queued a read. One look-up of the entry: this runs for every
    /// request a channel's handle wrote.
    fn follow_up(&mut self, token: Token) -> bool {
        let Reactor { entries, ready, .. } = self;
        let Some(entry) = entries.get(token) else { return false };
        let Kind::Channel(state) = &mut entry.kind else { return false };
        state.lent = false;
        let closed = forget_closed_fds(state);
        let channel = &state.channel;
        let speculated = !entry.readable
            && !state.paused
            && !channel.at_eof()
            && channel.read_fd().is_some()
            && state.speculation.try_now();
        // A channel closed by its handle may hold what had arrived, and owes its Closed.
        let closed_unreported = channel.at_eof() && !state.closed_reported;
        let write_end_unwatched = state.watched[WRITE].is_none() && channel.queued() > 0;
        entry.readable |= speculated;
        if (speculated || closed_unreported) && !entry.queued {
            entry.queued = true;
            ready.push_back(token);
        }
        for fd in closed.into_iter().flatten() {
            self.unwatch_fd(fd);
        }
        if write_end_unwatched {
            self.watch_write_end(token);
        }
        speculated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestChannel;

    /// Writes to the channel, then polls as the loop would; returns
    /// whether the wait read it on spec.
    fn write_and_poll(reactor: &mut Reactor, token: Token, answer: Option<&mut TestChannel>) -> bool {
        reactor.channel(token).unwrap().write(b"ping\n").unwrap();
        if let Some(peer) = answer {
            peer.put(b"pong\n");
        }
        let speculated = reactor.follow_up_lent();
        reactor.poll_once(Some(Duration::ZERO), |_, _| {}).unwrap();
        speculated
    }

    #[test]
    fn a_peer_that_never_answers_at_once_is_soon_not_read_on_spec() {
        let mut reactor = Reactor::new().unwrap();
        let (channel, _peer) = TestChannel::pair();
        let token = reactor.register(channel).unwrap();
        let speculated: Vec<bool> = (0..4).map(|_| write_and_poll(&mut reactor, token, None)).collect();
        assert_eq!(speculated, [true, true, false, false]);
    }

    #[test]
    fn lines_taken_back_by_a_write_are_handed_without_a_read_on_spec() {
        let mut reactor = Reactor::new().unwrap();
        let (mut channel, mut peer) = TestChannel::pair();
        channel.set_line_buffered(true);
        let token = reactor.register(channel).unwrap();
        // Two writes with no answer: no more reads on spec for a while.
        assert_eq!([0, 1].map(|_| write_and_poll(&mut reactor, token, None)), [true, true]);
        peer.put(b"one\ntwo\n");
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while got.is_empty() {
            assert!(Instant::now() < deadline, "no line came");
            reactor.poll_once_max(Some(Duration::from_millis(100)), 1, |_, e| got.push(data(e))).unwrap();
        }
        // The write takes "two" back into the channel (and queues the
        // channel's step itself); the next poll hands it.
        assert!(!write_and_poll_capturing(&mut reactor, token, &mut got));
        assert_eq!(got, [&b"one\n"[..], b"two\n"]);
    }

    /// As `write_and_poll`, keeping what the poll hands.
    fn write_and_poll_capturing(reactor: &mut Reactor, token: Token, got: &mut Vec<Vec<u8>>) -> bool {
        reactor.channel(token).unwrap().write(b"ping\n").unwrap();
        let speculated = reactor.follow_up_lent();
        reactor.poll_once(Some(Duration::ZERO), |_, e| got.push(data(e))).unwrap();
        speculated
    }

    fn data(event: crate::ReactorEvent<'_>) -> Vec<u8> {
        match event {
            crate::ReactorEvent::Data { data, .. } => data.to_vec(),
            other => panic!("{other:?}"),
        }
    }

    /// A wait with nothing timed pending reads no clock (a loop of
    /// requests and replies pays for none); with a timer it does, which
    /// a turn's harness delay is measured from.
    #[test]
    fn a_wait_reads_the_clock_only_with_something_timed_pending() {
        let mut reactor = Reactor::new().unwrap();
        let (channel, _peer) = TestChannel::pair();
        reactor.register(channel).unwrap();
        reactor.poll_once(Some(Duration::ZERO), |_, _| {}).unwrap();
        assert_eq!(reactor.woke_at(), None);
        reactor.set_timer(Duration::from_secs(60));
        reactor.poll_once(Some(Duration::ZERO), |_, _| {}).unwrap();
        assert!(reactor.woke_at().is_some());
    }

    #[test]
    fn a_peer_that_answers_at_once_is_read_on_spec_each_time() {
        let mut reactor = Reactor::new().unwrap();
        let (channel, mut peer) = TestChannel::pair();
        let token = reactor.register(channel).unwrap();
        let speculated: Vec<bool> =
            (0..4).map(|_| write_and_poll(&mut reactor, token, Some(&mut peer))).collect();
        assert_eq!(speculated, [true; 4]);
    }
}
