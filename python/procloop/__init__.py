"""procloop: run many child processes and talk to them from one event loop.

The engine is procloop's Rust core. Two ways to use it:

- the native API: :class:`Runner` with ``poll()`` returning event objects
  (:class:`Data`, :class:`Stderr`, :class:`Closed`, :class:`Exited`,
  :class:`Restarted`, :class:`GaveUp`, :class:`Timer`), timers, ``fileno()``
  for selectors and asyncio;
- the Python runner's own API, unchanged, in :mod:`procloop.compat`
  (``procloop.compat.runner``, ``procloop.compat.channels`` and its
  ``poller`` and ``testing`` modules).
"""

from . import errors
from ._native import (
    Channel,
    Closed,
    Data,
    Exited,
    GaveUp,
    Restarted,
    Runner,
    Stderr,
    Timer,
    split_command,
)
from .errors import (
    BadCommandError,
    BusyError,
    ConfigError,
    EndpointClosed,
    EndpointClosedException,
    NoSuchProcessError,
    ProcessExistsException,
    ProcloopError,
    QueueFullError,
    SocketError,
    SpawnError,
    UnknownAppError,
)

__all__ = [
    "Runner",
    "Channel",
    "Data",
    "Stderr",
    "Closed",
    "Exited",
    "Restarted",
    "GaveUp",
    "Timer",
    "split_command",
    "errors",
    "ProcloopError",
    "EndpointClosed",
    "EndpointClosedException",
    "ProcessExistsException",
    "UnknownAppError",
    "NoSuchProcessError",
    "BadCommandError",
    "ConfigError",
    "SpawnError",
    "SocketError",
    "QueueFullError",
    "BusyError",
]
