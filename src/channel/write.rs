//! A channel's write side: what the fd takes now is written, the rest
//! queued (bounded: a write that does not fit is refused whole) and flushed
//! by the next write, `flush()` or the reactor.

use std::io;
use std::os::fd::AsFd;

use super::Channel;
use super::ends::{Ends, is_peer_gone};
use super::write_queue::WriteQueue;
use crate::error::{Error, Result};
use crate::sys;

impl Channel {
    /// Writes `data` without blocking: what the fd won't take now is queued
    /// and flushed, in order, by the next write, [`flush`](Channel::flush)
    /// or the reactor.
    ///
    /// `Err(Error::EndpointClosed)` when the reader is gone (never a
    /// SIGPIPE); `Err(Error::QueueFull)` when `data` does not fit in the
    /// queue, and then none of it is taken.
    #[inline]
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        if !self.output.is_empty() {
            return self.write_chunks(std::slice::from_ref(&data));
        }
        // The usual request, with nothing queued: `write_chunks`'s path
        // for one chunk without its loop (a request's path in ping-pong).
        self.writable_check()?;
        self.terminal_check()?;
        if data.len() > self.output.room() {
            return Err(self.queue_full(data.len()));
        }
        let written = self.write_now(data)?;
        if written < data.len() {
            self.output.push(&data[written..]);
        }
        Ok(())
    }

    /// Writes several chunks as one write: all of them are taken, or none.
    pub fn write_chunks(&mut self, chunks: &[&[u8]]) -> Result<()> {
        self.writable_check()?;
        self.terminal_check()?;
        // With nothing queued a flush has nothing to do (its close once
        // flushed was refused above): the usual request skips it.
        if !self.output.is_empty() {
            self.flush()?;
        }
        let total: usize = chunks.iter().map(|c| c.len()).sum();
        if total > self.output.room() {
            return Err(self.queue_full(total));
        }
        for chunk in chunks {
            let written = if self.output.is_empty() { self.write_now(chunk)? } else { 0 };
            if written < chunk.len() {
                self.output.push(&chunk[written..]);
            }
        }
        Ok(())
    }

    #[cold]
    fn queue_full(&self, requested: usize) -> Error {
        Error::QueueFull { alias: None, queued: self.output.len(), requested, limit: self.output.limit() }
    }

    /// Refuses, as [`write`](Channel::write) would, `len` bytes that do
    /// not fit in the write queue once what it holds is flushed as far as
    /// the fd takes it; writes none of them. A write side that is gone is
    /// not this check's to report: the write itself reports it.
    pub(crate) fn check_room(&mut self, len: usize) -> Result<()> {
        if !self.output.is_empty() && self.flush().is_err() {
            return Ok(());
        }
        if len > self.output.room() {
            return Err(self.queue_full(len));
        }
        Ok(())
    }

    /// Pushes queued bytes to the fd now, as far as it takes them without
    /// blocking.
    pub fn flush(&mut self) -> Result<()> {
        while !self.output.is_empty() {
            let res = self.ends.write(self.output.front());
            let n = self.written(res)?;
            if n == 0 {
                return Ok(());
            }
            self.output.advance(n);
        }
        if self.close_write_when_flushed {
            self.close_write();
        }
        Ok(())
    }

    /// Bytes queued and not yet written.
    pub fn queued(&self) -> usize {
        self.output.len()
    }

    /// A terminal's master side takes writes (until its buffer fills) even
    /// after its slave side closed: the end of stream read from it (its
    /// `EIO`), or a hang-up that poll(2) reports, says the program is gone.
    #[inline]
    fn terminal_check(&mut self) -> Result<()> {
        let Ends::Terminal { fd } = &self.ends else { return Ok(()) };
        if self.eof || sys::hung_up(fd.as_fd()) {
            self.write_broken = true;
            self.output = WriteQueue::new(self.output.limit());
            return Err(Error::EndpointClosed);
        }
        Ok(())
    }

    #[inline]
    fn writable_check(&self) -> Result<()> {
        if self.write_broken || self.close_write_when_flushed || self.write_fd().is_none() {
            Err(Error::EndpointClosed)
        } else {
            Ok(())
        }
    }

    /// One non-blocking write; 0 when the fd takes nothing now.
    #[inline]
    fn write_now(&mut self, data: &[u8]) -> Result<usize> {
        let res = self.ends.write(data);
        self.written(res)
    }

    /// Maps a write's result: would-block is 0 bytes, a gone reader breaks
    /// the write side for good.
    #[inline]
    fn written(&mut self, res: io::Result<usize>) -> Result<usize> {
        match res {
            Ok(n) => Ok(n),
            Err(e) => self.write_failed(e),
        }
    }

    /// [`written`](Self::written) of a failed write, out of the way of
    /// the usual one.
    #[cold]
    fn write_failed(&mut self, e: io::Error) -> Result<usize> {
        if e.kind() == io::ErrorKind::WouldBlock {
            Ok(0)
        } else if is_peer_gone(&e) {
            self.write_broken = true;
            self.output = WriteQueue::new(self.output.limit());
            Err(Error::EndpointClosed)
        } else {
            Err(e.into())
        }
    }
}
