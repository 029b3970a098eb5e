//! Handing events over: the queue of plain events a fill makes (indices
//! and lengths, no borrows), popped one at a time for the handler. A nested
//! `poll_once` pops the same queue, so every event is handed once, in
//! order, whatever the handler does; the loop waits and fills only when the
//! queue is empty. A batch of lines goes to the owner whole, as a cursor
//! ([`Lines`]) that cuts one line at a time, so that what the lines need
//! is looked up once a batch.
//!
//! A handler that touches a channel whose events are still queued (reads
//! it, pauses it, takes it back) first gets those events' bytes put back in
//! the channel's buffer, and the events leave the queue: the channel is
//! then what it would be had they never been read.

use std::collections::VecDeque;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::entry::{ChannelState, Kind};
use super::listener::PeerAddr;
use super::timers::{TimerId, deadline_after};
use super::token::Token;
use super::wait::WaitEnd;
use super::{Reactor, ReactorEvent};
use crate::error::Result;

/// An event waiting to be handed over; a `Data`'s bytes sit in the
/// reactor's arena.
#[derive(Debug)]
pub(crate) enum Queued {
    Data {
        token: Token,
        at: usize,
        len: usize,
    },
    /// Whole lines of a line-mode channel at `at..end`, handed one at a
    /// time (`at` moves on), and popped with the last.
    Lines {
        token: Token,
        at: usize,
        end: usize,
    },
    Closed {
        token: Token,
    },
    /// Boxed: a UNIX peer address is over 100 bytes.
    Accepted {
        server: Token,
        client: Token,
        peer: Box<PeerAddr>,
    },
    /// The process stays in the table until this is handed over.
    Exited {
        token: Token,
        status: ExitStatus,
    },
    Timer {
        id: TimerId,
    },
    /// An event a handler took back by touching its channel.
    Removed,
}

/// A popped event: bytes in the arena, or an event without bytes.
enum Popped {
    Data { token: Token, at: usize, len: usize },
    Other(ReactorEvent<'static>),
}

/// The queue, and how many events left it, which tells in O(1) whether a
/// channel still has some queued (see [`ChannelState::queued_until`]).
#[derive(Debug, Default)]
pub(crate) struct Queue {
    events: VecDeque<Queued>,
    popped: u64,
    /// The `Lines` entry being handed, in front of `events`: it leaves the
    /// deque with its first line, so that the next ones are cut off here.
    batch: Batch,
    /// How many events the last fill queued.
    last_fill: usize,
}

/// Lines of one channel at `at..end` of the arena (none when `at == end`).
/// `serial` changes whenever anything but the one [`Lines`] cursor handing
/// them changes the batch (a new batch, a nested poll's cursor, a
/// take-back), so that the cursor knows to stop.
#[derive(Debug)]
struct Batch {
    token: Token,
    at: usize,
    end: usize,
    serial: u64,
}

impl Default for Batch {
    fn default() -> Batch {
        Batch { token: Token::new(0, 0), at: 0, end: 0, serial: 0 }
    }
}

impl Queue {
    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty() && self.batch.at == self.batch.end
    }

    /// Lets most of the empty queue's memory go once a burst is over: it
    /// keeps room for `spare` events, or twice what the last fill queued
    /// (so a loop that queues as many at each fill does not reallocate).
    #[inline]
    pub(crate) fn release_spare(&mut self, spare: usize) {
        let keep = spare.max(2 * self.last_fill);
        if self.events.capacity() > 2 * keep && self.events.is_empty() {
            self.shrink(keep);
        }
    }

    #[cold]
    fn shrink(&mut self, keep: usize) {
        self.events.shrink_to(keep);
    }

    /// Notes how many events a fill queued.
    #[inline]
    pub(crate) fn note_fill(&mut self) {
        self.last_fill = self.events.len();
    }

    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.events.capacity()
    }

    /// Queues a channel's event and notes it on the channel.
    #[inline]
    pub(crate) fn push_for(&mut self, state: &mut ChannelState, event: Queued) {
        self.events.push_back(event);
        state.queued_until = self.popped + self.events.len() as u64;
    }

    pub(crate) fn push(&mut self, event: Queued) {
        self.events.push_back(event);
    }

    /// Whether events of the channel `state` (`token`) are still queued.
    pub(crate) fn holds(&self, state: &ChannelState, token: Token) -> bool {
        state.queued_until > self.popped || (self.batch.token == token && self.batch.at < self.batch.end)
    }

    /// True if lines are left in the batch, after moving a `Lines` entry
    /// at the front of the deque there when it was empty.
    #[inline(always)]
    fn batch_ready(&mut self, arena: &[u8]) -> bool {
        if self.batch.at < self.batch.end {
            return true;
        }
        let Some(&Queued::Lines { token, at, end }) = self.events.front() else { return false };
        self.pop();
        self.batch = Batch { token, at, end, serial: self.batch.serial + 1 };
        if arena.get(end.wrapping_sub(1)) != Some(&b'\n') {
            self.cut_piece(arena);
        }
        self.batch.at < self.batch.end
    }

    /// Cuts what follows the batch's last newline off it, into a `Data`
    /// event of its own in front of the queue. A fill queues whole lines
    /// only; this keeps a batch that broke that rule from stopping the loop
    /// (a line cursor ends at the last newline).
    #[cold]
    fn cut_piece(&mut self, arena: &[u8]) {
        let Batch { token, at, end, .. } = self.batch;
        let whole = memchr::memrchr(b'\n', arena.get(at..end).unwrap_or_default()).map_or(at, |i| at + i + 1);
        self.events.push_front(Queued::Data { token, at: whole, len: end - whole });
        self.popped -= 1; // the events behind keep their places
        self.batch.end = whole;
    }

    /// A cursor over the rest of the non-empty batch, whose bytes are
    /// `arena`; any cursor made before it stops.
    #[inline(always)]
    fn lines<'a>(&mut self, arena: &'a [u8]) -> Lines<'a> {
        self.batch.serial += 1;
        let Batch { token, at, end, serial } = self.batch;
        let bytes = arena.get(..end).unwrap_or_default();
        Lines { token, bytes, at, block: at, mask: newline_mask(bytes.get(at..).unwrap_or_default()), serial }
    }

    /// Cuts the next line off the non-empty batch, whose bytes are `arena`.
    #[inline]
    fn next_line(&mut self, arena: &[u8]) -> (Token, usize, usize) {
        self.batch.serial += 1;
        let Batch { token, at, end, .. } = self.batch;
        let len = line_len(arena.get(at..end).unwrap_or_default());
        self.batch.at += len;
        (token, at, len)
    }

    #[inline]
    fn pop(&mut self) -> Option<Queued> {
        let event = self.events.pop_front()?;
        self.popped += 1;
        Some(event)
    }
}

/// What [`poll`] gives its `hand`: one event, or a batch of one
/// channel's lines, to be handed one at a time with [`Lines::next`] (so
/// that whatever a line's handler needs of its channel is looked up once a
/// batch, not once a line).
pub(crate) enum Handing<'a> {
    Event(ReactorEvent<'a>),
    Lines(Lines<'a>),
}

/// A cursor over the lines of the batch, which stays in the queue:
/// [`next`](Self::next) notes each line there as handed before giving it,
/// so a handler that polls again or touches the channel finds the batch as
/// it is; the cursor stops once anything else changed the batch.
///
/// A line's end is found with a mask of the newlines of 64 bytes at a
/// time (one vector compare), one bit taken off a line.
#[derive(Clone, Copy)]
pub(crate) struct Lines<'a> {
    token: Token,
    /// The arena up to the batch's end.
    bytes: &'a [u8],
    /// Where the next line starts.
    at: usize,
    /// Where the 64 bytes `mask` covers start.
    block: usize,
    /// The newlines in those bytes not handed yet, a bit each.
    mask: u64,
    serial: u64,
}

impl<'a> Lines<'a> {
    /// The channel the lines are of.
    pub(crate) fn token(&self) -> Token {
        self.token
    }

    /// The next line, noted as handed in `reactor`'s batch; `None` at the
    /// batch's end or once something else changed the batch.
    #[inline(always)]
    pub(crate) fn next(&mut self, reactor: &mut Reactor) -> Option<&'a [u8]> {
        let batch = &mut reactor.queue.batch;
        if batch.serial != self.serial {
            return None;
        }
        while self.mask == 0 {
            self.block += 64;
            self.mask = newline_mask(self.bytes.get(self.block..)?);
        }
        let end = self.block + self.mask.trailing_zeros() as usize + 1;
        self.mask &= self.mask - 1;
        let line = self.bytes.get(self.at..end)?;
        self.at = end;
        batch.at = end;
        Some(line)
    }

    /// Hands lines to `hand` until `room` were handed or [`next`](Self::next)
    /// gives none; returns how many.
    #[inline(always)]
    pub(crate) fn hand_each<T>(
        mut self,
        owner: &mut T,
        reactor: impl Fn(&mut T) -> &mut Reactor,
        room: usize,
        hand: impl FnMut(&mut T, &'a [u8]),
    ) -> usize {
        self.hand_while(owner, reactor, room, |_| true, hand)
    }

    /// Hands lines to `hand` while `go_on` holds, until `room` were handed
    /// or [`next`](Self::next) gives none; returns how many. Not inlined:
    /// the loop keeps what it needs in registers only in a function of its
    /// own (with `go_on` there, a check the Runner would otherwise make a
    /// line behind a call leaves the loop).
    #[inline(never)]
    pub(crate) fn hand_while<T>(
        &mut self,
        owner: &mut T,
        reactor: impl Fn(&mut T) -> &mut Reactor,
        room: usize,
        go_on: impl Fn(&T) -> bool,
        mut hand: impl FnMut(&mut T, &'a [u8]),
    ) -> usize {
        let mut cursor = *self; // in registers, not stored back a line
        let mut handed = 0;
        if room > 0
            && go_on(owner)
            && let Some(mut line) = cursor.next(reactor(owner))
        {
            // The exits tested after `hand`, not before: a line a few
            // instructions fewer than a `while` (callgrind).
            loop {
                hand(owner, line);
                handed += 1;
                if handed == room || !go_on(owner) {
                    break;
                }
                let Some(next) = cursor.next(reactor(owner)) else { break };
                line = next;
            }
        }
        *self = cursor;
        handed
    }
}

/// The newlines among the first 64 bytes of `bytes`, bit `i` for byte `i`.
/// Inlined: the 64-byte path is a few vector instructions.
#[inline(always)]
fn newline_mask(bytes: &[u8]) -> u64 {
    match bytes.first_chunk::<64>() {
        Some(block) => block_mask(block),
        None => short_mask(bytes),
    }
}

/// [`newline_mask`] of fewer than 64 bytes (a batch's last ones, or a
/// short batch such as one reply): copied into a zeroed block for the one
/// vector compare of 64 bytes. The copy is two fixed-size ones that may
/// overlap (the first and the last 32, 16 or 8 bytes), not a call to
/// memcpy: a reply's mask takes 42 instructions, against 92 for the 8-byte
/// words it was once made of (PERFORMANCE.md, "Ping-pong: instructions a
/// round trip (pp4)"). Not inlined: once a batch, its constants would take
/// registers the line loop needs.
#[inline(never)]
fn short_mask(bytes: &[u8]) -> u64 {
    let mut block = [0; 64];
    let copied = copy_ends::<32>(&mut block, bytes)
        || copy_ends::<16>(&mut block, bytes)
        || copy_ends::<8>(&mut block, bytes);
    if !copied {
        for (to, from) in block.iter_mut().zip(bytes) {
            *to = *from;
        }
    }
    block_mask(&block)
}

/// Copies `bytes` (at most 64) to the start of `block` as its first `N`
/// and its last `N` bytes, if it has `N` at least (else copies nothing):
/// together they cover it, and where they overlap they agree.
#[inline(always)]
fn copy_ends<const N: usize>(block: &mut [u8; 64], bytes: &[u8]) -> bool {
    let (Some(first), Some(last)) = (bytes.first_chunk::<N>(), bytes.last_chunk::<N>()) else { return false };
    let end = bytes.len().min(64);
    if let Some(head) = block.first_chunk_mut::<N>() {
        *head = *first;
    }
    if let Some(tail) = block.get_mut(end.saturating_sub(N)..end) {
        tail.copy_from_slice(last);
    }
    true
}

/// The newlines of `block`, a bit each (SSE2 compares on x86-64).
#[inline(always)]
fn block_mask(block: &[u8; 64]) -> u64 {
    crate::sys::newline_mask_64(block)
}

/// What one `poll_once` frame holds while a handler runs: a clone of the
/// arena its `Data` bytes come from, taken again only when a nested poll
/// started a new one (so not a refcount per event).
#[derive(Default)]
struct Frame {
    arena: Option<Arc<Vec<u8>>>,
}

impl Frame {
    /// The reactor's `arena`, as this frame holds it.
    #[inline]
    fn arena(&mut self, arena: &Arc<Vec<u8>>) -> &[u8] {
        if !self.arena.as_ref().is_some_and(|held| Arc::ptr_eq(held, arena)) {
            self.arena = Some(Arc::clone(arena));
        }
        self.arena.as_deref().map_or(&[], Vec::as_slice)
    }
}

/// Runs one `poll_once` on the reactor `reactor(owner)` gives: waits when
/// nothing is queued, fills, and hands each event (or batch of lines) to
/// `hand` with the room left under `max_events`; `hand` says how many
/// events it handed on (none for one its owner keeps to itself, more for
/// ones it adds, one a line).
///
/// It is generic over who owns the reactor, so that the Runner's handler
/// gets the whole Runner.
pub(crate) fn poll<T>(
    owner: &mut T,
    reactor: impl Fn(&mut T) -> &mut Reactor,
    timeout: Option<Duration>,
    max_events: usize,
    mut hand: impl FnMut(&mut T, Handing<'_>, usize) -> usize,
) -> Result<usize> {
    let deadline = timeout.map(deadline_after);
    let mut frame = Frame::default();
    let mut count = 0;
    loop {
        let (mut wait_end, mut left) = (WaitEnd::Ready, None);
        if reactor(owner).queue.is_empty() {
            left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            wait_end = reactor(owner).wait(left)?;
            if wait_end == WaitEnd::Idle {
                return Ok(count);
            }
            frame.arena = None; // so that the fill may reuse the arena
            reactor(owner).fill();
        }
        loop {
            count += hand_queued(owner, &reactor, &mut frame, max_events - count, &mut hand);
            frame.arena = None;
            if count >= max_events || !reactor(owner).may_fill() || !reactor(owner).fill() {
                break;
            }
        }
        if count > 0 || wait_end != WaitEnd::Ready || left.is_some_and(|l| l.is_zero()) {
            return Ok(count);
        }
    }
}

/// Pops and hands queued events until `room` were handed or none is left.
/// A batch of lines goes to `hand` whole; it hands some of its lines, and
/// the rest, if any, are looked at again here.
#[inline(always)]
fn hand_queued<T>(
    owner: &mut T,
    reactor: &impl Fn(&mut T) -> &mut Reactor,
    frame: &mut Frame,
    room: usize,
    hand: &mut impl FnMut(&mut T, Handing<'_>, usize) -> usize,
) -> usize {
    let mut handed = 0;
    while handed < room {
        let r = reactor(owner);
        if r.queue.batch_ready(&r.arena) {
            let lines = r.queue.lines(frame.arena(&r.arena));
            handed += hand(owner, Handing::Lines(lines), room - handed);
            continue;
        }
        if r.queue.events.is_empty() {
            break; // what a batch of lines leaves most often: no call to find it
        }
        let event = match r.pop_event() {
            Some(Popped::Data { token, at, len }) => {
                ReactorEvent::Data { token, data: &frame.arena(&r.arena)[at..at + len] }
            }
            Some(Popped::Other(event)) => event,
            None => break,
        };
        handed += hand(owner, Handing::Event(event), room - handed);
    }
    handed
}

/// The length of the first line of `lines` (which ends in `\n`), with
/// its `\n`, for the pull form, which takes one line at a time.
#[inline]
fn line_len(lines: &[u8]) -> usize {
    match newline_mask(lines) {
        0 => memchr::memchr(b'\n', lines.get(64..).unwrap_or_default()).map_or(lines.len(), |j| 64 + j + 1),
        mask => mask.trailing_zeros() as usize + 1,
    }
}

impl Reactor {
    /// Whether a fill has anything to do: entries to step, timers to hand.
    /// Without, it would only take the arena and put it back.
    #[inline]
    fn may_fill(&self) -> bool {
        !self.ready.is_empty() || !self.fired.is_empty()
    }

    /// The pull form of [`poll_once`](Self::poll_once), with
    /// [`next_event`](Self::next_event): waits (`None`: until something
    /// happens; `Some(ZERO)`: not at all) until events are queued, reading
    /// what is ready; true if some are. At once when some are queued
    /// already (none is read then). Like `poll_once`, it returns `false`
    /// when a [`Waker`](crate::Waker) or a signal ends the wait, and at once
    /// when nothing could ever produce an event.
    ///
    /// ```
    /// use std::time::Duration;
    /// use procloop::{Reactor, ReactorEvent, testing::TestChannel};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let (channel, mut peer) = TestChannel::pair();
    /// reactor.register(channel.line_buffered())?;
    /// peer.put(b"one\ntwo\n");
    /// let mut lines = Vec::new();
    /// while lines.len() < 2 && reactor.wait_events(Some(Duration::from_secs(5)))? {
    ///     while let Some(event) = reactor.next_event() {
    ///         if let ReactorEvent::Data { data, .. } = event {
    ///             lines.push(data.to_vec());
    ///         }
    ///     }
    /// }
    /// assert_eq!(lines, [b"one\n".to_vec(), b"two\n".to_vec()]);
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn wait_events(&mut self, timeout: Option<Duration>) -> Result<bool> {
        let deadline = timeout.map(deadline_after);
        while self.queue.is_empty() {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let wait_end = self.wait(left)?;
            if self.fill() {
                break;
            }
            if wait_end != WaitEnd::Ready || left.is_some_and(|l| l.is_zero()) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The next queued event, handed over (its bytes are consumed, as in
    /// `poll_once`); `None` when the queue is empty. It never waits nor
    /// reads: [`wait_events`](Self::wait_events) does.
    pub fn next_event(&mut self) -> Option<ReactorEvent<'_>> {
        match self.pop_event()? {
            Popped::Data { token, at, len } => {
                Some(ReactorEvent::Data { token, data: &self.arena[at..at + len] })
            }
            Popped::Other(event) => Some(event),
        }
    }

    /// Pops the next event to hand over: a process's is taken out of the
    /// table now (until the next wait its handler may take it back with
    /// `remove_process`); one that no longer applies is skipped.
    #[inline]
    fn pop_event(&mut self) -> Option<Popped> {
        loop {
            if self.queue.batch_ready(&self.arena) {
                let (token, at, len) = self.queue.next_line(&self.arena);
                return Some(Popped::Data { token, at, len });
            }
            let event = match self.queue.pop()? {
                Queued::Data { token, at, len } => return Some(Popped::Data { token, at, len }),
                Queued::Lines { .. } => continue, // taken above
                Queued::Closed { token } => ReactorEvent::Closed { token },
                Queued::Accepted { server, client, peer } => {
                    ReactorEvent::Accepted { server, client, peer: *peer }
                }
                Queued::Exited { token, status } => {
                    let Some(process) = self.take_process(token) else { continue };
                    self.exited = Some((token, process));
                    ReactorEvent::Exited { token, status }
                }
                Queued::Timer { id } if self.timers.hand_over(id) => ReactorEvent::Timer { id },
                Queued::Timer { .. } | Queued::Removed => continue,
            };
            return Some(Popped::Other(event));
        }
    }

    /// The channel behind `token`, for a caller that may read, pause or
    /// remove it: its queued events are taken back first (an O(1) check
    /// when there are none).
    pub(crate) fn touch_channel(&mut self, token: Token) -> Option<&mut ChannelState> {
        self.take_back_queued(token);
        self.entries.channel(token)
    }

    /// What [`touch_channel`](Self::touch_channel) does before handing the
    /// channel out. With the queue empty (a request written between polls)
    /// no channel has events queued: no look-up.
    #[inline]
    pub(crate) fn take_back_queued(&mut self, token: Token) {
        if self.queue.is_empty() {
            debug_assert!(!self.entries.peek(token).is_some_and(|entry| match &entry.kind {
                Kind::Channel(state) => self.queue.holds(state, token),
                _ => false,
            }));
            return;
        }
        let Reactor { entries, queue, arena, .. } = self;
        let Some(state) = entries.channel(token) else { return };
        if queue.holds(state, token) {
            let drained_by = state.drained_by;
            let bytes = take_back(queue, arena, state, token);
            self.enqueue(token);
            // An exit's drain counted these bytes when it read them: it
            // reads them again, and must not stop short of the rest.
            if let Some(process) = drained_by {
                self.refund_drain_budget(process, bytes);
            }
            self.take_back_exits(token);
        }
    }

    /// Puts `bytes`, the end of the piece of `token` just handed, back in
    /// front of the channel's buffer, to be handed as its next piece: its
    /// queued events come back after them, and so does its process's
    /// `Exited`. (The Runner hands a turn's reply so when a cap leaves no
    /// room for it beside the old output read with it.)
    pub(crate) fn hand_again(&mut self, token: Token, bytes: &[u8]) {
        self.take_back_queued(token);
        let Some(state) = self.entries.channel(token) else { return };
        state.channel.unread(bytes);
        let drained_by = state.drained_by;
        self.enqueue(token);
        if let Some(process) = drained_by {
            self.refund_drain_budget(process, bytes.len());
        }
        self.take_back_exits(token);
    }

    /// Takes back the queued `Exited` of a process whose output `output`
    /// just got bytes put back: the exit comes again after them.
    fn take_back_exits(&mut self, output: Token) {
        let mut exits = Vec::new();
        for event in self.queue.events.iter_mut() {
            let Queued::Exited { token, .. } = *event else { continue };
            let feeds = self.entries.peek(token).is_some_and(|entry| match &entry.kind {
                Kind::Process(state) => state.outputs.contains(&output),
                _ => false,
            });
            if feeds {
                *event = Queued::Removed;
                exits.push(token);
            }
        }
        for token in exits {
            self.enqueue(token);
        }
    }
}

/// Takes `token`'s queued events out of the queue: their bytes go back in
/// front of the channel's buffer, and a `Closed` will be found again.
/// Returns how many bytes went back.
#[cold]
fn take_back(queue: &mut Queue, arena: &[u8], state: &mut ChannelState, token: Token) -> usize {
    let mut bytes = Vec::new();
    let batch = &mut queue.batch;
    if batch.token == token && batch.at < batch.end {
        bytes.extend_from_slice(&arena[batch.at..batch.end]);
        batch.at = batch.end;
        batch.serial += 1; // a cursor on it stops
    }
    let upto = state.queued_until.saturating_sub(queue.popped) as usize;
    for event in queue.events.iter_mut().take(upto) {
        match event {
            Queued::Data { token: t, at, len } if *t == token => {
                bytes.extend_from_slice(&arena[*at..*at + *len])
            }
            Queued::Lines { token: t, at, end } if *t == token => bytes.extend_from_slice(&arena[*at..*end]),
            Queued::Closed { token: t } if *t == token => state.closed_reported = false,
            _ => continue,
        }
        *event = Queued::Removed;
    }
    state.channel.unread(&bytes);
    state.queued_until = 0;
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newline_mask_marks_each_newline_of_the_first_64_bytes() {
        for len in 0..80 {
            for step in [1, 2, 3, 7, 63, 64] {
                let bytes: Vec<u8> =
                    (0..len).map(|i| if i % step == 0 { b'\n' } else { b'\x0a' ^ 0x80 }).collect();
                let want = (0..len.min(64)).filter(|i| i % step == 0).fold(0u64, |mask, i| mask | 1 << i);
                assert_eq!(newline_mask(&bytes), want, "{len} bytes, a newline every {step}");
            }
        }
    }

    #[test]
    fn newline_mask_is_the_plain_one_at_every_offset_and_length() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let bytes: Vec<u8> = (0..256)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                if state >> 62 == 0 { b'\n' } else { (state >> 40) as u8 }
            })
            .collect();
        for at in 0..=64 {
            for len in 0..=64 {
                let part = &bytes[at..at + len];
                let want = (0..len).filter(|&i| part[i] == b'\n').fold(0u64, |mask, i| mask | 1 << i);
                assert_eq!(newline_mask(part), want, "{len} bytes at {at}");
            }
        }
    }

    #[test]
    fn line_len_finds_the_first_newline_wherever_it_is() {
        for len in 1..150 {
            for newline in 0..len {
                let mut lines = vec![b'x'; len];
                lines[newline] = b'\n';
                if newline + 2 < len {
                    lines[newline + 2] = b'\n'; // a second line after it
                }
                assert_eq!(line_len(&lines), newline + 1, "{len} bytes, newline at {newline}");
            }
        }
        assert_eq!(line_len(b"\x8a\x0b\x09no newline, a piece"), 22, "no false match on bytes near '\\n'");
    }

    #[test]
    fn a_batch_without_a_final_newline_hands_the_rest_as_one_piece() {
        for (bytes, want) in [
            (&b"one\ntwo\nthree"[..], &[&b"one\n"[..], b"two\n", b"three"][..]),
            (b"no newline", &[b"no newline"]),
        ] {
            for pull in [false, true] {
                let mut reactor = Reactor::new().unwrap();
                *Arc::get_mut(&mut reactor.arena).unwrap() = bytes.to_vec();
                reactor.queue.push(Queued::Lines { token: Token::new(1, 1), at: 0, end: bytes.len() });
                let mut got = Vec::new();
                if pull {
                    while let Some(ReactorEvent::Data { data, .. }) = reactor.next_event() {
                        got.push(data.to_vec());
                    }
                } else {
                    reactor.poll_once(Some(Duration::ZERO), |_, e| got.push(data(e))).unwrap();
                }
                assert_eq!(got, want, "pull: {pull}");
                assert!(reactor.queue.is_empty());
            }
        }
    }

    #[test]
    fn a_line_loop_stops_where_go_on_fails_and_the_next_one_goes_on_from_there() {
        let bytes = b"a\nb\nc\nd\n";
        let mut owner = (Reactor::new().unwrap(), Vec::new());
        *Arc::get_mut(&mut owner.0.arena).unwrap() = bytes.to_vec();
        owner.0.queue.push(Queued::Lines { token: Token::new(1, 1), at: 0, end: bytes.len() });
        let arena = Arc::clone(&owner.0.arena);
        assert!(owner.0.queue.batch_ready(&arena));
        let mut lines = owner.0.queue.lines(&arena);
        type Owner = (Reactor, Vec<Vec<u8>>);
        fn reactor(owner: &mut Owner) -> &mut Reactor {
            &mut owner.0
        }
        fn hand(owner: &mut Owner, line: &[u8]) {
            owner.1.push(line.to_vec());
        }
        assert_eq!(lines.hand_while(&mut owner, reactor, 10, |o| o.1.len() < 2, hand), 2);
        assert_eq!(owner.1, [b"a\n".to_vec(), b"b\n".to_vec()]);
        assert!(!owner.0.queue.is_empty(), "c and d still queued");
        assert_eq!(lines.hand_each(&mut owner, reactor, 10, hand), 2);
        assert_eq!(owner.1.concat(), bytes);
        assert!(owner.0.queue.is_empty());
    }

    /// A poll fills again after handing while a channel has more to give
    /// (here, reads that each filled its small input capacity): the refill
    /// is skipped only when nothing is ready.
    #[test]
    fn one_poll_hands_what_several_reads_give() {
        let mut reactor = Reactor::new().unwrap();
        let (channel, mut peer) = crate::testing::TestChannel::pair();
        reactor.register(channel.with_input_capacity(16)).unwrap();
        peer.put(&[b'x'; 40]);
        let mut got = Vec::new();
        let handed =
            reactor.poll_once(Some(Duration::from_secs(20)), |_, e| got.push(data(e).len())).unwrap();
        assert_eq!((handed, got), (3, vec![16, 16, 8]));
    }

    fn data(event: ReactorEvent<'_>) -> Vec<u8> {
        match event {
            ReactorEvent::Data { data, .. } => data.to_vec(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_queued_event_is_small() {
        assert!(std::mem::size_of::<Queued>() <= 32, "{}", std::mem::size_of::<Queued>());
    }
}
