//! [`Channel`]: the non-blocking read/write facade over one pipe pair or one
//! stream socket.

use std::io;
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use crate::error::{Error, Result};
use crate::ring::{DEFAULT_INPUT_CAPACITY, RingBuffer};
use crate::sys;
use crate::write_queue::{DEFAULT_WRITE_QUEUE_LIMIT, WriteQueue};

/// A non-blocking byte channel to a child process or a peer.
///
/// It reads and writes without ever blocking, with or without a
/// [`Reactor`](crate::Reactor): [`read`](Channel::read) returns what is
/// there now, [`write`](Channel::write) queues what the fd won't take now.
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use procloop::Channel;
///
/// let (ours, theirs) = UnixStream::pair()?;
/// let mut channel = Channel::from_unix(ours)?;
/// let mut peer = Channel::from_unix(theirs)?;
/// channel.write(b"hello")?;
/// assert_eq!(peer.read()?, b"hello");
/// assert_eq!(peer.read()?, b"", "nothing more for now");
/// # Ok::<(), procloop::Error>(())
/// ```
#[derive(Debug)]
pub struct Channel {
    ends: Ends,
    input: RingBuffer,
    output: WriteQueue,
    line_mode: bool,
    /// The read side reached end of stream.
    eof: bool,
    /// The write side failed with EPIPE: the reader is gone.
    write_broken: bool,
    /// `close_write` was asked for while bytes were still queued.
    close_write_when_flushed: bool,
}

#[derive(Debug)]
enum Ends {
    Pipe {
        faucet: Option<OwnedFd>,
        sink: Option<OwnedFd>,
    },
    Socket {
        fd: OwnedFd,
        write_open: bool,
    },
    /// A pseudo-terminal's master side.
    Terminal {
        fd: OwnedFd,
    },
    Closed,
}

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
    /// A channel over a pipe pair: `faucet` is the read end, `sink` the
    /// write end; either may be `None` for a one-way channel. Both are made
    /// non-blocking.
    ///
    /// ```
    /// use procloop::Channel;
    ///
    /// let (read_end, write_end) = std::io::pipe()?;
    /// let mut channel = Channel::from_pipe(Some(read_end.into()), Some(write_end.into()))?;
    /// channel.write(b"loop")?;
    /// assert_eq!(channel.read()?, b"loop");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn from_pipe(faucet: Option<OwnedFd>, sink: Option<OwnedFd>) -> Result<Channel> {
        for fd in faucet.iter().chain(sink.iter()) {
            sys::set_nonblocking(fd.as_fd())?;
        }
        Ok(Channel::new(Ends::Pipe { faucet, sink }))
    }

    /// A channel over a connected UNIX stream socket, made non-blocking.
    pub fn from_unix(stream: UnixStream) -> Result<Channel> {
        stream.set_nonblocking(true)?;
        Ok(Channel::new(Ends::Socket { fd: stream.into(), write_open: true }))
    }

    /// A channel over a connected TCP stream, made non-blocking.
    pub fn from_tcp(stream: TcpStream) -> Result<Channel> {
        stream.set_nonblocking(true)?;
        Ok(Channel::new(Ends::Socket { fd: stream.into(), write_open: true }))
    }

    /// A channel over one socket fd that is already non-blocking.
    pub(crate) fn from_socket_fd(fd: OwnedFd) -> Channel {
        Channel::new(Ends::Socket { fd, write_open: true })
    }

    /// A channel over a pseudo-terminal's master side (non-blocking already).
    pub(crate) fn from_terminal(fd: OwnedFd) -> Channel {
        Channel::new(Ends::Terminal { fd })
    }

    /// A channel over fresh pipe ends that are already non-blocking.
    pub(crate) fn from_nonblocking_pipe(faucet: Option<OwnedFd>, sink: Option<OwnedFd>) -> Channel {
        Channel::new(Ends::Pipe { faucet, sink })
    }

    fn new(ends: Ends) -> Channel {
        Channel {
            ends,
            input: RingBuffer::new(DEFAULT_INPUT_CAPACITY),
            output: WriteQueue::new(DEFAULT_WRITE_QUEUE_LIMIT),
            line_mode: false,
            eof: false,
            write_broken: false,
            close_write_when_flushed: false,
        }
    }

    /// Line mode: [`read`](Channel::read) (and a reactor's data events) hand
    /// over exactly one whole line, `\n` included, or nothing.
    ///
    /// A line longer than the input buffer comes in buffer-sized pieces
    /// rather than stalling the channel; a last line without `\n` comes at
    /// end of stream.
    pub fn line_buffered(mut self) -> Channel {
        self.line_mode = true;
        self
    }

    /// Sets line mode on or off in place.
    pub fn set_line_buffered(&mut self, on: bool) {
        self.line_mode = on;
    }

    /// Whether the channel is in line mode.
    pub fn is_line_buffered(&self) -> bool {
        self.line_mode
    }

    /// Sets the input buffer's capacity (default 64 KiB): the most a channel
    /// holds before its reactor stops reading it, and the longest line piece.
    ///
    /// # Panics
    ///
    /// If `bytes` is zero, or if bytes are buffered already.
    pub fn with_input_capacity(mut self, bytes: usize) -> Channel {
        assert!(self.input.is_empty(), "input capacity changed with bytes buffered");
        self.input = RingBuffer::new(bytes);
        self
    }

    /// Sets the write queue's limit (default 16 MiB).
    ///
    /// Bytes already queued stay queued, even above a lower limit; new
    /// writes then wait for room.
    pub fn with_write_queue_limit(mut self, bytes: usize) -> Channel {
        self.output.set_limit(bytes);
        self
    }

    /// Reads what is available now, without blocking.
    ///
    /// Returns the buffered bytes first, then what the fd has; empty when
    /// nothing is there. In line mode, one whole line or nothing. At end of
    /// stream, every buffered byte first (a last partial line too), then
    /// `Err(Error::EndpointClosed)`, which a closed or write-only channel
    /// also gives.
    pub fn read(&mut self) -> Result<Vec<u8>> {
        if let Some(n) = self.piece_len() {
            return Ok(self.input.take(n));
        }
        if self.read_fd().is_none() {
            return Err(Error::EndpointClosed);
        }
        while !self.eof {
            match self.fill_input()? {
                Fill::Read { n, asked } if n == asked => continue,
                _ => break,
            }
        }
        match self.piece_len() {
            Some(n) => Ok(self.input.take(n)),
            None if self.eof => Err(Error::EndpointClosed),
            None => Ok(Vec::new()),
        }
    }

    /// Writes `data` without blocking: what the fd won't take now is queued
    /// and flushed, in order, by the next write, [`flush`](Channel::flush)
    /// or the reactor.
    ///
    /// `Err(Error::EndpointClosed)` when the reader is gone (never a
    /// SIGPIPE); `Err(Error::QueueFull)` when `data` does not fit in the
    /// queue, and then none of it is taken.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        self.write_chunks(&[data])
    }

    /// Writes several chunks as one write: all of them are taken, or none.
    pub fn write_chunks(&mut self, chunks: &[&[u8]]) -> Result<()> {
        self.writable_check()?;
        self.flush()?;
        let total: usize = chunks.iter().map(|c| c.len()).sum();
        if total > self.output.room() {
            return Err(Error::QueueFull {
                queued: self.output.len(),
                requested: total,
                limit: self.output.limit(),
            });
        }
        for chunk in chunks {
            let written = if self.output.is_empty() { self.write_now(chunk)? } else { 0 };
            self.output.push(&chunk[written..]);
        }
        Ok(())
    }

    /// Pushes queued bytes to the fd now, as far as it takes them without
    /// blocking.
    pub fn flush(&mut self) -> Result<()> {
        while !self.output.is_empty() {
            let res = write_to(&self.ends, self.output.front());
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

    /// Releases the fds; `read` and `write` then give `EndpointClosed`.
    /// Unread input and unwritten output are dropped.
    pub fn close(&mut self) {
        self.ends = Ends::Closed;
        self.input = RingBuffer::new(self.input.capacity());
        self.output = WriteQueue::new(self.output.limit());
    }

    /// Half-closes: the peer reads end of stream once the queued bytes are
    /// written (a child sees its stdin's EOF), and reading goes on.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use procloop::{Channel, Error};
    ///
    /// let (ours, theirs) = UnixStream::pair()?;
    /// let (mut ours, mut theirs) = (Channel::from_unix(ours)?, Channel::from_unix(theirs)?);
    /// ours.write(b"last words")?;
    /// ours.close_write();
    /// assert_eq!(theirs.read()?, b"last words");
    /// assert!(matches!(theirs.read(), Err(Error::EndpointClosed)));
    /// theirs.write(b"still heard")?;
    /// assert_eq!(ours.read()?, b"still heard");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn close_write(&mut self) {
        if !self.output.is_empty() && !self.write_broken {
            self.close_write_when_flushed = true;
            return;
        }
        self.close_write_when_flushed = false;
        match &mut self.ends {
            Ends::Pipe { sink, .. } => *sink = None,
            Ends::Socket { fd, write_open } => {
                if *write_open {
                    *write_open = false;
                    if let Err(e) = sys::shutdown_write(fd.as_fd()) {
                        log::debug!("shutdown(SHUT_WR): {e}");
                    }
                }
            }
            // A terminal has no half-close: its end-of-file character is
            // what a reading program takes as end of input.
            Ends::Terminal { fd } => {
                if let Err(e) = sys::write(fd.as_fd(), b"\x04") {
                    log::debug!("writing EOF to a terminal: {e}");
                }
            }
            Ends::Closed => {}
        }
    }

    /// The fd to read from (the seed's `get_fd()`); `None` when write-only
    /// or closed.
    pub fn read_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.ends {
            Ends::Pipe { faucet, .. } => faucet.as_ref().map(|fd| fd.as_fd()),
            Ends::Socket { fd, .. } | Ends::Terminal { fd } => Some(fd.as_fd()),
            Ends::Closed => None,
        }
    }

    /// The fd to write to; `None` when read-only, half-closed or closed.
    pub fn write_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.ends {
            Ends::Pipe { sink, .. } => sink.as_ref().map(|fd| fd.as_fd()),
            Ends::Socket { fd, write_open: true } | Ends::Terminal { fd } => Some(fd.as_fd()),
            _ => None,
        }
    }

    /// Whether the read side has reached end of stream (buffered bytes may
    /// still be unread).
    pub fn at_eof(&self) -> bool {
        self.eof
    }

    /// Bytes buffered and not yet read.
    pub fn buffered(&self) -> usize {
        self.input.len()
    }

    /// Whether this is a pseudo-terminal's master side (a `pty` app's channel).
    pub fn is_terminal(&self) -> bool {
        matches!(self.ends, Ends::Terminal { .. })
    }

    /// Whether reading and writing share one fd (a socket or a terminal).
    pub(crate) fn is_single_fd(&self) -> bool {
        matches!(self.ends, Ends::Socket { .. } | Ends::Terminal { .. })
    }

    /// The length of the next piece `read` would hand over from the buffer.
    pub(crate) fn piece_len(&mut self) -> Option<usize> {
        if self.input.is_empty() {
            return None;
        }
        if !self.line_mode {
            return Some(self.input.len());
        }
        match self.input.line_len() {
            Some(n) => Some(n),
            None if self.input.is_full() || self.eof => Some(self.input.len()),
            None => None,
        }
    }

    /// The buffered bytes, for a reactor that hands a piece over.
    pub(crate) fn buffered_bytes(&self) -> &[u8] {
        self.input.data()
    }

    /// Drops `n` handed-over bytes from the buffer.
    pub(crate) fn consume(&mut self, n: usize) {
        self.input.consume(n);
    }

    /// How many bytes left the input buffer since it was made.
    pub(crate) fn consumed(&self) -> u64 {
        self.input.consumed()
    }

    pub(crate) fn input_is_full(&self) -> bool {
        self.input.is_full()
    }

    pub(crate) fn input_capacity(&self) -> usize {
        self.input.capacity()
    }

    /// One `read(2)` into the input buffer.
    pub(crate) fn fill_input(&mut self) -> Result<Fill> {
        let Some(fd) = read_end(&self.ends) else { return Ok(Fill::Eof) };
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
        if data.is_empty() {
            return;
        }
        let taken = self.input.push(data);
        debug_assert_eq!(taken, data.len());
    }

    /// One `read(2)` straight into `buf`, by-passing the input buffer; for
    /// byte mode with nothing buffered.
    pub(crate) fn read_direct(&mut self, buf: &mut [u8]) -> Result<Fill> {
        let Some(fd) = read_end(&self.ends) else { return Ok(Fill::Eof) };
        let fill = read_outcome(sys::read(fd, buf), buf.len())?;
        self.eof |= fill == Fill::Eof;
        Ok(fill)
    }

    /// Marks the read side finished after a read error.
    pub(crate) fn fail_read(&mut self) {
        self.eof = true;
        self.input = RingBuffer::new(self.input.capacity());
    }

    fn writable_check(&self) -> Result<()> {
        if self.write_broken || self.close_write_when_flushed || self.write_fd().is_none() {
            Err(Error::EndpointClosed)
        } else {
            Ok(())
        }
    }

    /// One non-blocking write; 0 when the fd takes nothing now.
    fn write_now(&mut self, data: &[u8]) -> Result<usize> {
        let res = write_to(&self.ends, data);
        self.written(res)
    }

    /// Maps a write's result: would-block is 0 bytes, a gone reader breaks
    /// the write side for good.
    fn written(&mut self, res: io::Result<usize>) -> Result<usize> {
        match res {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) if is_peer_gone(&e) => {
                self.write_broken = true;
                self.output = WriteQueue::new(self.output.limit());
                Err(Error::EndpointClosed)
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn write_to(ends: &Ends, data: &[u8]) -> io::Result<usize> {
    match ends {
        Ends::Pipe { sink: Some(fd), .. } => sys::write_pipe(fd.as_fd(), data),
        Ends::Socket { fd, write_open: true } => sys::send(fd.as_fd(), data),
        Ends::Terminal { fd } => sys::write(fd.as_fd(), data),
        _ => Err(io::ErrorKind::BrokenPipe.into()),
    }
}

fn read_end(ends: &Ends) -> Option<BorrowedFd<'_>> {
    match ends {
        Ends::Pipe { faucet, .. } => faucet.as_ref().map(|fd| fd.as_fd()),
        Ends::Socket { fd, .. } | Ends::Terminal { fd } => Some(fd.as_fd()),
        Ends::Closed => None,
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

/// Errors that mean the other side is gone; `EIO` is how a terminal's
/// master side says its last slave fd closed.
fn is_peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
    ) || e.raw_os_error() == Some(nix::libc::EIO)
}
