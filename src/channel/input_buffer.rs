//! The bounded input buffer of one channel.
//!
//! It is not a ring: it keeps its bytes contiguous instead of wrapping
//! around, moving the (usually short) unread bytes to the front once the
//! gap there is bigger than the free space at the end. So every line and
//! every chunk is one slice, handed over without joining two halves (a ring
//! would have to copy a line that wraps, or map its memory twice).
//!
//! It holds memory only while it holds bytes: reserved when bytes come
//! (never zeroed, so the kernel backs only the pages they were read into),
//! released once the last one is taken, and shrunk to their size when
//! they are few against it (a partial line left after a burst). A reactor
//! keeps here only what the user has not taken yet (a partial line, input
//! put back or held while paused), so thousands of idle channels cost no
//! buffer at all.

use std::io;
use std::os::fd::BorrowedFd;

use crate::sys;

/// Default capacity of a channel's input buffer: 64 KiB.
pub const DEFAULT_INPUT_CAPACITY: usize = 64 * 1024;

/// A buffer holding at least this much memory is shrunk once what it
/// holds falls to an eighth of it.
const SHRINK_FROM: usize = 4096;

/// The most one read asks for, whatever the capacity: a read reserves
/// what it asks for, and a huge capacity (the user's to choose) must not
/// be reserved whole (16 TiB aborted the process); the buffer grows with
/// what comes, up to the capacity.
pub(crate) const MAX_READ: usize = 1024 * 1024;

#[derive(Default)]
pub(crate) struct InputBuffer {
    /// The buffered bytes are `buf[start..]`.
    buf: Vec<u8>,
    capacity: usize,
    start: usize,
    /// Bytes from `start` already searched for a newline without finding one.
    scanned: usize,
}

/// Lengths, not bytes: 60 KB of input would print as 300 KB of text.
impl std::fmt::Debug for InputBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputBuffer")
            .field("buffered", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl InputBuffer {
    pub(crate) fn new(capacity: usize) -> InputBuffer {
        assert!(capacity > 0, "an input buffer needs a capacity above zero");
        InputBuffer { capacity, ..InputBuffer::default() }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The memory it holds now, in bytes.
    #[cfg(test)]
    pub(crate) fn reserved(&self) -> usize {
        self.buf.capacity()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Full at its capacity, or over it (see [`unread`](Self::unread)).
    pub(crate) fn is_full(&self) -> bool {
        self.len() >= self.capacity
    }

    /// The buffered bytes, oldest first.
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Drops the first `n` buffered bytes.
    ///
    /// # Panics
    ///
    /// If fewer than `n` bytes are buffered.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        assert!(n <= self.len(), "consume({n}) of {} buffered bytes", self.len());
        self.start += n;
        self.scanned = self.scanned.saturating_sub(n);
        self.release_spare();
    }

    /// Gives back memory the bytes held do not need: all of it once empty;
    /// most of it once they fill an eighth of it or less.
    #[inline]
    fn release_spare(&mut self) {
        if self.is_empty() {
            self.buf = Vec::new();
            self.start = 0;
        } else if self.buf.capacity() >= SHRINK_FROM && self.len() * 8 <= self.buf.capacity() {
            self.shrink();
        }
    }

    /// Moves the few bytes left (a partial line, say, after a burst's
    /// lines were taken) into memory their size: a channel that goes idle
    /// so does not keep a buffer of its whole capacity. Each shrink copies
    /// at most an eighth of what was held, so it costs little against the
    /// bytes taken before it.
    #[cold]
    fn shrink(&mut self) {
        self.buf.drain(..self.start);
        self.start = 0;
        self.buf.shrink_to_fit();
    }

    /// Puts `data` back in front of the buffered bytes (bytes a reactor
    /// had queued for its handler and takes back). A reactor queues no
    /// more of a channel than fits beside what it buffers, so they fit;
    /// should they not, every byte is kept, and the buffer counts as full
    /// (is never read into) until it is back under its capacity.
    pub(crate) fn unread(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let mut buf = Vec::with_capacity(data.len() + self.len());
        buf.extend_from_slice(data);
        buf.extend_from_slice(self.data());
        self.buf = buf;
        self.start = 0;
        self.scanned = 0;
    }

    /// Room at the end, after moving the unread bytes to the front if the
    /// gap there has grown bigger than that room, or the room is less than
    /// `wanted`; memory is reserved for `wanted` bytes of it.
    fn make_room(&mut self, wanted: usize) -> usize {
        let room = self.capacity.saturating_sub(self.buf.len());
        if self.start > 0 && (self.start > room || room < wanted) {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let room = self.capacity.saturating_sub(self.buf.len());
        self.buf.reserve_exact(wanted.min(room));
        room
    }

    /// One `read(2)` from `fd` into the free space; `Ok(0)` is end of
    /// stream, and a full buffer is not read into (the caller checks).
    pub(crate) fn read_from(&mut self, fd: BorrowedFd<'_>) -> io::Result<(usize, usize)> {
        let room = self.make_room(1).min(MAX_READ);
        debug_assert!(room > 0, "read into a full buffer");
        self.buf.reserve_exact(room);
        let read = sys::read_into_spare(fd, &mut self.buf, room);
        if !matches!(read, Ok(n) if n > 0) {
            self.release_spare(); // nothing came: the room reserved for it goes
        }
        Ok((read?, room))
    }

    /// Appends as much of `data` as fits; returns how much that was.
    pub(crate) fn push(&mut self, data: &[u8]) -> usize {
        let n = self.make_room(data.len()).min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        n
    }

    /// The length of the first whole line (with its `\n`), if one is buffered.
    pub(crate) fn line_len(&mut self) -> Option<usize> {
        let unsearched = &self.buf[self.start + self.scanned..];
        match memchr::memchr(b'\n', unsearched) {
            Some(i) => Some(self.scanned + i + 1),
            None => {
                self.scanned = self.len();
                None
            }
        }
    }

    /// The length of the whole lines buffered (up to the last `\n`, with
    /// it), if there is one at least.
    pub(crate) fn lines_len(&mut self) -> Option<usize> {
        let unsearched = &self.buf[self.start + self.scanned..];
        match memchr::memrchr(b'\n', unsearched) {
            Some(i) => Some(self.scanned + i + 1),
            None => {
                self.scanned = self.len();
                None
            }
        }
    }

    /// Removes and returns the first `n` buffered bytes.
    pub(crate) fn take(&mut self, n: usize) -> Vec<u8> {
        let out = self.data()[..n].to_vec();
        self.consume(n);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_memory_until_first_use_and_none_once_emptied() {
        let mut buffer = InputBuffer::new(1024);
        assert_eq!(buffer.buf.capacity(), 0);
        buffer.push(b"abc");
        assert!(buffer.buf.capacity() < 1024, "a short push reserves what it needs");
        buffer.consume(3);
        assert_eq!(buffer.buf.capacity(), 0, "released once empty");
        let (reader, _writer) = std::io::pipe().unwrap();
        crate::sys::set_nonblocking(std::os::fd::AsFd::as_fd(&reader)).unwrap();
        assert!(buffer.read_from(std::os::fd::AsFd::as_fd(&reader)).is_err(), "nothing to read");
        assert_eq!(buffer.buf.capacity(), 0, "a read that got nothing leaves nothing reserved");
    }

    #[test]
    fn unread_puts_bytes_before_the_buffered_ones() {
        let mut buffer = InputBuffer::new(16);
        buffer.push(b"xabc");
        buffer.consume(1);
        assert_eq!(buffer.line_len(), None);
        buffer.unread(b"1\n2\n");
        assert_eq!(buffer.data(), b"1\n2\nabc");
        assert_eq!(buffer.line_len(), Some(2), "searched again from the front");
    }

    /// Bytes put back over the capacity (two reads a fill took back) are
    /// kept: the buffer is full until it is back under, and takes no more.
    #[test]
    fn unread_over_the_capacity_keeps_every_byte_and_reads_no_more() {
        let mut buffer = InputBuffer::new(4);
        buffer.push(b"cd");
        buffer.unread(b"ab\n");
        assert_eq!(buffer.data(), b"ab\ncd");
        assert!(buffer.is_full());
        assert_eq!(buffer.push(b"x"), 0);
        assert_eq!(buffer.line_len(), Some(3));
        buffer.consume(3);
        assert!(!buffer.is_full());
        assert_eq!(buffer.push(b"efg"), 2);
        assert_eq!(buffer.data(), b"cdef");
    }

    #[test]
    fn push_consume_and_compact() {
        let mut buffer = InputBuffer::new(8);
        assert_eq!(buffer.push(b"abcdef"), 6);
        buffer.consume(4);
        assert_eq!(buffer.push(b"ghijklmn"), 6, "compacts, then takes what fits");
        assert_eq!(buffer.data(), b"efghijkl");
        assert!(buffer.is_full());
        assert_eq!(buffer.push(b"x"), 0);
    }

    #[test]
    fn finds_lines_without_rescanning() {
        let mut buffer = InputBuffer::new(16);
        buffer.push(b"abc");
        assert_eq!(buffer.line_len(), None);
        assert_eq!(buffer.scanned, 3);
        buffer.push(b"d\nef\n");
        assert_eq!(buffer.line_len(), Some(5));
        assert_eq!(buffer.take(5), b"abcd\n");
        assert_eq!(buffer.line_len(), Some(3));
    }

    #[test]
    fn finds_all_whole_lines_without_rescanning() {
        let mut buffer = InputBuffer::new(32);
        buffer.push(b"abc");
        assert_eq!(buffer.lines_len(), None);
        assert_eq!(buffer.scanned, 3);
        buffer.push(b"d\nef\ngh");
        assert_eq!(buffer.lines_len(), Some(8), "up to the last newline");
        assert_eq!(buffer.take(8), b"abcd\nef\n");
        assert_eq!(buffer.lines_len(), None, "half a line is left");
        buffer.push(b"i\n");
        assert_eq!(buffer.lines_len(), Some(4));
    }

    #[test]
    fn reads_from_an_fd_up_to_capacity() {
        use std::io::Write;
        use std::os::fd::AsFd;
        let (reader, mut writer) = std::io::pipe().unwrap();
        writer.write_all(b"0123456789").unwrap();
        let mut buffer = InputBuffer::new(4);
        assert_eq!(buffer.read_from(reader.as_fd()).unwrap(), (4, 4));
        assert!(buffer.is_full());
        buffer.consume(3);
        assert_eq!(buffer.read_from(reader.as_fd()).unwrap(), (3, 3));
        assert_eq!(buffer.data(), b"3456");
    }

    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Push(Vec<u8>),
        Unread(Vec<u8>),
        Consume(usize),
        TakeLine,
        TakeLines,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            prop::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..40).prop_map(Op::Push),
            prop::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..20).prop_map(Op::Unread),
            (0usize..50).prop_map(Op::Consume),
            Just(Op::TakeLine),
            Just(Op::TakeLines),
        ]
    }

    proptest! {
        /// The buffer against a `VecDeque` model: same bytes, same lines,
        /// never more than its capacity, and no memory once empty.
        #[test]
        fn behaves_like_a_bounded_deque(capacity in 1usize..64, ops in prop::collection::vec(op(), 0..200)) {
            let mut buffer = InputBuffer::new(capacity);
            let mut model = std::collections::VecDeque::new();
            for op in ops {
                match op {
                    Op::Push(data) => {
                        let taken = buffer.push(&data);
                        prop_assert_eq!(taken, data.len().min(capacity - model.len()));
                        model.extend(&data[..taken]);
                    }
                    Op::Unread(data) => {
                        let fits = &data[..data.len().min(capacity - model.len())];
                        buffer.unread(fits);
                        for byte in fits.iter().rev() {
                            model.push_front(*byte);
                        }
                    }
                    Op::Consume(n) => {
                        let n = n.min(model.len());
                        buffer.consume(n);
                        model.drain(..n);
                    }
                    Op::TakeLine => {
                        let expected = model.iter().position(|b| *b == b'\n').map(|i| i + 1);
                        prop_assert_eq!(buffer.line_len(), expected);
                        if let Some(n) = expected {
                            prop_assert_eq!(buffer.take(n), model.drain(..n).collect::<Vec<_>>());
                        }
                    }
                    Op::TakeLines => {
                        let expected = model.iter().rposition(|b| *b == b'\n').map(|i| i + 1);
                        prop_assert_eq!(buffer.lines_len(), expected);
                        if let Some(n) = expected {
                            prop_assert_eq!(buffer.take(n), model.drain(..n).collect::<Vec<_>>());
                        }
                    }
                }
                let expected: Vec<u8> = model.iter().copied().collect();
                prop_assert_eq!(buffer.data(), expected.as_slice());
                prop_assert!(buffer.len() <= capacity);
                prop_assert!(!buffer.is_empty() || buffer.reserved() == 0);
            }
        }
    }

    #[test]
    #[should_panic(expected = "consume(3) of 2 buffered bytes")]
    fn consume_more_than_buffered_panics() {
        let mut buffer = InputBuffer::new(4);
        buffer.push(b"ab");
        buffer.consume(3);
    }
}
