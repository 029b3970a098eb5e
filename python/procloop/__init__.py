"""procloop: run many child processes and talk to them from one event loop.

The engine is procloop's Rust core. Two ways to use it:

- the native API: :class:`Runner` with ``poll()`` returning event objects
  (:class:`Data`, :class:`Stderr`, :class:`Closed`, :class:`Exited`,
  :class:`Restarted`, :class:`GaveUp`, :class:`Timer`, :class:`Ready`,
  :class:`StartFailed`), ``stop``/``signal``/``wait`` that never stall the
  loop, resource limits and :class:`Usage`, timers, and ``fileno()`` with
  ``next_deadline()`` for selectors and asyncio (:mod:`procloop.aio` drives
  a Runner from an asyncio loop);
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
    Ready,
    Restarted,
    Runner,
    StartFailed,
    Stderr,
    Timer,
    TreeUsage,
    Usage,
    split_command,
)
from .errors import (
    BadCommandError,
    BusyError,
    CgroupsUnavailableError,
    ConfigError,
    EndpointClosed,
    EndpointClosedException,
    ForkedCopyError,
    LimitTooHighError,
    LimitUnsupportedError,
    NoSuchProcessError,
    ProcessExistsException,
    ProcloopError,
    QueueFullError,
    SocketError,
    SpawnError,
    UnknownAppError,
    WaitTimeout,
)

__all__ = [
    "Runner",
    "Channel",
    "TreeUsage",
    "Data",
    "Stderr",
    "Closed",
    "Exited",
    "Restarted",
    "GaveUp",
    "Timer",
    "Ready",
    "StartFailed",
    "Usage",
    "split_command",
    "errors",
    *errors.__all__,
]
