"""Channels with the API of yet-another-io-channels-library 0.2.4: the
abstract ``Channel`` (which Python code subclasses, as ``TestChannel``
does), and ``PipeChannel``/``SocketChannel``, whose reads and writes run in
procloop's Rust core.

Differences from the library, all of them fixes:

- line mode's last line without ``\\n`` comes in the read that finds the end
  of stream (the library needed one more call in the native channels too);
- ``write`` never blocks: what the fd won't take now is queued (up to 16 MiB,
  then ``QueueFullError``) and flushed by the next ``write`` or ``read``
  (or by a ``Poller``'s ``poll`` while it waits);
  the library's writes blocked on a full pipe;
- an fd closed behind a channel's back gives ``EndpointClosedException``.
"""

import os
import socket
from abc import ABCMeta, abstractmethod
from typing import Callable, Optional, Type, TypeVar, Union

from ... import _native
from ...errors import EndpointClosedException

__all__ = ["Channel", "PipeChannel", "SocketChannel", "EndpointClosedException"]

_Bytes = Union[bytes, bytearray]
_Native = TypeVar("_Native", bound="_NativeChannel")


class Channel(metaclass=ABCMeta):
    """The base of every channel: ``read()`` never blocks and returns
    ``b''`` for nothing; in line mode (``buffering='line'``) one whole line
    per call, and the last partial line at end of stream; after the other
    end is gone (or ``close()``), the buffered input, then
    ``EndpointClosedException``.

    A subclass implements ``_read`` (the bytes there now, ``b''`` for none,
    ``EndpointClosedException`` at the end), ``write(*data)``, ``close()``
    and, to be polled, ``get_fd()``; line mode then comes from here.
    """

    #: What is there now: ``b''`` for nothing, one whole line in line mode.
    read: Callable[[], bytes]

    def __init__(self, *, buffering: Optional[str] = 'bytes') -> None:
        self._buffer = b''
        self._lf = 0

        self._buffering = buffering
        if buffering == 'line':
            self.read = self._readline
        else:
            self.read = self._read

    @property
    def buffering(self) -> Optional[str]:
        """``'line'`` for a line-buffered channel; anything else means bytes."""
        return self._buffering

    @abstractmethod
    def _read(self) -> bytes:  # pragma: no cover
        raise NotImplementedError

    @abstractmethod
    def write(self, *data: _Bytes) -> None:  # pragma: no cover
        raise NotImplementedError

    @abstractmethod
    def close(self) -> None:  # pragma: no cover
        raise NotImplementedError

    def get_fd(self) -> int:
        """The fd to poll for reading; NotImplementedError if there is none."""
        raise NotImplementedError

    def _read_into_buffer(self) -> None:
        new_bytes = self._read()
        self._lf = new_bytes.find(b'\n') + 1
        if self._lf:
            self._lf += len(self._buffer)
        self._buffer += new_bytes

    def _get_first_line(self) -> bytes:
        result, self._buffer = self._buffer[:self._lf], self._buffer[self._lf:]
        self._lf = self._buffer.find(b'\n') + 1
        return result

    def _readline(self) -> bytes:
        if self._lf:
            return self._get_first_line()

        try:
            self._read_into_buffer()
        except EndpointClosedException:
            if not self._buffer:
                raise

        if self._lf:
            return self._get_first_line()

        try:
            self._read_into_buffer()
        except EndpointClosedException:
            result, self._buffer = self._buffer, b''
            return result
        return b''


# Every channel procloop hands out is a Channel, the native ones included.
Channel.register(_native.Channel)


class _NativeChannel(Channel):
    """A Channel whose reading, line framing and writing run in Rust: its
    ``read`` is the native channel's own method, with no Python in between."""

    _core: Optional[_native.Channel] = None
    #: Made by a Runner, which owns the fds.
    _runner_made = False

    def _use(self, core: _native.Channel) -> None:
        self._core = core
        self.read = core.read

    @property
    def _live(self) -> _native.Channel:
        if self._core is None:
            raise EndpointClosedException()
        return self._core

    def _read(self) -> bytes:
        return self._live.read()

    def write(self, *data: _Bytes) -> None:
        """Writes the chunks as one write; never blocks (see the module doc).
        EndpointClosedException if the other end is gone."""
        self._live.write(*data)

    def flush(self) -> None:
        """Pushes queued bytes to the fd now, as far as it takes them."""
        self._live.flush()

    @property
    def queued(self) -> int:
        """Bytes written and not yet taken by the fd."""
        return self._live.queued

    @classmethod
    def _of(cls: Type[_Native], core: _native.Channel, buffering: Optional[str]) -> _Native:
        """A channel of this class over a native channel that is not ours to
        close (a Runner's)."""
        channel = cls.__new__(cls)
        Channel.__init__(channel, buffering=buffering)
        channel._runner_made = True
        channel._use(core)
        return channel


class PipeChannel(_NativeChannel):
    """A channel over pipe fds: ``faucet`` is read from, ``sink`` written to;
    either may be None. It owns them: ``close()`` closes them. Both are made
    non-blocking."""

    _in: Optional[int] = None
    _out: Optional[int] = None
    _fds_closed = False

    def __init__(self, faucet: Optional[int] = None, sink: Optional[int] = None, *, buffering: Optional[str] = 'bytes') -> None:
        super().__init__(buffering=buffering)
        self._in = faucet
        self._out = sink
        self._use(_native.Channel.pipe(faucet, sink, buffering=self.buffering))

    def close(self) -> None:
        """Closes the channel and its fds. Input already buffered is still
        returned by ``read()``, then EndpointClosedException."""
        if self._core is not None:
            self._core.close()
        if self._fds_closed:
            return
        self._fds_closed = True
        for fd in {fd for fd in (self._in, self._out) if fd is not None}:
            try:
                os.close(fd)
            except OSError:
                pass  # closed behind our back already

    def get_fd(self) -> int:
        """The read fd, for ``poll``; NotImplementedError for a write-only channel."""
        if self._runner_made:
            return self._live.get_fd()
        if self._in is not None:
            return self._in
        return super().get_fd()

    def __del__(self) -> None:
        if not self._fds_closed and not self._runner_made:
            self.close()


class SocketChannel(_NativeChannel):
    """A channel over a connected stream socket, made non-blocking. The
    socket object stays the fd's owner; ``close()`` closes it."""

    _sock: Optional[socket.socket] = None

    def __init__(self, sock: socket.socket, *, buffering: Optional[str] = 'bytes') -> None:
        super().__init__(buffering=buffering)
        self._sock = sock
        self._sock.setblocking(False)
        self._use(_native.Channel.socket(sock.fileno(), buffering=self.buffering))

    def close(self) -> None:
        """Closes the channel and its socket. Input already buffered is still
        returned by ``read()``, then EndpointClosedException."""
        if self._core is not None:
            self._core.close()
        if self._sock is not None:
            self._sock.close()

    def get_fd(self) -> int:
        """The socket's fd, for ``poll``."""
        if self._sock is not None:
            return self._sock.fileno()
        return self._live.get_fd()
