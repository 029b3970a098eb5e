//! [`Channel`]: the non-blocking read/write facade over one pipe pair, one
//! stream socket or a terminal: how one is made, set up, closed, and which
//! fds it has. Reading is in `read.rs` (into `input_buffer.rs`), writing
//! in `write.rs` (what waits, in `write_queue.rs`), the fds themselves in
//! `ends.rs`.

mod ends;
pub(crate) mod input_buffer;
mod read;
mod write;
pub(crate) mod write_queue;

use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use crate::Buffering;
use crate::error::Result;
use crate::sys;
use crate::sys::ChannelFd;
use ends::Ends;
use input_buffer::{DEFAULT_INPUT_CAPACITY, InputBuffer};
pub(crate) use read::Fill;
use write_queue::{DEFAULT_WRITE_QUEUE_LIMIT, WriteQueue};

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
    input: InputBuffer,
    output: WriteQueue,
    /// How `read` and a reactor's data events cut the input.
    buffering: Buffering,
    /// The read side reached end of stream.
    eof: bool,
    /// The write side failed with EPIPE: the reader is gone.
    write_broken: bool,
    /// `close_write` was asked for while bytes were still queued.
    close_write_when_flushed: bool,
    /// Bytes `read` returned, in all: a turn counts from it what its
    /// caller took of the bot's output from before the turn.
    taken: u64,
    /// The last byte handed over (by `read`, or by a Runner's loop) was
    /// not a newline: the next piece continues a line (a turn's reply
    /// prefix counts at the start of a line only).
    mid_line: bool,
}

impl Channel {
    /// A channel over a pipe pair: `read_end` is the read end, `write_end` the
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
    pub fn from_pipe(read_end: Option<OwnedFd>, write_end: Option<OwnedFd>) -> Result<Channel> {
        for fd in read_end.iter().chain(write_end.iter()) {
            sys::set_nonblocking(fd.as_fd())?;
        }
        Ok(Channel::new(Ends::Pipe {
            read_end: read_end.map(Into::into),
            write_end: write_end.map(Into::into),
        }))
    }

    /// A channel over pipe fds the caller owns: `read_end` is read from,
    /// `write_end` written to (they may be one fd, a terminal's say); either may
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
    pub fn from_borrowed_pipe(read_end: Option<RawFd>, write_end: Option<RawFd>) -> Result<Channel> {
        let read_end = read_end.map(|fd| ChannelFd::borrow(fd, "read_end")).transpose()?;
        let write_end = write_end.map(|fd| ChannelFd::borrow(fd, "write_end")).transpose()?;
        for fd in read_end.iter().chain(write_end.iter()) {
            sys::set_nonblocking(fd.as_fd())?;
        }
        Ok(Channel::new(Ends::Pipe { read_end, write_end }))
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
            Ends::Pipe { read_end, write_end } => {
                read_end.iter().chain(write_end.iter()).any(|fd| !fd.is_owned())
            }
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
    pub(crate) fn from_nonblocking_pipe(read_end: Option<OwnedFd>, write_end: Option<OwnedFd>) -> Channel {
        Channel::new(Ends::Pipe { read_end: read_end.map(Into::into), write_end: write_end.map(Into::into) })
    }

    fn new(ends: Ends) -> Channel {
        Channel {
            ends,
            input: InputBuffer::new(DEFAULT_INPUT_CAPACITY),
            output: WriteQueue::new(DEFAULT_WRITE_QUEUE_LIMIT),
            buffering: Buffering::Bytes,
            eof: false,
            write_broken: false,
            close_write_when_flushed: false,
            taken: 0,
            mid_line: false,
        }
    }

    /// Line mode: [`read`](Channel::read) (and a reactor's data events) hand
    /// over exactly one whole line, `\n` included, or nothing.
    ///
    /// A line longer than the input buffer comes in buffer-sized pieces
    /// rather than stalling the channel; a last line without `\n` comes at
    /// end of stream.
    #[must_use]
    pub fn line_buffered(mut self) -> Channel {
        self.buffering = Buffering::Line;
        self
    }

    /// Whole-lines mode ([`Buffering::WholeLines`]): [`read`](Channel::read)
    /// and a reactor's data events hand over all the whole lines there
    /// are at once, or nothing; long lines and a last line without `\n`
    /// come as in line mode.
    ///
    /// ```
    /// use procloop::{Buffering, testing::TestChannel};
    ///
    /// let (channel, mut peer) = TestChannel::pair();
    /// let mut channel = channel.whole_lines();
    /// assert_eq!(channel.buffering(), Buffering::WholeLines);
    /// peer.put(b"one\ntwo\nthr");
    /// assert_eq!(channel.read()?, b"one\ntwo\n");
    /// peer.put(b"ee\n");
    /// assert_eq!(channel.read()?, b"three\n");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    #[must_use]
    pub fn whole_lines(mut self) -> Channel {
        self.buffering = Buffering::WholeLines;
        self
    }

    /// Sets line mode on or off in place: on is [`Buffering::Line`], off
    /// [`Buffering::Bytes`] (whatever the mode was).
    pub fn set_line_buffered(&mut self, on: bool) {
        self.buffering = if on { Buffering::Line } else { Buffering::Bytes };
    }

    /// Whether the channel is in line mode ([`Buffering::Line`]; not
    /// whole-lines mode).
    pub fn is_line_buffered(&self) -> bool {
        self.buffering == Buffering::Line
    }

    /// Sets how the channel hands over its input, in place.
    pub fn set_buffering(&mut self, buffering: Buffering) {
        self.buffering = buffering;
    }

    /// How the channel hands over its input.
    pub fn buffering(&self) -> Buffering {
        self.buffering
    }

    /// Whether pieces end at line ends (line or whole-lines mode).
    pub(crate) fn cuts_at_lines(&self) -> bool {
        self.buffering != Buffering::Bytes
    }

    /// Sets the input buffer's capacity (default 64 KiB): the most a channel
    /// holds before its reactor stops reading it (what a reactor has read
    /// and not handed yet counts, so a handler that pauses or reads the
    /// channel mid-way gets no more than this put back), and the longest
    /// piece of a line. Memory is taken as bytes come (a read asks for at
    /// most 1 MiB), never the whole capacity at once.
    ///
    /// # Panics
    ///
    /// If `bytes` is zero, or if bytes are buffered already.
    #[must_use]
    pub fn with_input_capacity(mut self, bytes: usize) -> Channel {
        assert!(self.input.is_empty(), "input capacity changed with bytes buffered");
        self.input = InputBuffer::new(bytes);
        self
    }

    /// Sets the write queue's limit (default 16 MiB).
    ///
    /// Bytes already queued stay queued, even above a lower limit; new
    /// writes then wait for room.
    #[must_use]
    pub fn with_write_queue_limit(mut self, bytes: usize) -> Channel {
        self.output.set_limit(bytes);
        self
    }

    /// Releases the fds (closing those it owns, never borrowed ones).
    ///
    /// What had arrived is kept: the bytes the fd holds are read into the
    /// buffer first (up to its capacity; more is dropped and logged).
    /// Buffered input is still returned by `read` (one line a call in line
    /// mode, a last partial line too), then `read` gives
    /// `Err(Error::EndpointClosed)`; `write` gives it at once. In a
    /// [`Reactor`](crate::Reactor) it comes as data events, then `Closed`.
    /// Unwritten output is dropped (and logged).
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
        self.keep_arrived_input();
        if self.queued() > 0 {
            log::warn!("closing a channel drops {} bytes it had not written yet", self.queued());
        }
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
            Ends::Pipe { write_end, .. } => *write_end = None,
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

    /// The fd to read from (the Python runner's `get_fd()`); `None` when write-only
    /// or closed.
    #[inline]
    pub fn read_fd(&self) -> Option<BorrowedFd<'_>> {
        self.ends.read_fd()
    }

    /// The fd to write to; `None` when read-only, half-closed or closed.
    #[inline]
    pub fn write_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.ends {
            Ends::Pipe { write_end, .. } => write_end.as_ref().map(|fd| fd.as_fd()),
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

    /// Whether reading and writing share one fd: a socket, a terminal, or
    /// borrowed ends that are one fd (a tty's, say), which the poll holds
    /// once, for both sides.
    pub(crate) fn is_single_fd(&self) -> bool {
        match &self.ends {
            Ends::Socket { .. } | Ends::Terminal { .. } => true,
            Ends::Pipe { read_end: Some(read), write_end: Some(write) } => {
                read.as_fd().as_raw_fd() == write.as_fd().as_raw_fd()
            }
            Ends::Pipe { .. } | Ends::Closed => false,
        }
    }
}
