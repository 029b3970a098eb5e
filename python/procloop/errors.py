"""procloop's exceptions: every error the native layer raises is one of these
(or an ``OSError`` for a plain OS error), each with a message naming what was
wrong.

They are Python classes, not native ones, so that a lookup error is also a
``KeyError`` and a start failure also an ``OSError``, as the Python runner's
users expect.
"""

import subprocess


class ProcloopError(Exception):
    """Base class of procloop's own errors."""


class EndpointClosedException(ProcloopError):
    """The other end is gone: end of stream after the last byte, a peer that
    closed, a child that exited, or a channel closed here."""


#: The native API's name for :class:`EndpointClosedException`.
EndpointClosed = EndpointClosedException


class ProcessExistsException(ProcloopError):
    """The alias is already running (``start`` of a taken alias)."""


class UnknownAppError(ProcloopError, KeyError):
    """No app is configured under this name."""

    def __str__(self) -> str:
        return Exception.__str__(self)


class NoSuchProcessError(ProcloopError, KeyError):
    """No process runs under this alias (never started, or terminated)."""

    def __str__(self) -> str:
        return Exception.__str__(self)


class BadCommandError(ProcloopError, ValueError):
    """The command string cannot be split into words (empty, an unbalanced
    quote, a trailing backslash)."""


class ConfigError(ProcloopError, ValueError):
    """An app option, a start override or a config field is unknown or has a
    bad value, or a setting cannot work (an environment variable named
    ``A=B``, a NUL byte in an argument: raised by ``start``), or an argument
    has a bad value (a NaN timeout, a signal procloop cannot send, an fd
    that is not open); the message names it."""


class LimitTooHighError(ConfigError):
    """An app's resource limit (``limits={...}``) is above what this process
    may grant a child: its own hard limit, or the kernel's ceiling for open
    files. Raised by ``start``; the message names the limit and the most
    that may be granted."""


class LimitUnsupportedError(ConfigError):
    """An app's tree limit (``limits={"tree_memory": ..., "tasks": ...,
    "cpus": ...}``) cannot be enforced here: the Runner has no cgroup
    (``cgroups="off"``, or ``"preferred"`` fell back to process groups), or
    its cgroup lacks the controller, which the message names as the kernel
    spells it (``memory``, ``pids``, ``cpu``). Raised by ``start``."""


class CgroupsUnavailableError(ProcloopError, OSError):
    """No cgroup can be had: ``Runner(cgroups="required")`` where this
    process may make none (the message says why), or ``tree_usage`` of a
    Runner without cgroups."""


class SpawnError(ProcloopError, OSError):
    """The command could not be started (missing binary, not executable, a bad
    working directory); the message names the command and the OS error."""


class SocketError(ProcloopError, OSError):
    """A socket app could not be connected: its socket never appeared, the app
    exited first, or the socket path is unusable or taken by a file; or it has
    no connection yet (a ``nowait`` start still connecting, or one stopped
    before it connected)."""


class QueueFullError(ProcloopError, BufferError):
    """A write does not fit in the channel's write queue; none of it was taken.
    From ``begin_turn``: a bot's payload does not fit in its queue (the
    message names the bot), and nothing of the turn was written."""


class WaitTimeout(ProcloopError, subprocess.TimeoutExpired):
    """``Runner.wait(alias, timeout)`` timed out: the process still runs.
    As ``subprocess.TimeoutExpired`` (which it also is), ``cmd`` is the
    alias and ``timeout`` the seconds waited."""


class BusyError(ProcloopError, RuntimeError):
    """A Runner (or one of its channels) was used from a second thread while
    another thread was inside one of its calls, a waiting ``poll`` say, or
    from a signal handler that a waiting call of its own ran."""


class ForkedCopyError(ProcloopError, RuntimeError):
    """A Runner or Channel was used in a forked child (``os.fork()``) of the
    process that made it. The children, pipes and loop it holds are that
    process's: the copy touches none of them. Make a new one in the child."""


class TurnInProgressError(ProcloopError, RuntimeError):
    """``begin_turn`` named a bot that is in a turn that has not ended (wait
    for its ``TurnEnded``); nothing of the new turn was written."""


__all__ = [
    "ProcloopError",
    "EndpointClosedException",
    "EndpointClosed",
    "ProcessExistsException",
    "UnknownAppError",
    "NoSuchProcessError",
    "BadCommandError",
    "ConfigError",
    "LimitTooHighError",
    "LimitUnsupportedError",
    "CgroupsUnavailableError",
    "SpawnError",
    "SocketError",
    "QueueFullError",
    "WaitTimeout",
    "BusyError",
    "ForkedCopyError",
    "TurnInProgressError",
]
