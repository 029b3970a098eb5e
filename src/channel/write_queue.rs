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
    pub(crate) fn push(&mut self, data: &[u8]) {
        debug_assert!(data.len() <= self.room());
        self.bytes.extend_from_slice(data);
    }

    /// Drops `n` written bytes from the front.
    pub(crate) fn advance(&mut self, n: usize) {
        self.sent += n;
        if self.sent == self.bytes.len() {
            // Hand big buffers back once drained, so a burst doesn't pin memory.
            if self.bytes.capacity() > 64 * 1024 {
                self.bytes = Vec::new();
            }
            self.bytes.clear();
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
