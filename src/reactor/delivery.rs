//! The delivery buffer: where a handed-over piece's bytes sit while the
//! handler runs, apart from the channel (which the handler may read,
//! pause or unregister meanwhile).
//!
//! In line mode it also keeps a batch: the whole lines a channel's buffer
//! (or one read) held after the line handed over, copied here in the same
//! go, for `batch.rs` to hand over one by one. They stay in the channel's
//! buffer meanwhile, so that buffer is always the truth.

use super::Step;
use crate::channel::Channel;
use crate::token::Token;

/// The most bytes copied out of a channel's buffer as one batch.
const MAX_BATCH: usize = 64 * 1024;

/// The least a batch is allowed to shrink to.
const MIN_BATCH: usize = 256;

/// Owned by whoever runs a poll loop (the Reactor or the Runner), so a
/// nested loop with its own delivery buffer never hands over another's batch.
#[derive(Debug)]
pub(crate) struct Delivery {
    buf: Vec<u8>,
    lines: Option<Lines>,
    /// How much the next batch may copy: quartered when a handler cuts a
    /// batch short, doubled when one is handed over whole, so a handler
    /// that reads the channel after every line does not make each line
    /// copy the whole buffer again.
    batch_limit: usize,
}

impl Default for Delivery {
    fn default() -> Delivery {
        Delivery { buf: Vec::new(), lines: None, batch_limit: MAX_BATCH }
    }
}

/// Whole lines in `buf[at..end]`, still the first bytes of `token`'s input
/// buffer as long as that buffer has handed over `mark` bytes in all.
#[derive(Debug)]
pub(crate) struct Lines {
    token: Token,
    at: usize,
    end: usize,
    pub(crate) mark: u64,
}

impl Delivery {
    /// The bytes of a `Step::Data`.
    pub(crate) fn bytes(&self, at: usize, len: usize) -> &[u8] {
        &self.buf[at..at + len]
    }

    /// Takes out `token`'s batch: the whole lines copied here after the
    /// piece just handed over.
    pub(crate) fn take_lines(&mut self, token: Token) -> Option<Lines> {
        self.lines.take_if(|l| l.token == token)
    }

    /// The lines of a batch, each with its `\n`.
    pub(crate) fn lines(&self, lines: &Lines) -> impl Iterator<Item = &[u8]> {
        let bytes = &self.buf[lines.at..lines.end];
        let mut start = 0;
        memchr::memchr_iter(b'\n', bytes).map(move |end| {
            let line = &bytes[start..=end];
            start = end + 1;
            line
        })
    }

    /// How a batch ended: handed over whole, or cut short by a handler
    /// that read, paused or dropped its channel (then the next batch copies
    /// less, as its lines are likely to be cut short too).
    pub(crate) fn batch_done(&mut self, whole: bool) {
        self.batch_limit =
            if whole { (self.batch_limit * 2).min(MAX_BATCH) } else { (self.batch_limit / 4).max(MIN_BATCH) };
    }

    /// The bytes of `token`'s batch, if it has one.
    pub(crate) fn batch_len(&self, token: Token) -> usize {
        self.lines.as_ref().filter(|l| l.token == token).map_or(0, |l| l.end - l.at)
    }

    /// Hands over the channel's first `len` buffered bytes; in line mode,
    /// copies every whole line buffered after them too, as a batch.
    pub(crate) fn hand_buffered(&mut self, token: Token, channel: &mut Channel, len: usize) -> Step {
        let data = channel.buffered_bytes();
        let whole = if channel.is_line_buffered() && data[len - 1] == b'\n' {
            let limit = self.batch_limit.clamp(len, data.len());
            memchr::memrchr(b'\n', &data[len..limit]).map_or(len, |i| len + i + 1)
        } else {
            len
        };
        self.lines = None;
        grow_to(&mut self.buf, whole);
        self.buf[..whole].copy_from_slice(&data[..whole]);
        channel.consume(len);
        self.start_batch(token, channel, len, whole);
        Step::Data { token, at: 0, len }
    }

    /// Room for one direct read of `capacity` bytes at the front; any batch
    /// there is dropped (its lines are still in their channel's buffer).
    pub(crate) fn read_space(&mut self, capacity: usize) -> &mut [u8] {
        self.lines = None;
        grow_to(&mut self.buf, capacity);
        &mut self.buf[..capacity]
    }

    /// After a direct read of `n` bytes into the front in line mode: the
    /// first line, if there is a whole one. Everything after it goes to
    /// the channel's buffer; further whole lines also stay here as a batch.
    pub(crate) fn hand_read_lines(&mut self, token: Token, channel: &mut Channel, n: usize) -> Option<Step> {
        let read = &self.buf[..n];
        let Some(first) = memchr::memchr(b'\n', read).map(|i| i + 1) else {
            channel.buffer(read);
            return None;
        };
        let whole = memchr::memrchr(b'\n', read).map_or(first, |i| i + 1);
        if whole == first {
            channel.buffer(&read[first..]);
        } else {
            // The channel's buffer must hold the batch too: it stays the truth.
            channel.buffer(read);
            channel.consume(first);
            self.start_batch(token, channel, first, whole);
        }
        Some(Step::Data { token, at: 0, len: first })
    }

    fn start_batch(&mut self, token: Token, channel: &Channel, at: usize, end: usize) {
        if end > at {
            self.lines = Some(Lines { token, at, end, mark: channel.consumed() });
        }
    }
}

fn grow_to(buf: &mut Vec<u8>, len: usize) {
    if buf.len() < len {
        buf.resize(len, 0);
    }
}
