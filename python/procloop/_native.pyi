"""Type stubs of procloop's native layer (procloop._native), re-exported by
``procloop``."""

import signal as _signal
from os import PathLike
from pathlib import Path
from typing import Final, Iterable, final, Literal, Mapping, Optional, Sequence, Tuple, TypedDict, Union

from .errors import ProcloopError

_Path = Union[str, PathLike[str]]
_Buffering = Optional[str]
_Event = Union[
    "Data", "Stderr", "Closed", "Exited", "Restarted", "GaveUp", "Timer", "Ready", "StartFailed", "Reply", "TurnEnded"
]
_Signal = Union[int, _signal.Signals, str]

class _Limits(TypedDict, total=False):
    """Resource limits of an app's children (``limits=``); None sets nothing."""

    memory: Optional[int]
    """Bytes of address space (RLIMIT_AS)."""
    cpu_time: Optional[float]
    """Seconds of CPU (RLIMIT_CPU, rounded up): then SIGXCPU, a second later SIGKILL."""
    open_files: Optional[int]
    """RLIMIT_NOFILE."""
    processes: Optional[int]
    """RLIMIT_NPROC (not applied to root)."""
    file_size: Optional[int]
    """Bytes (RLIMIT_FSIZE)."""
    core_dump: Optional[int]
    """Bytes (RLIMIT_CORE); 0 for none."""
    tree_memory: Optional[int]
    """Bytes of memory for the whole tree (its cgroup's memory.max, no swap); needs a cgroup."""
    tasks: Optional[int]
    """Processes and threads in the whole tree (pids.max); needs a cgroup. Holds a fork bomb, root's too."""
    cpus: Optional[float]
    """At most this many CPUs' worth of time for the whole tree (cpu.max); needs a cgroup."""

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
    "Ready",
    "StartFailed",
    "Usage",
    "TreeUsage",
    "Reply",
    "TurnEnded",
    "TurnReport",
    "Outcome",
    "__version__",
    "split_command",
]

__version__: str

def split_command(command: str) -> list[str]: ...

@final
class Channel:
    """A non-blocking channel; see the module docs. Used in a forked child, it raises ForkedCopyError."""

    @staticmethod
    def pipe(faucet: Optional[int] = None, sink: Optional[int] = None, *, buffering: _Buffering = None) -> Channel: ...
    @staticmethod
    def socket(fd: int, *, buffering: _Buffering = None) -> Channel: ...
    def read(self) -> bytes: ...
    def read_available(self) -> bytes:
        """As read(), but in line mode whole lines and a trailing partial line at once."""
    def write(self, *chunks: Union[bytes, bytearray]) -> None: ...
    def flush(self) -> None: ...
    @property
    def queued(self) -> int: ...
    @property
    def buffered(self) -> int: ...
    @property
    def buffering(self) -> Literal["line", "whole_lines", "bytes"]: ...
    def close(self) -> None: ...
    def close_write(self) -> None: ...
    def get_fd(self) -> int: ...
    def fileno(self) -> int: ...

@final
class Data:
    __match_args__: Final = ("alias", "data")
    def __new__(cls, alias: str, data: bytes) -> Data: ...
    @property
    def alias(self) -> str: ...
    @property
    def data(self) -> bytes: ...

@final
class Stderr:
    __match_args__: Final = ("alias", "data")
    def __new__(cls, alias: str, data: bytes) -> Stderr: ...
    @property
    def alias(self) -> str: ...
    @property
    def data(self) -> bytes: ...

@final
class Closed:
    __match_args__: Final = ("alias",)
    @property
    def alias(self) -> str: ...

@final
class Exited:
    """The process exited and was reaped, after all its output."""

    __match_args__: Final = ("alias", "returncode")
    @property
    def alias(self) -> str: ...
    @property
    def returncode(self) -> Optional[int]:
        """The exit code, or minus the signal; None if someone else took the status."""

@final
class Restarted:
    __match_args__: Final = ("alias", "returncode")
    @property
    def alias(self) -> str: ...
    @property
    def returncode(self) -> Optional[int]: ...

@final
class GaveUp:
    __match_args__: Final = ("alias", "returncode")
    @property
    def alias(self) -> str: ...
    @property
    def returncode(self) -> Optional[int]: ...

@final
class Timer:
    __match_args__: Final = ("id",)
    @property
    def id(self) -> int: ...

@final
class Ready:
    """A socket app started with ``nowait=True`` is connected."""

    __match_args__: Final = ("alias",)
    @property
    def alias(self) -> str: ...

@final
class StartFailed:
    """A socket app started with ``nowait=True`` could not be connected; the
    start is undone (the alias is free, no Exited follows)."""

    __match_args__: Final = ("alias", "error")
    @property
    def alias(self) -> str: ...
    @property
    def error(self) -> Union[ProcloopError, OSError]:
        """The exception a waiting start would have raised (a SocketError, say)."""

@final
class Usage:
    """What an exited process used (its rusage)."""

    __match_args__: Final = ("user", "system", "max_rss")
    @property
    def user(self) -> float:
        """Seconds of CPU in user mode."""
    @property
    def system(self) -> float:
        """Seconds of CPU in the kernel."""
    @property
    def max_rss(self) -> int:
        """Peak resident set size, in bytes."""
    @property
    def cpu_time(self) -> float:
        """``user + system``."""

@final
class Outcome:
    """How one bot's turn went."""

    __match_args__: Final = ("kind", "elapsed", "cpu")
    @property
    def kind(self) -> Literal["replied", "timed_out", "exited"]: ...
    @property
    def elapsed(self) -> Optional[float]:
        """Seconds charged (wall, or CPU under charge="cpu"), for "replied"; else None."""
    @property
    def cpu(self) -> Optional[float]:
        """CPU seconds in the turn, for "replied" under charge="cpu" (where they can be read); else None."""
    @property
    def replied(self) -> bool: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class TurnReport:
    """What a finished turn gave."""

    @property
    def outcomes(self) -> dict[str, Outcome]:
        """Each bot's outcome, in the order the turn named them."""
    @property
    def replies(self) -> dict[str, bytes]:
        """Each reply, for the bots that replied in time."""
    @property
    def harness_delay(self) -> float:
        """Seconds: the most any reply sat readable before the loop handed it over."""
    def outcome(self, alias: str) -> Optional[Outcome]: ...

@final
class Reply:
    """A bot's first reply in a turn."""

    __match_args__: Final = ("turn", "alias", "data", "elapsed")
    @property
    def turn(self) -> int: ...
    @property
    def alias(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def elapsed(self) -> float: ...

@final
class TurnEnded:
    """Every bot of a turn has an outcome."""

    __match_args__: Final = ("turn", "report")
    @property
    def turn(self) -> int: ...
    @property
    def report(self) -> TurnReport: ...
@final
class TreeUsage:
    """What a child's whole tree has used, from its cgroup (``Runner.tree_usage``)."""

    __match_args__: Final = ("user", "system", "memory_peak", "tasks")
    @property
    def user(self) -> float:
        """Seconds of CPU in user mode, every process it ever ran."""
    @property
    def system(self) -> float:
        """Seconds of CPU in the kernel."""
    @property
    def memory_peak(self) -> Optional[int]:
        """Bytes; None where the cgroup has no memory controller."""
    @property
    def tasks(self) -> int:
        """Processes and threads in the tree now."""
    @property
    def cpu_time(self) -> float:
        """``user + system``."""

@final
class Runner:
    """Many child processes, one event loop; see the module docs.

    Options are parsed by procloop's Rust config parser: a bad value is a
    ConfigError naming its key. Used in a forked child (os.fork()), every
    call raises ForkedCopyError."""

    def __new__(
        cls, *, extra_paths: Optional[Iterable[_Path]] = None, cgroups: Literal["off", "preferred", "required"] = "off"
    ) -> Runner: ...
    def add(
        self,
        name: str,
        command: str,
        *,
        type: Literal["stdio", "socket", "pty"] = "stdio",
        cwd: Optional[_Path] = None,
        socket: Optional[_Path] = None,
        buffering: _Buffering = None,
        setpgrp: bool = False,
        env: Optional[Mapping[str, str]] = None,
        stderr: Literal["inherit", "null", "merge", "capture"] = "inherit",
        transport: Literal["pipes", "socketpair"] = "pipes",
        socket_wait: float = 5.0,
        termination_grace: float = 5.0,
        restart: Literal["never", "on_failure", "always"] = "never",
        backoff: Optional[Tuple[float, float]] = None,
        max_restarts: Optional[int] = None,
        restart_window: Optional[float] = None,
        die_with_parent: bool = False,
        pty: bool = False,
        user: Optional[Tuple[int, int]] = None,
        no_new_privileges: bool = False,
        isolate_network: bool = False,
        isolate_pids: bool = False,
        nice: Optional[int] = None,
        scheduler: Literal["normal", "batch", "idle"] = "normal",
        cpu_affinity: Optional[Sequence[int]] = None,
        limits: Optional[_Limits] = None,
        overage: Optional[float] = None,
    ) -> None: ...
    def update_config(self, config: Mapping[str, Mapping[str, object]]) -> None: ...
    def start(
        self,
        app: str,
        alias: Optional[str] = None,
        with_args: Optional[Sequence[str]] = None,
        *,
        socket: Optional[_Path] = None,
        cwd: Optional[_Path] = None,
        setpgrp: Optional[bool] = None,
        buffering: _Buffering = None,
        nowait: bool = False,
    ) -> int: ...
    def ensure_running(
        self,
        app: str,
        alias: Optional[str] = None,
        with_args: Optional[Sequence[str]] = None,
        *,
        socket: Optional[_Path] = None,
        cwd: Optional[_Path] = None,
        setpgrp: Optional[bool] = None,
        buffering: _Buffering = None,
        nowait: bool = False,
    ) -> int: ...
    def get_channel(self, alias: str) -> Optional[Channel]: ...
    def channel(self, alias: str) -> Channel:
        """As get_channel, but NoSuchProcessError instead of None."""
    def get_stderr(self, alias: str) -> Optional[Channel]: ...
    def terminate(self, alias: str) -> Optional[int]:
        """Ctrl-C meanwhile raises KeyboardInterrupt within 50 ms and leaves the alias stopped."""
    def terminate_all(self) -> None: ...
    def stop(self, alias: str) -> None: ...
    def stop_all(self) -> None: ...
    def signal(self, alias: str, signal: _Signal) -> None: ...
    def wait(self, alias: str, timeout: Optional[float] = None) -> Optional[int]:
        """The returncode; raises WaitTimeout if it still runs after ``timeout``."""
    def usage(self, alias: str) -> Optional[Usage]: ...
    def cpu_time(self, alias: str) -> float: ...
    def is_running(self, alias: str) -> bool: ...
    def is_idle(self) -> bool:
        """Whether poll() would return [] at once: nothing could ever produce an event."""
    def pid(self, alias: str) -> Optional[int]: ...
    def returncode(self, alias: str) -> Optional[int]: ...
    def aliases(self) -> list[str]: ...
    def pause(self, alias: str) -> bool: ...
    def resume(self, alias: str) -> bool: ...
    def resize(self, alias: str, rows: int, cols: int) -> None: ...
    def set_timer(self, seconds: float) -> int: ...
    def cancel_timer(self, id: int) -> bool: ...
    DEFAULT_MAX_EVENTS: Final[int]
    """The most events poll returns when max_events is None: 4096."""
    def poll(
        self, timeout: Optional[float] = None, max_events: Optional[int] = None, *, batch: bool = False
    ) -> list[_Event]:
        """At most max_events events, in order (None: DEFAULT_MAX_EVENTS, 4096); the rest
        come with the next call, which then does not wait. ValueError for max_events below 1."""
    def begin_turn(
        self,
        bots: Mapping[str, Union[bytes, bytearray]],
        deadline: float,
        *,
        charge: Literal["wall", "cpu"] = "wall",
        freeze_between: bool = False,
    ) -> int:
        """Writes each payload and returns the turn's number at once; Reply and TurnEnded follow.

        Raises, with nothing written to any bot: ConfigError (no bot, a zero
        deadline, a bad charge), NoSuchProcessError (an alias not taken),
        TurnInProgressError (a bot in a turn not ended), SocketError (a
        socket bot not connected), QueueFullError naming the bot whose write
        queue has no room for its payload (it reads none of its input).
        """
    def overage_left(self, alias: str) -> float: ...
    def next_deadline(self) -> Optional[float]:
        """On the time.monotonic() clock (asyncio's loop.time()); None if only fileno() can wake it."""
    def fileno(self) -> int: ...
    def close(self) -> None: ...
    def __enter__(self) -> Runner: ...
    def __exit__(self, *exc: object) -> Literal[False]: ...
    def containment(self) -> Tuple[Literal["cgroup", "process_group", "none"], Optional[Path]]:
        """("cgroup", the Runner's cgroup directory), ("process_group", None) or ("none", None)."""
    def freeze(self, alias: str) -> None:
        """The whole tree stops running (cgroup.freeze; SIGSTOP without a cgroup); returns at once."""
    def thaw(self, alias: str) -> None: ...
    def tree_usage(self, alias: str) -> TreeUsage:
        """Raises CgroupsUnavailableError (saying why) without a cgroup."""
