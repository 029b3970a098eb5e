//! A channel's read side: its bounded input buffer, filled from the fd and
//! handed over a piece at a time by `read()`. A reactor reads straight into
//! its own scratch buffer instead, and keeps here only what its handler has
//! not taken yet (a partial line, input put back or held while paused).

use std::io;

use super::Channel;
use super::ends::is_peer_gone;
use super::input_buffer::InputBuffer;
use crate::Buffering;
use crate::error::{Error, Result};
use crate::sys;

/// What one `read(2)` into the input buffer gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// This many bytes; fewer than asked means the fd is drained for now.
    Read {
        n: usize,
        asked: usize,
    },
    WouldBlock,
    Eof,
    /// The input buffer is full: the fd is left alone until it drains.
    Full,
}

impl Channel {
    /// Reads what is available now, without blocking.
    ///
    /// Returns the buffered bytes first, then what the fd has; empty when
    /// nothing is there. In line mode, one whole line or nothing; in
    /// whole-lines mode, all the whole lines there are or nothing. At end of
    /// stream, every buffered byte first (a last partial line too), then
    /// `Err(Error::EndpointClosed)`, which a write-only channel also gives.
    /// After [`close`](Channel::close), the bytes buffered before it are
    /// still returned the same way, then `Err(Error::EndpointClosed)`.
    ///
    /// In line mode, a read that leaves half a line reads once more when it
    /// would otherwise return nothing, to see whether the stream ended: a
    /// last line without `\n` comes in the very call that reads it.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use procloop::{Channel, Error};
    ///
    /// let (ours, theirs) = UnixStream::pair()?;
    /// let mut channel = Channel::from_unix(ours)?.line_buffered();
    /// std::io::Write::write_all(&mut &theirs, b"last")?;
    /// drop(theirs);
    /// assert_eq!(channel.read()?, b"last");
    /// assert!(matches!(channel.read(), Err(Error::EndpointClosed)));
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn read(&mut self) -> Result<Vec<u8>> {
        if let Some(n) = self.piece_len() {
            return Ok(self.take(n));
        }
        if self.read_fd().is_none() {
            return Err(Error::EndpointClosed);
        }
        let mut short_read = false;
        while !self.eof {
            match self.fill_input()? {
                Fill::Read { n, asked } if n == asked => continue,
                Fill::Read { .. } => {
                    short_read = true;
                    break;
                }
                _ => break,
            }
        }
        if short_read && self.cuts_at_lines() && !self.eof && self.piece_len().is_none() {
            // Half a line and nothing to return: the writer may be gone,
            // which only one more read can tell.
            self.fill_input()?;
        }
        match self.piece_len() {
            Some(n) => Ok(self.take(n)),
            None if self.eof => Err(Error::EndpointClosed),
            None => Ok(Vec::new()),
        }
    }

    /// Reads everything available now, as in byte mode, whatever the
    /// channel's mode: whole lines and a trailing partial line together
    /// (a prompt such as `>>> ` that will not end with a newline until
    /// answered). Empty when nothing is there; the channel's mode goes on
    /// for the next `read`.
    ///
    /// ```
    /// use procloop::testing::TestChannel;
    ///
    /// let (channel, mut peer) = TestChannel::pair();
    /// let mut channel = channel.line_buffered();
    /// peer.put(b"Name? ");
    /// assert_eq!(channel.read()?, b"", "half a line is not a line");
    /// assert_eq!(channel.read_available()?, b"Name? ");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn read_available(&mut self) -> Result<Vec<u8>> {
        let buffering = std::mem::replace(&mut self.buffering, Buffering::Bytes);
        let read = self.read();
        self.buffering = buffering;
        read
    }

    /// Reads what the fd holds now into the buffer, before the fd closes:
    /// up to the buffer's capacity; what does not fit is logged as dropped.
    pub(crate) fn keep_arrived_input(&mut self) {
        while !self.eof && self.read_fd().is_some() {
            match self.fill_input() {
                Ok(Fill::Read { .. }) => continue,
                Ok(Fill::Full) => {
                    let left = self.read_fd().map(sys::bytes_readable);
                    if let Some(Ok(n)) = left.filter(|n| !matches!(n, Ok(0))) {
                        log::warn!("closing a channel with a full buffer drops {n} bytes that had arrived");
                    }
                    break;
                }
                Ok(Fill::WouldBlock | Fill::Eof) => break,
                Err(e) => {
                    log::debug!("reading what had arrived before a close: {e}");
                    break;
                }
            }
        }
    }

    /// The length of the next piece `read` would hand over from the buffer.
    pub(crate) fn piece_len(&mut self) -> Option<usize> {
        if self.input.is_empty() {
            return None;
        }
        let whole = match self.buffering {
            Buffering::Bytes => return Some(self.input.len()),
            Buffering::Line => self.input.line_len(),
            Buffering::WholeLines => self.input.lines_len(),
        };
        match whole {
            Some(n) => Some(n),
            None if self.input.is_full() || self.eof => Some(self.input.len()),
            None => None,
        }
    }

    /// The length of the whole lines buffered (up to the last `\n`), if
    /// there is one at least: a reactor hands them as one batch.
    pub(crate) fn whole_lines_len(&mut self) -> Option<usize> {
        self.input.lines_len()
    }

    /// Takes the first `n` buffered bytes for `read`'s caller.
    fn take(&mut self, n: usize) -> Vec<u8> {
        self.taken += n as u64;
        let piece = self.input.take(n);
        if let Some(&last) = piece.last() {
            self.mid_line = last != b'\n';
        }
        piece
    }

    /// Notes `piece` handed over by a Runner's loop; whether it starts a
    /// line (the last byte handed before it was a newline, or none was).
    #[inline]
    pub(crate) fn hand_piece(&mut self, piece: &[u8]) -> bool {
        let starts = !self.mid_line;
        if let Some(&last) = piece.last() {
            self.mid_line = last != b'\n';
        }
        starts
    }

    /// Sets whether the next piece continues a line, where a Runner's loop
    /// knows without a piece at hand (whole lines handed, or the end of a
    /// piece put back to be handed again).
    #[inline]
    pub(crate) fn set_mid_line(&mut self, mid_line: bool) {
        self.mid_line = mid_line;
    }

    /// Bytes `read` returned, in all (not those a reactor handed over).
    pub(crate) fn taken(&self) -> u64 {
        self.taken
    }

    /// The buffered bytes, for a reactor that hands a piece over.
    pub(crate) fn buffered_bytes(&self) -> &[u8] {
        self.input.data()
    }

    /// Drops `n` handed-over bytes from the buffer.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        self.input.consume(n);
    }

    pub(crate) fn input_is_full(&self) -> bool {
        self.input.is_full()
    }

    pub(crate) fn input_capacity(&self) -> usize {
        self.input.capacity()
    }

    /// One `read(2)` into the input buffer.
    pub(crate) fn fill_input(&mut self) -> Result<Fill> {
        let Some(fd) = self.ends.read_fd() else { return Ok(Fill::Eof) };
        if self.input.is_full() {
            return Ok(Fill::Full);
        }
        let fill = match self.input.read_from(fd) {
            Ok((n, asked)) => read_outcome(Ok(n), asked)?,
            Err(e) => read_outcome(Err(e), 0)?,
        };
        self.eof |= fill == Fill::Eof;
        Ok(fill)
    }

    /// Buffers bytes already read from the fd (they fit: the buffer was
    /// empty and they came from one read of at most its capacity).
    pub(crate) fn buffer(&mut self, data: &[u8]) {
        let taken = self.input.push(data);
        debug_assert_eq!(taken, data.len());
    }

    /// Puts bytes a reactor had read but not handed over back in front of
    /// the buffered ones.
    pub(crate) fn unread(&mut self, data: &[u8]) {
        self.input.unread(data);
    }

    /// The memory its input buffer holds now, in bytes.
    #[cfg(test)]
    pub(crate) fn input_reserved(&self) -> usize {
        self.input.reserved()
    }

    /// Notes end of stream, seen by a reactor's own read.
    pub(crate) fn set_eof(&mut self) {
        self.eof = true;
    }

    /// What a failed read of a reactor's own says: `WouldBlock`, `Eof`
    /// (the peer is gone; noted), or the error.
    pub(crate) fn read_failed(&mut self, e: io::Error) -> Result<Fill> {
        let fill = read_outcome(Err(e), 0)?;
        self.eof |= fill == Fill::Eof;
        Ok(fill)
    }

    /// Marks the read side finished after a read error.
    pub(crate) fn fail_read(&mut self) {
        self.eof = true;
        self.input = InputBuffer::new(self.input.capacity());
    }
}

fn read_outcome(res: io::Result<usize>, asked: usize) -> Result<Fill> {
    match res {
        Ok(0) => Ok(Fill::Eof),
        Ok(n) => Ok(Fill::Read { n, asked }),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Fill::WouldBlock),
        Err(e) if is_peer_gone(&e) => Ok(Fill::Eof),
        Err(e) => Err(e.into()),
    }
}
