//! Filling the queue: each entry with noted readiness or work takes one
//! step, and a channel's step reads once, straight into the reactor's
//! arena (one scratch buffer for the whole loop), and queues what it read:
//! one `Data` in byte mode; in line mode one entry for the whole lines,
//! handed one line at a time as they are popped; in whole-lines mode one
//! `Data` for them all. A trailing
//! partial line goes to the channel's own buffer, and back to the arena in
//! front of the next read, so every line is one slice.
//!
//! A fill runs only when the queue is empty, and takes each ready entry
//! once (the ones with more to give go to the back of the ready queue, for
//! the next fill); the arena's limit and, between two waits, the step and
//! read budgets keep flooding channels from holding the loop (a channel
//! that became readable is noticed at the next wait).

use std::io;
use std::mem;
use std::sync::Arc;

use super::Reactor;
use super::entry::{ChannelState, Entry, Kind};
use super::poll::{Queue, Queued};
use super::token::Token;
use crate::channel::Fill;
use crate::channel::input_buffer::MAX_READ;
use crate::sys;
use crate::{Buffering, DEFAULT_INPUT_CAPACITY};

/// A fill takes no more steps once the arena holds this much.
const ARENA_LIMIT: usize = 256 * 1024;
/// Where in memory a read's bytes start: a multiple of this.
const READ_ALIGN: usize = 64;
/// The size of a pipe's pages, which a pipe's bytes are held in.
const PIPE_PAGE: usize = 4096;
/// Room for this many events (or twice the last fill's) is kept between
/// fills; more, which only a burst of timers or of exits needs, goes once
/// the burst is handed.
const SPARE_EVENTS: usize = 4096;

impl Reactor {
    /// Fills the empty queue; false if nothing came of it.
    pub(crate) fn fill(&mut self) -> bool {
        debug_assert!(self.queue.is_empty(), "a fill with events queued");
        self.queue.release_spare(SPARE_EVENTS);
        let fired = self.fired.len();
        while let Some(id) = self.fired.pop_front() {
            self.queue.push(Queued::Timer { id });
        }
        // A burst of timers is over: most of its room goes (as in the queue).
        if self.fired.capacity() > 4 * SPARE_EVENTS.max(fired) {
            self.fired.shrink_to(SPARE_EVENTS);
        }
        let mut arena = self.take_arena();
        // The flushes of this fill ask SIGPIPE's disposition once (if they
        // ask at all): no handler runs during a fill (only a logger might).
        let _sigpipe = sys::sigpipe_scope();
        let mut steps = self.ready.len();
        while steps > 0 && self.budget > 0 && arena.len() < ARENA_LIMIT.min(self.read_budget) {
            let Some(token) = self.ready.pop_front() else { break };
            steps -= 1;
            self.budget -= 1;
            if self.step(token, &mut arena) {
                self.ready.push_back(token);
            }
        }
        self.read_budget = self.read_budget.saturating_sub(arena.len());
        self.queue.note_fill();
        *Arc::get_mut(&mut self.arena).expect("no handler runs during a fill") = arena;
        !self.queue.is_empty()
    }

    /// The arena, emptied: nothing queued refers to it any more. A frame of
    /// an outer `poll_once` whose handler polls again may still hold its
    /// bytes, and keeps them: this fill starts a new arena.
    fn take_arena(&mut self) -> Vec<u8> {
        match Arc::get_mut(&mut self.arena) {
            Some(arena) => {
                let mut arena = mem::take(arena);
                arena.clear();
                // All it may hold at once, asked for once: growing it by
                // doubling copied (and so kept resident) what it held.
                if arena.capacity() == 0 {
                    arena.reserve_exact(ARENA_LIMIT + READ_ALIGN + DEFAULT_INPUT_CAPACITY);
                }
                arena
            }
            None => {
                self.arena = Arc::new(Vec::new());
                Vec::new()
            }
        }
    }

    /// One step of a ready entry; true if it may have more to give (it
    /// stays in the ready queue), else it leaves the queue. A channel's
    /// step looks its entry up once: it is every request's and reply's.
    fn step(&mut self, token: Token, arena: &mut Vec<u8>) -> bool {
        let Reactor { entries, queue, blocked, .. } = self;
        let Some(entry) = entries.get(token) else { return false };
        let more = match entry.kind {
            Kind::Channel(_) => {
                let more = step_entry(entry, queue, blocked, token, arena).is_some() && may_give_more(entry);
                entry.queued = more;
                return more;
            }
            Kind::Server(_) => self.step_server(token),
            Kind::Process(_) => self.step_process(token, arena),
        };
        if !more && let Some(entry) = self.entries.get(token) {
            entry.queued = false;
        }
        more
    }

    /// Flushes the write queue if writable, then queues the next piece of
    /// input, reading at most until one piece is there. Returns how many
    /// bytes it queued, `None` if no event at all.
    pub(crate) fn step_channel(&mut self, token: Token, arena: &mut Vec<u8>) -> Option<usize> {
        let Reactor { entries, queue, blocked, .. } = self;
        step_entry(entries.get(token)?, queue, blocked, token, arena)
    }
}

/// Whether a channel that queued something in its step may queue more
/// in another: not after a short read that left nothing (the poll says
/// when more comes), so the next fill does not step it for nothing.
#[inline]
fn may_give_more(entry: &mut Entry) -> bool {
    let (readable, writable) = (entry.readable, entry.writable);
    let Some(state) = entry.channel() else { return true };
    let channel = &state.channel;
    readable
        || writable
        || state.paused
        || channel.buffered() > 0
        || (channel.at_eof() && !state.closed_reported)
}

/// [`Reactor::step_channel`] on the channel's `entry`, looked up already.
/// Inlined: a call's entry and exit are a tenth of a reply's step.
#[inline(always)]
fn step_entry(
    entry: &mut Entry,
    queue: &mut Queue,
    blocked: &mut Vec<Token>,
    token: Token,
    arena: &mut Vec<u8>,
) -> Option<usize> {
    let (mut readable, hup) = (entry.readable, entry.hup);
    let flush = mem::take(&mut entry.writable);
    let state = entry.channel()?;
    if flush && let Err(e) = state.channel.flush() {
        log::debug!("flush of {token:?}: {e}");
    }
    let mut is_blocked = false;
    let queued = if state.paused {
        let full = buffer_input(state, &mut readable);
        is_blocked = full || (state.channel.at_eof() && state.channel.buffered() > 0);
        closed_once(queue, state, token)
    } else {
        deliver(queue, state, token, arena, &mut readable, hup)
    };
    entry.readable = readable;
    if is_blocked && !blocked.contains(&token) {
        blocked.push(token);
    }
    queued
}

/// Queues one piece: one of the channel's own buffer (bytes put back, held
/// while paused, or buffered before it was registered; in line mode all
/// its whole lines, as a batch), consumed now, one a step; or what one
/// read gives. Nothing while a piece of it is still queued (`Some(0)`: it
/// comes in a later fill), so that what is queued and buffered for a
/// channel never adds up to more than its capacity.
fn deliver(
    queue: &mut Queue,
    state: &mut ChannelState,
    token: Token,
    arena: &mut Vec<u8>,
    readable: &mut bool,
    hup: bool,
) -> Option<usize> {
    if queue.holds(state, token) {
        // One piece at a time: a second read while one is queued (an
        // exit's drain steps the channel again in the fill that read it)
        // let a handler that took both back hold twice the capacity.
        return Some(0);
    }
    loop {
        let channel = &mut state.channel;
        if let Some(piece) = channel.piece_len() {
            // In line mode every whole line buffered goes as one batch, as
            // a read's would: one line a step let each neighbour's reads
            // go first, line after line (thousands put back at a touch).
            let lines =
                channel.buffering() == Buffering::Line && channel.buffered_bytes()[piece - 1] == b'\n';
            let len = if lines { channel.whole_lines_len().unwrap_or(piece) } else { piece };
            let at = arena.len();
            arena.extend_from_slice(&channel.buffered_bytes()[..len]);
            channel.consume(len);
            let event = match lines {
                true => Queued::Lines { token, at, end: at + len },
                false => Queued::Data { token, at, len },
            };
            queue.push_for(state, event);
            return Some(len);
        }
        if channel.at_eof() || !*readable {
            return closed_once(queue, state, token);
        }
        let Some(fd) = channel.read_fd() else {
            channel.set_eof();
            continue;
        };
        // A partial line (all the buffer can hold here) goes first.
        let partial = channel.buffered();
        let room = read_room((channel.input_capacity() - partial).min(MAX_READ));
        arena.reserve(READ_ALIGN + partial + room);
        align_read(arena, partial);
        let at = arena.len();
        arena.extend_from_slice(channel.buffered_bytes());
        let read = sys::read_into_spare(fd, arena, room);
        state.speculation.found(!matches!(&read, Err(e) if e.kind() == io::ErrorKind::WouldBlock));
        match read {
            Ok(0) => {
                arena.truncate(at);
                channel.set_eof();
            }
            Ok(n) => {
                *readable = n == room || hup;
                if partial > 0 {
                    channel.consume(partial);
                }
                if let Some(len) = frame(queue, state, token, arena, at, partial) {
                    return Some(len);
                }
            }
            Err(e) => {
                arena.truncate(at);
                match channel.read_failed(e) {
                    Ok(Fill::WouldBlock) => *readable = false,
                    Ok(_) => {}
                    Err(e) => {
                        log::warn!("read from {token:?}: {e}; treated as end of stream");
                        channel.fail_read();
                    }
                }
            }
        }
    }
}

/// How much a read with `room` free asks for: whole pages of a pipe where
/// `room` holds one at least. A read that takes all it asked for then ends
/// at a page's end, and the next starts at the next page's beginning, as
/// [`align_read`] expects; ending mid-page (after a partial line's few
/// bytes, say) made each read after it a slow copy.
#[inline]
fn read_room(room: usize) -> usize {
    match room / PIPE_PAGE {
        0 => room,
        pages => pages * PIPE_PAGE,
    }
}

/// Pads `arena` with bytes no event covers, so that a read after `partial`
/// more bytes lands on a [`READ_ALIGN`] boundary. A pipe page's bytes start
/// at its beginning, and on AMD Zen the kernel's copy (`rep movsb`) runs
/// about 8 times slower when the destination is 1 to 31 bytes past the
/// source modulo 4 KiB (PERFORMANCE.md, "Lines: the kernel's copy").
#[inline]
fn align_read(arena: &mut Vec<u8>, partial: usize) {
    let len = arena.len();
    let pad = (arena.as_ptr().addr() + len + partial).wrapping_neg() % READ_ALIGN;
    // A block of fixed size, then cut: a few stores, where the padding's
    // own length made a call to memset (the caller reserved the room).
    arena.extend_from_slice(&[0; READ_ALIGN]);
    arena.truncate(len + pad);
}

/// Queues what a read left at `arena[at..]` (after `partial` bytes of a
/// line that were there before): all of it in byte mode; in line mode its
/// whole lines, handed one by one as they are popped (in whole-lines mode
/// as one `Data`), the trailing partial one going back to the channel (unless it fills the channel's capacity:
/// then it is a piece of its own). Returns how many bytes it queued,
/// `None` if none.
#[inline]
fn frame(
    queue: &mut Queue,
    state: &mut ChannelState,
    token: Token,
    arena: &mut Vec<u8>,
    at: usize,
    partial: usize,
) -> Option<usize> {
    let end = arena.len();
    let buffering = state.channel.buffering();
    if buffering == Buffering::Bytes {
        queue.push_for(state, Queued::Data { token, at, len: end - at });
        return Some(end - at);
    }
    match last_newline(&arena[at + partial..end]) {
        Some(i) => {
            let whole = at + partial + i + 1;
            let event = match buffering {
                Buffering::WholeLines => Queued::Data { token, at, len: whole - at },
                _ => Queued::Lines { token, at, end: whole },
            };
            queue.push_for(state, event);
            if whole < end {
                state.channel.buffer(&arena[whole..end]);
                arena.truncate(whole);
            }
            Some(whole - at)
        }
        None if end - at == state.channel.input_capacity() => {
            queue.push_for(state, Queued::Data { token, at, len: end - at });
            Some(end - at)
        }
        None => {
            state.channel.buffer(&arena[at..end]);
            arena.truncate(at);
            None
        }
    }
}

/// Where the last `\n` of `bytes` is. A read of a reply or of a burst of
/// lines most often ends with one: then no search (memrchr's set-up is
/// most of a short reply's framing).
#[inline]
fn last_newline(bytes: &[u8]) -> Option<usize> {
    match bytes.last() {
        Some(b'\n') => Some(bytes.len() - 1),
        _ => memchr::memrchr(b'\n', bytes),
    }
}

/// Reads into a paused channel's buffer until it is full or the fd is
/// drained; true if it is full.
fn buffer_input(state: &mut ChannelState, readable: &mut bool) -> bool {
    while *readable && !state.channel.at_eof() {
        match state.channel.fill_input() {
            Ok(Fill::Read { .. }) => {}
            Ok(Fill::Full) => return true,
            Ok(Fill::WouldBlock) => *readable = false,
            Ok(Fill::Eof) => {}
            Err(e) => {
                log::warn!("read into a paused channel: {e}");
                *readable = false;
            }
        }
    }
    state.channel.input_is_full()
}

/// `Closed`, the first time the channel is at end of stream with nothing
/// left to hand over.
fn closed_once(queue: &mut Queue, state: &mut ChannelState, token: Token) -> Option<usize> {
    let channel = &state.channel;
    if channel.at_eof() && channel.buffered() == 0 && !state.closed_reported {
        state.closed_reported = true;
        queue.push_for(state, Queued::Closed { token });
        return Some(0);
    }
    None
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::testing::TestChannel;
    use crate::{Reactor, ReactorEvent};

    /// A read's bytes start on a 64-byte boundary, after the partial line
    /// kept from the read before (the kernel's copy into an address 1 to 31
    /// bytes past the pipe page's is slow on some CPUs).
    #[test]
    fn a_read_lands_on_a_64_byte_boundary() {
        let mut reactor = Reactor::new().unwrap();
        let (channel, mut peer) = TestChannel::pair();
        reactor.register(channel.line_buffered()).unwrap();
        for (put, partial) in [(&b"one\ntw"[..], 0), (b"o\nthree\n", 2)] {
            peer.put(put);
            assert!(reactor.wait_events(Some(Duration::from_secs(5))).unwrap());
            let Some(ReactorEvent::Data { data, .. }) = reactor.next_event() else { panic!("no line") };
            let read_at = data.as_ptr().addr() + partial;
            assert_eq!(
                read_at % 64,
                0,
                "{:?}, {partial} bytes kept before the read",
                String::from_utf8_lossy(data)
            );
            while reactor.next_event().is_some() {}
        }
    }

    /// In whole-lines mode a read's lines are one event, and the partial
    /// line after them waits in the channel.
    #[test]
    fn a_read_s_whole_lines_are_one_event_and_the_partial_line_waits() {
        let mut reactor = Reactor::new().unwrap();
        let (channel, mut peer) = TestChannel::pair();
        let token = reactor.register(channel.whole_lines()).unwrap();
        peer.put(b"one\ntwo\nthr");
        assert!(reactor.wait_events(Some(Duration::from_secs(5))).unwrap());
        let Some(ReactorEvent::Data { data, .. }) = reactor.next_event() else { panic!("no lines") };
        assert_eq!(data, b"one\ntwo\n");
        assert!(reactor.next_event().is_none(), "one event for both lines");
        assert_eq!(reactor.entries.channel(token).unwrap().channel.buffered_bytes(), b"thr");
    }

    /// The last newline of a read is found whether or not the read ends
    /// with one (a reply most often does: no search then).
    #[test]
    fn the_last_newline_is_found_wherever_it_is() {
        let long = [&b"\n"[..], &[b'x'; 80]].concat();
        for (bytes, want) in [
            (&b""[..], None),
            (b"no newline", None),
            (b"\n", Some(0)),
            (b"one\n", Some(3)),
            (b"one\ntwo\n", Some(7)),
            (b"one\ntw", Some(3)),
            (&long, Some(0)),
        ] {
            assert_eq!(super::last_newline(bytes), want, "{:?}", String::from_utf8_lossy(bytes));
        }
    }

    /// A read asks for whole pipe pages when it has room for one at least
    /// (so that it ends where a page does), else for all the room it has.
    #[test]
    fn a_read_asks_for_whole_pages() {
        for (room, asked) in
            [(65536, 65536), (65531, 61440), (8191, 4096), (4096, 4096), (4095, 4095), (1, 1)]
        {
            assert_eq!(super::read_room(room), asked, "room {room}");
        }
    }

    /// 409 lines of 10 bytes and a partial line: 4096 bytes, a 4 KiB
    /// buffer's worth.
    fn a_burst_and_a_partial_line() -> Vec<u8> {
        let mut burst: Vec<u8> = (0..409).flat_map(|i| format!("line {i:04}\n").into_bytes()).collect();
        burst.extend(b"parti");
        assert_eq!(burst.len(), 4095);
        burst.push(b'!');
        burst
    }

    /// After a burst that filled a paused channel's buffer, once its lines
    /// were handed, the partial line left is not kept in a buffer of the
    /// whole capacity: an idle channel gives its memory back.
    #[test]
    fn a_partial_line_left_after_a_paused_burst_keeps_no_full_buffer() {
        let mut reactor = Reactor::new().unwrap();
        let (channel, mut peer) = TestChannel::pair();
        let token = reactor.register(channel.line_buffered().with_input_capacity(4096)).unwrap();
        reactor.pause(token);
        peer.put(&a_burst_and_a_partial_line());
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while reactor.entries.channel(token).unwrap().channel.buffered() < 4096 {
            assert!(std::time::Instant::now() < deadline, "the burst never came");
            reactor.poll_once(Some(Duration::from_millis(50)), |_, e| panic!("paused: {e:?}")).unwrap();
        }
        reactor.resume(token);
        let mut lines = 0;
        while lines < 409 {
            assert!(std::time::Instant::now() < deadline, "{lines} lines handed");
            reactor.poll_once(Some(Duration::from_millis(50)), |_, _| lines += 1).unwrap();
        }
        holds_only_the_partial_line(&reactor.entries.channel(token).unwrap().channel);
    }

    /// The same through `read()` without a loop.
    #[test]
    fn a_partial_line_left_after_reads_keeps_no_full_buffer() {
        let (channel, mut peer) = TestChannel::pair();
        let mut channel = channel.line_buffered().with_input_capacity(4096);
        peer.put(&a_burst_and_a_partial_line());
        let mut lines = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while lines < 409 {
            assert!(std::time::Instant::now() < deadline, "{lines} lines read");
            lines += usize::from(!channel.read().unwrap().is_empty());
        }
        assert_eq!(channel.read().unwrap(), b"");
        holds_only_the_partial_line(&channel);
    }

    /// What `a_burst_and_a_partial_line` leaves once its lines are taken:
    /// the partial line, in memory of about its size.
    fn holds_only_the_partial_line(channel: &crate::Channel) {
        assert_eq!(channel.buffered_bytes(), b"parti!");
        assert!(
            channel.input_reserved() <= 512,
            "{} bytes held for a partial line",
            channel.input_reserved()
        );
    }

    /// A burst of 20,000 timers, handed one poll at a time: once it is
    /// over, the queue and the list of fired timers keep room for a few
    /// thousand events at most, and the timers none.
    #[test]
    fn a_burst_of_timers_leaves_no_memory_behind() {
        let mut reactor = Reactor::new().unwrap();
        for _ in 0..20_000 {
            reactor.set_timer(Duration::ZERO);
        }
        let (mut fired, mut polls) = (0, 0);
        while fired < 20_000 {
            polls += 1;
            assert!(polls < 100_000, "{fired} timers fired");
            fired += reactor.poll_once_max(Some(Duration::from_secs(5)), 1000, |_, _| {}).unwrap();
        }
        // The fill after the burst's, then one after a fill that queued
        // nothing: the room goes then.
        for _ in 0..2 {
            reactor.poll_once(Some(Duration::ZERO), |_, e| panic!("{e:?}")).unwrap();
        }
        assert!(reactor.queue.capacity() <= super::SPARE_EVENTS, "{} events' room", reactor.queue.capacity());
        assert!(reactor.fired.capacity() <= super::SPARE_EVENTS, "{} timers' room", reactor.fired.capacity());
        assert!(reactor.is_idle());
    }

    /// Reads go to the loop's scratch buffer: a channel keeps only a partial
    /// line, and no memory at all once its input was all handed over.
    #[test]
    fn a_channel_holds_memory_only_for_what_was_not_handed_yet() {
        let mut reactor = Reactor::new().unwrap();
        let (channel, mut peer) = TestChannel::pair();
        let token = reactor.register(channel.line_buffered()).unwrap();
        let held = |reactor: &mut Reactor| reactor.entries.channel(token).unwrap().channel.input_reserved();
        let mut lines = Vec::new();
        peer.put(b"one\ntw");
        while lines.is_empty() {
            reactor
                .poll_once(Some(Duration::from_secs(5)), |_, e| {
                    if let ReactorEvent::Data { data, .. } = e {
                        lines.push(data.to_vec());
                    }
                })
                .unwrap();
        }
        assert!((2..4096).contains(&held(&mut reactor)), "the partial line only: {}", held(&mut reactor));
        peer.put(b"o\n");
        while lines.len() < 2 {
            reactor
                .poll_once(Some(Duration::from_secs(5)), |_, e| {
                    if let ReactorEvent::Data { data, .. } = e {
                        lines.push(data.to_vec());
                    }
                })
                .unwrap();
        }
        assert_eq!(lines, [b"one\n".to_vec(), b"two\n".to_vec()]);
        assert_eq!(held(&mut reactor), 0, "an idle channel holds no buffer");
    }
}
