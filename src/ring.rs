//! The bounded input buffer of one channel.
//!
//! It is a ring that keeps its bytes contiguous: instead of wrapping around,
//! it moves the (usually short) unread bytes to the front when the free space
//! at the end gets smaller than the gap before them. So every line and every chunk is one slice, handed
//! over without joining two halves. Its memory is taken on first use, so
//! thousands of idle channels cost nothing here.

/// Default capacity of a channel's input buffer: 64 KiB.
pub const DEFAULT_INPUT_CAPACITY: usize = 64 * 1024;

#[derive(Debug, Default)]
pub(crate) struct RingBuffer {
    buf: Vec<u8>,
    capacity: usize,
    start: usize,
    end: usize,
    /// Bytes from `start` already searched for a newline without finding one.
    scanned: usize,
}

impl RingBuffer {
    pub(crate) fn new(capacity: usize) -> RingBuffer {
        assert!(capacity > 0, "a ring buffer needs a capacity above zero");
        RingBuffer { capacity, ..RingBuffer::default() }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len() == self.capacity
    }

    /// The buffered bytes, oldest first.
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Drops the first `n` buffered bytes.
    ///
    /// # Panics
    ///
    /// If fewer than `n` bytes are buffered.
    pub(crate) fn consume(&mut self, n: usize) {
        assert!(n <= self.len(), "consume({n}) of {} buffered bytes", self.len());
        self.start += n;
        self.scanned = self.scanned.saturating_sub(n);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// The free space after the buffered bytes, for a `read(2)`; empty when full.
    /// Pair it with [`commit`](Self::commit).
    pub(crate) fn spare(&mut self) -> &mut [u8] {
        if self.buf.is_empty() {
            self.buf = vec![0; self.capacity];
        }
        // Move the unread bytes to the front once the gap there is the
        // bigger one, so reads stay large and the copy stays rare.
        if self.start > self.capacity - self.end {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }

    /// Marks `n` bytes written into [`spare`](Self::spare) as buffered.
    pub(crate) fn commit(&mut self, n: usize) {
        assert!(self.end + n <= self.buf.len(), "commit past the buffer's end");
        self.end += n;
    }

    /// Appends as much of `data` as fits; returns how much that was.
    #[cfg(test)]
    pub(crate) fn push(&mut self, data: &[u8]) -> usize {
        let spare = self.spare();
        let n = spare.len().min(data.len());
        spare[..n].copy_from_slice(&data[..n]);
        self.commit(n);
        n
    }

    /// The length of the first whole line (with its `\n`), if one is buffered.
    pub(crate) fn line_len(&mut self) -> Option<usize> {
        let data = &self.buf[self.start + self.scanned..self.end];
        match memchr::memchr(b'\n', data) {
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
    fn no_memory_until_first_use() {
        let ring = RingBuffer::new(1024);
        assert_eq!(ring.buf.capacity(), 0);
    }

    #[test]
    fn push_consume_and_compact() {
        let mut ring = RingBuffer::new(8);
        assert_eq!(ring.push(b"abcdef"), 6);
        ring.consume(4);
        assert_eq!(ring.push(b"ghijklmn"), 6, "compacts, then takes what fits");
        assert_eq!(ring.data(), b"efghijkl");
        assert!(ring.is_full());
        assert!(ring.spare().is_empty());
    }

    #[test]
    fn finds_lines_without_rescanning() {
        let mut ring = RingBuffer::new(16);
        ring.push(b"abc");
        assert_eq!(ring.line_len(), None);
        assert_eq!(ring.scanned, 3);
        ring.push(b"d\nef\n");
        assert_eq!(ring.line_len(), Some(5));
        assert_eq!(ring.take(5), b"abcd\n");
        assert_eq!(ring.line_len(), Some(3));
    }

    #[test]
    #[should_panic(expected = "consume(3) of 2 buffered bytes")]
    fn consume_more_than_buffered_panics() {
        let mut ring = RingBuffer::new(4);
        ring.push(b"ab");
        ring.consume(3);
    }
}
