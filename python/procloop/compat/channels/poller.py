"""``channels.poller``: ``Poller``, which polls channels and listening
sockets: ``poll(timeout)`` returns ``(data, channel)`` per read (per line in
line mode), ``(b'', channel)`` at end of stream or once a channel was closed
here (it is then unregistered), and ``((addr, client), server)`` for each
accepted client, itself a registered ``SocketChannel``.

It waits with ``select.poll``, as the library does, so that every Channel is
polled the same way, pure-Python subclasses included; the reading and line
framing of procloop's channels run in Rust. Python signal handlers run while
it waits, and an exception they raise (KeyboardInterrupt) propagates.

A procloop channel's ``write`` never blocks: what its fd does not take is
queued, where the library's write blocked until the child had taken it
all. So that a child still gets the rest (and answers), ``poll`` pushes
registered channels' queued writes on while it waits.
"""

import logging
import select
import socket
import time
from typing import Dict, Iterator, List, Optional, Tuple, Union

from ...errors import ConfigError
from .channel import Channel, EndpointClosedException, SocketChannel

__all__ = ["Poller"]

_LOGGER = logging.getLogger(__name__)

#: While a registered channel has writes queued, ``poll`` waits in slices
#: of this many seconds and pushes them on between: the fd that would say
#: when (a pipe's write end) is not the one polled.
_FLUSH_EVERY = 0.01

#: The buffering an accepted client's channel may have.
_BUFFERINGS = (None, 'bytes', 'line', 'whole_lines')

#: What ``poll`` returns: ``(data, channel)``, or ``((addr, client), server)``.
_Result = Union[Tuple[bytes, Channel], Tuple[Tuple[object, SocketChannel], socket.socket]]


class Poller:
    """Polls registered channels and servers; accepted clients inherit
    ``buffering``."""

    def __init__(self, *, buffering: Optional[str] = 'bytes') -> None:
        # Refused here, not by the first accepted client's channel: that
        # would raise out of a poll that had read other channels' data.
        if buffering not in _BUFFERINGS:
            raise ConfigError(f"buffering: {buffering!r} is not one of {', '.join(map(repr, _BUFFERINGS))}")
        self._servers: Dict[int, socket.socket] = {}
        self._channels: Dict[int, Channel] = {}
        self._poll = select.poll()
        self._buffering = buffering

    @staticmethod
    def _readlines(channel: Channel) -> Iterator[bytes]:
        while True:
            data = channel.read()
            if not data:
                break
            yield data

    def poll(self, timeout: Optional[float] = None) -> List[_Result]:
        """Waits up to ``timeout`` seconds (None: no limit) and returns the
        results; see the module doc."""
        ready = self._wait(timeout)
        # Clients first: an accept that fails (EMFILE) raises before any
        # channel's data is read, so none is lost with the exception.
        accepted = {fd: self._accept(fd) for fd, event in ready if fd in self._servers and event & select.POLLIN}
        result: List[_Result] = []
        for fd, event in ready:
            _LOGGER.debug("Got event %d on fd %d", event, fd)
            if fd in accepted:
                result.append(accepted[fd])
            elif fd in self._channels:
                channel = self._channels[fd]
                try:
                    if channel.buffering == 'line':
                        for data in self._readlines(channel):
                            result.append((data, channel))
                    else:
                        result.append((channel.read(), channel))
                except EndpointClosedException:
                    result.append((b'', channel))
                    self._unregister(channel, fd)
        return result

    def _accept(self, fd: int) -> Tuple[Tuple[object, SocketChannel], socket.socket]:
        """Accepts a client of the server on ``fd`` and registers its channel."""
        server = self._servers[fd]
        sock, addr = server.accept()
        client = SocketChannel(sock, buffering=self._buffering)
        self.register(client)
        return ((addr, client), server)

    def _wait(self, timeout: Optional[float]) -> List[Tuple[int, int]]:
        """``select.poll``'s answer within ``timeout`` (None or negative: no
        limit, as there), pushing queued writes on meanwhile."""
        end = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        while True:
            queued = self._flush()
            left = None if end is None else max(0.0, end - time.monotonic())
            if queued:
                left = _FLUSH_EVERY if left is None else min(left, _FLUSH_EVERY)
            ready = self._poll.poll(None if left is None else left * 1000)
            if ready or not queued or (end is not None and time.monotonic() >= end):
                return ready

    def _flush(self) -> bool:
        """Pushes each registered channel's queued writes as far as its fd
        takes them; whether any are still queued."""
        left = 0
        for channel in list(self._channels.values()):
            # procloop's channels have a queue; a pure-Python one has none.
            flush = getattr(channel, "flush", None)
            try:
                pending: int = getattr(channel, "queued", 0)
                if flush is not None and pending:
                    flush()
                    left += getattr(channel, "queued")
            except EndpointClosedException:
                pass  # its reading side reports the end
        return left > 0

    def register(self, channel: Channel) -> None:
        """Polls ``channel`` (by its ``get_fd()``)."""
        fd = channel.get_fd()
        self._channels[fd] = channel
        self._poll.register(fd, select.POLLIN)
        _LOGGER.debug("Registered channel %s with fd %d", channel, fd)

    def add_server(self, server: socket.socket) -> None:
        """Accepts the clients of a listening socket."""
        self._servers[server.fileno()] = server
        self._poll.register(server.fileno(), select.POLLIN)

    def close_all(self) -> None:
        """Closes every registered channel and server."""
        for channel in self._channels.values():
            channel.close()
        for server in self._servers.values():
            server.close()

    def _unregister(self, channel: Channel, fd: int) -> None:
        if fd not in self._channels:
            return
        self._poll.unregister(fd)
        del self._channels[fd]
        _LOGGER.debug("Unregistered channel %s with fd %d", channel, fd)

    def unregister(self, channel: Channel) -> None:
        """Stops polling ``channel``; nothing if it is not registered."""
        for fd, registered in list(self._channels.items()):
            if registered is channel:
                self._unregister(channel, fd)
