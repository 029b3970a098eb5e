//! The bounded queue of bytes a channel could not write yet.

/// Default limit of a channel's write queue: 16 MiB.
pub const DEFAULT_WRITE_QUEUE_LIMIT: usize = 16 * 1024 * 1024;

pub(crate) struct WriteQueue {
    bytes: Vec<u8>,
    /// Bytes at the front of `bytes` already written.
    sent: usize,
    limit: usize,
}

/// Lengths, not bytes: a queue of megabytes would print megabytes.
impl std::fmt::Debug for WriteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteQueue").field("queued", &self.len()).field("limit", &self.limit).finish()
    }
}

impl WriteQueue {
    pub(crate) fn new(limit: usize) -> WriteQueue {
        WriteQueue { bytes: Vec::new(), sent: 0, limit }
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len() - self.sent
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Changes the limit; bytes already queued stay, even above it.
    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Room left before the limit.
    pub(crate) fn room(&self) -> usize {
        self.limit.saturating_sub(self.len())
    }

    /// The queued bytes, oldest first.
    pub(crate) fn front(&self) -> &[u8] {
        &self.bytes[self.sent..]
    }

    /// Appends `data`; the caller has checked [`room`](Self::room).
    ///
    /// The memory held stays within the limit (or what is queued, above a
    /// lowered limit): growth doubles only up to it, and the written front
    /// is dropped (the queued bytes moved to the start) only when the
    /// buffer could not stay within it otherwise.
    pub(crate) fn push(&mut self, data: &[u8]) {
        debug_assert!(data.len() <= self.room());
        let most = self.limit.max(self.len() + data.len());
        if self.bytes.len() + data.len() > most {
            self.bytes.drain(..self.sent);
            self.sent = 0;
        }
        let needed = self.bytes.len() + data.len();
        if needed > self.bytes.capacity() {
            let grown = (2 * self.bytes.capacity()).min(most).max(needed);
            self.bytes.reserve_exact(grown - self.bytes.len());
        }
        self.bytes.extend_from_slice(data);
    }

    /// Drops `n` written bytes from the front.
    pub(crate) fn advance(&mut self, n: usize) {
        self.sent += n;
        if self.sent == self.bytes.len() {
            // A drained queue holds no memory: an idle channel after a
            // burst costs nothing (a write that queues is the slow path).
            self.bytes = Vec::new();
            self.sent = 0;
        } else if self.sent > self.bytes.len() / 2 {
            self.bytes.drain(..self.sent);
            self.sent = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memory a queue holds stays within its limit, whatever the
    /// mix of writes and partial flushes (doubling a buffer whose front
    /// was written reserved up to four times the limit, and the written
    /// front itself was kept beside a full queue); a drained queue holds
    /// none (an idle channel after a burst).
    #[test]
    fn memory_stays_within_the_limit_and_goes_once_drained() {
        const LIMIT: usize = 10_000;
        let mut queue = WriteQueue::new(LIMIT);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let (mut most, mut model) = (0, std::collections::VecDeque::new());
        for i in 0..4_000u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if seed.is_multiple_of(3) {
                let n = (seed >> 8) as usize % (queue.len() + 1);
                queue.advance(n);
                model.drain(..n);
            } else {
                let len = ((seed >> 8) as usize % 3000).min(queue.room());
                let data: Vec<u8> = (0..len as u32).map(|j| (i ^ j) as u8).collect();
                queue.push(&data);
                model.extend(data);
            }
            assert!(queue.front().iter().eq(model.iter()), "bytes lost or out of order");
            most = most.max(queue.bytes.capacity());
            assert!(
                queue.bytes.capacity() <= LIMIT,
                "{} bytes held for {} queued",
                queue.bytes.capacity(),
                queue.len()
            );
        }
        assert!(most > LIMIT / 2, "the queue never filled: {most}");
        queue.push(b"abc");
        queue.advance(queue.len());
        assert_eq!(queue.bytes.capacity(), 0, "a drained queue holds memory");
    }

    #[test]
    fn keeps_order_across_partial_writes() {
        let mut queue = WriteQueue::new(10);
        queue.push(b"abcdef");
        queue.advance(4);
        queue.push(b"gh");
        assert_eq!(queue.front(), b"efgh");
        assert_eq!(queue.room(), 6);
        queue.advance(4);
        assert!(queue.is_empty());
    }
}
