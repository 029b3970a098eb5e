//! [`Channel`]: the non-blocking read/write facade over one pipe pair or one
//! stream socket.

use std::io;
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use crate::error::{Error, Result};
use crate::ring::{DEFAULT_INPUT_CAPACITY, RingBuffer};
use crate::sys;
use crate::sys::ChannelFd;
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

/// The fds of a channel; owned ones close with it, borrowed ones never do.
#[derive(Debug)]
enum Ends {
    Pipe {
        faucet: Option<ChannelFd>,
        sink: Option<ChannelFd>,
    },
    Socket {
        fd: ChannelFd,
        write_open: bool,
    },
    /// A pseudo-terminal's master side.
    Terminal {
        fd: ChannelFd,
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
        Ok(Channel::new(Ends::Pipe { faucet: faucet.map(Into::into), sink: sink.map(Into::into) }))
    }

    /// A channel over pipe fds the caller owns: `faucet` is read from,
    /// `sink` written to (they may be one fd, a terminal's say); either may
    /// be `None`. Both are made non-blocking.
    ///
    /// The caller keeps the fds open while the channel is in use and closes
    /// them itself: the channel never closes them, not even on
    /// [`close`](Channel::close) or drop. An fd closed behind the channel's
    /// back makes `read` and `write` give `Err(Error::EndpointClosed)` (its
    /// `EBADF`), never a panic; but a number that was closed and then
    /// reused by a new file would be read or written as that file, so close
    /// the channel before the fds.
    ///
    /// `Err(Error::Io)` with `InvalidInput`, naming the fd, for a negative
    /// number or one that is not open.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use procloop::{Channel, Error};
    ///
    /// let (read_end, write_end) = std::io::pipe()?;
    /// let mut channel = Channel::from_borrowed_pipe(Some(read_end.as_raw_fd()), Some(write_end.as_raw_fd()))?;
    /// channel.write(b"loop")?;
    /// assert_eq!(channel.read()?, b"loop");
    /// drop(channel);
    /// drop(write_end); // still open until here: the channel never closed it
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn from_borrowed_pipe(faucet: Option<RawFd>, sink: Option<RawFd>) -> Result<Channel> {
        let faucet = faucet.map(|fd| ChannelFd::borrow(fd, "faucet")).transpose()?;
        let sink = sink.map(|fd| ChannelFd::borrow(fd, "sink")).transpose()?;
        for fd in faucet.iter().chain(sink.iter()) {
            sys::set_nonblocking(fd.as_fd())?;
        }
        Ok(Channel::new(Ends::Pipe { faucet, sink }))
    }

    /// A channel over a connected stream socket the caller owns (a Python
    /// `socket` object's fd, say), made non-blocking.
    ///
    /// As with [`from_borrowed_pipe`](Channel::from_borrowed_pipe), the
    /// caller keeps the fd open and closes it; the channel never closes it,
    /// and a socket closed behind its back gives `Err(Error::EndpointClosed)`.
    /// `Err(Error::Io)` with `InvalidInput`, naming the fd, when it is not
    /// open or not a stream socket.
    pub fn from_borrowed_socket(fd: RawFd) -> Result<Channel> {
        let fd = ChannelFd::borrow(fd, "socket")?;
        sys::check_stream_socket(fd.as_fd(), "socket")?;
        sys::set_nonblocking(fd.as_fd())?;
        Ok(Channel::new(Ends::Socket { fd, write_open: true }))
    }

    /// Whether the channel's fds are borrowed from its caller (made by
    /// `from_borrowed_pipe` or `from_borrowed_socket`): it never closes them.
    pub fn is_borrowed(&self) -> bool {
        match &self.ends {
            Ends::Pipe { faucet, sink } => faucet.iter().chain(sink.iter()).any(|fd| !fd.is_owned()),
            Ends::Socket { fd, .. } => !fd.is_owned(),
            Ends::Terminal { .. } | Ends::Closed => false,
        }
    }

    /// A channel over a connected UNIX stream socket, made non-blocking.
    pub fn from_unix(stream: UnixStream) -> Result<Channel> {
        stream.set_nonblocking(true)?;
        Ok(Channel::new(Ends::Socket { fd: OwnedFd::from(stream).into(), write_open: true }))
    }

    /// A channel over a connected TCP stream, made non-blocking.
    pub fn from_tcp(stream: TcpStream) -> Result<Channel> {
        stream.set_nonblocking(true)?;
        Ok(Channel::new(Ends::Socket { fd: OwnedFd::from(stream).into(), write_open: true }))
    }

    /// A channel over one socket fd that is already non-blocking.
    pub(crate) fn from_socket_fd(fd: OwnedFd) -> Channel {
        Channel::new(Ends::Socket { fd: fd.into(), write_open: true })
    }

    /// A channel over a pseudo-terminal's master side (non-blocking already).
    pub(crate) fn from_terminal(fd: OwnedFd) -> Channel {
        Channel::new(Ends::Terminal { fd: fd.into() })
    }

    /// A channel over fresh pipe ends that are already non-blocking.
    pub(crate) fn from_nonblocking_pipe(faucet: Option<OwnedFd>, sink: Option<OwnedFd>) -> Channel {
        Channel::new(Ends::Pipe { faucet: faucet.map(Into::into), sink: sink.map(Into::into) })
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
            return Ok(self.input.take(n));
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
        if short_read && self.line_mode && !self.eof && self.piece_len().is_none() {
            // Half a line and nothing to return: the writer may be gone,
            // which only one more read can tell.
            self.fill_input()?;
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
        self.terminal_check()?;
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

    /// Releases the fds (closing those it owns, never borrowed ones).
    ///
    /// Input buffered before the close is still returned by `read` (one
    /// line a call in line mode, a last partial line too), then `read`
    /// gives `Err(Error::EndpointClosed)`; `write` gives it at once.
    /// Unwritten output is dropped.
    ///
    /// ```
    /// use procloop::{Error, testing::TestChannel};
    ///
    /// let (channel, mut peer) = TestChannel::pair();
    /// let mut channel = channel.line_buffered();
    /// peer.put(b"one\ntwo\nthr");
    /// assert_eq!(channel.read()?, b"one\n"); // the rest is buffered now
    /// channel.close();
    /// assert_eq!(channel.read()?, b"two\n");
    /// assert_eq!(channel.read()?, b"thr");
    /// assert!(matches!(channel.read(), Err(Error::EndpointClosed)));
    /// assert!(matches!(channel.write(b"x"), Err(Error::EndpointClosed)));
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn close(&mut self) {
        self.ends = Ends::Closed;
        self.eof = true;
        self.output = WriteQueue::new(self.output.limit());
        self.close_write_when_flushed = false;
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

    /// A terminal's master side takes writes (until its buffer fills) even
    /// after its slave side closed: the end of stream read from it (its
    /// `EIO`), or a hang-up that poll(2) reports, says the program is gone.
    fn terminal_check(&mut self) -> Result<()> {
        let Ends::Terminal { fd } = &self.ends else { return Ok(()) };
        if self.eof || sys::hung_up(fd.as_fd()) {
            self.write_broken = true;
            self.output = WriteQueue::new(self.output.limit());
            return Err(Error::EndpointClosed);
        }
        Ok(())
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
/// master side says its last slave fd closed, and `EBADF` how a borrowed
/// fd says its owner closed it.
fn is_peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
    ) || matches!(e.raw_os_error(), Some(nix::libc::EIO | nix::libc::EBADF))
}
