"""procloop under asyncio: a :class:`procloop.Runner`'s events as an async
iterator, driven by the asyncio loop itself.

The Runner is waited on the way any host loop waits on it: its
``fileno()`` with ``loop.add_reader`` (readable when ``poll`` has work) and
its ``next_deadline()`` with ``loop.call_at`` (timers, a stopped child's
SIGKILL, events already waiting). Another coroutine may move that deadline
while one waits (set a timer, stop a child, begin a turn) without making
the fd readable: a waiting ``Events`` looks at it again every 50 ms.
Nothing runs in another thread, and ``poll`` is only ever called with a
zero timeout, so the asyncio loop never blocks in it::

    import asyncio
    import procloop
    from procloop.aio import Events

    async def main():
        with procloop.Runner() as runner:
            runner.add("seq", "seq 3", buffering="line")
            runner.start("seq")
            async with Events(runner) as events:
                async for event in events:
                    print(event)
                    if isinstance(event, procloop.Exited):
                        break

    asyncio.run(main())

Two helpers take part of the events on the way: ``await events.turn({alias:
payload, ...}, deadline=0.1)`` begins a turn and returns its
:class:`procloop.TurnReport` (its ``Reply`` events and ``TurnEnded`` are
not handed out again), and ``async for line in events.lines("bot-3")`` gives
that alias's output line by line (its ``Data`` events go there instead).

Events are pulled: the Runner is polled only while a coroutine waits for
an event, at most ``max_events`` at a time, so a slow consumer holds the
children back through their pipes (bounded memory) instead of piling
events up. Writes to channels (``runner.get_channel(alias).write(...)``)
never block and may be made from any coroutine; queued bytes are flushed
by the polls.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Deque, Dict, List, Literal, Mapping, Optional, Union

from ._native import Closed, Data, Exited, Reply, TurnEnded
from .errors import ConfigError

if TYPE_CHECKING:
    from ._native import _Event, Runner, TurnReport

__all__ = ["Events"]

#: How often (seconds) a waiting Events looks at the Runner's next deadline
#: again: the latency of a change made by another coroutine that does not
#: make the Runner's fd readable.
_RECHECK = 0.05

#: The most ``Runner.poll`` takes as ``max_events`` (a 64-bit size).
_MAX_EVENTS = 2**64 - 1


class Events:
    """The events of ``runner``, for ``async for``, ``await
    events.next(timeout)`` or ``await events.until(predicate, timeout)``.

    Use one ``Events`` per Runner, on one asyncio loop, and don't call
    ``runner.poll`` yourself meanwhile. ``close()`` (or leaving ``async
    with``) detaches it from the loop and ends the iteration; it does not
    end the children (``runner.stop_all()`` or leaving the Runner's ``with``
    does).

    Unlike ``runner.poll()``, which returns ``[]`` at once when the Runner
    is idle, an ``async for`` does not end when every child has exited:
    another coroutine may start one later. Break on the event you wait
    for (an ``Exited``, say), test ``runner.is_idle()``, or ``close()``.
    """

    def __init__(self, runner: Runner, *, max_events: int = 256, batch: bool = False) -> None:
        _check_arguments(max_events, batch)
        self._runner = runner
        self._max_events = max_events
        self._batch = batch
        self._queue: Deque[_Event] = collections.deque()
        # Turns awaited with turn(), and the aliases read with lines().
        self._turns: Dict[int, asyncio.Future[TurnEnded]] = {}
        self._replies: Dict[int, List[Reply]] = {}
        self._streams: Dict[str, _Stream] = {}
        self._closed = False
        # While a coroutine waits: the future the loop's callbacks complete,
        # how many coroutines await it, and what wakes it.
        self._waiter: Optional[asyncio.Future[None]] = None
        self._waiting = 0
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._fd = -1
        self._timer: Optional[asyncio.TimerHandle] = None

    def __aiter__(self) -> Events:
        return self

    async def __anext__(self) -> _Event:
        return await self.next()

    async def __aenter__(self) -> Events:
        return self

    async def __aexit__(self, *exc: object) -> bool:
        self.close()
        return False

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    def close(self) -> None:
        """Detaches from the asyncio loop: waiting coroutines and later
        calls get ``StopAsyncIteration`` (an ``async for`` ends). Events
        already taken from the Runner are still handed out first."""
        self._closed = True
        self._wake()

    async def next(self, timeout: Optional[float] = None) -> _Event:
        """The next event, waiting up to ``timeout`` seconds (None: as long
        as it takes); ``TimeoutError`` (``asyncio.TimeoutError``) if none
        came, ``StopAsyncIteration`` once closed, as ``anext()`` does. A
        cancelled or timed-out wait loses no event."""
        deadline = _deadline(timeout)
        while True:
            if self._queue:
                return self._queue.popleft()
            if self._closed:
                raise StopAsyncIteration
            if self._pull():
                await _let_others_run()
                continue
            if deadline is not None and time.monotonic() >= deadline:
                raise asyncio.TimeoutError(f"no event within {timeout} s")
            await self._wait(deadline)

    async def turn(
        self,
        bots: Mapping[str, Union[bytes, bytearray]],
        deadline: float,
        *,
        charge: Literal["wall", "cpu"] = "wall",
        freeze_between: bool = False,
    ) -> TurnReport:
        """Begins a turn (``Runner.begin_turn``, whose errors it raises) and
        returns its report once every bot has an outcome: ``report.outcomes``
        and each reply in ``report.replies``. Its ``Reply`` events and its
        ``TurnEnded`` are not handed out by ``next()``; other events met
        meanwhile are. The turn ends by itself (every bot has a deadline);
        cancelling the wait leaves the turn running, and its events, those
        it had taken included, then come through ``next()``. Once closed,
        ``StopAsyncIteration`` and no turn begun. The other events are
        taken as they come until the turn ends: unread, a flooding child's
        output piles up in memory for as long as the turn lasts."""
        if self._closed:
            # Before begin_turn: its bots would get a turn no one awaits.
            raise StopAsyncIteration
        number = self._runner.begin_turn(bots, deadline, charge=charge, freeze_between=freeze_between)
        ended: asyncio.Future[TurnEnded] = asyncio.get_running_loop().create_future()
        self._turns[number] = ended
        self._replies[number] = []
        report: Optional[TurnReport] = None
        try:
            while not ended.done():
                if self._closed:
                    raise StopAsyncIteration
                if self._pull():
                    await _let_others_run()
                else:
                    await self._wait(None)
            report = ended.result().report
            return report
        finally:
            del self._turns[number]
            taken: List[_Event] = list(self._replies.pop(number))
            if report is None:
                # Not returned (cancelled, closed): what it took goes back.
                if ended.done() and not ended.cancelled():
                    taken.append(ended.result())
                self._queue.extendleft(reversed(taken))
                if taken:
                    self._wake()

    async def lines(self, alias: str) -> AsyncIterator[bytes]:
        """``alias``'s output line by line (newlines kept; a last line
        without one at its end), until its end of stream (``Closed``) or
        ``close()``. Its ``Data`` events go here instead of ``next()``,
        those already taken included. One stream per alias at a time: a
        new ``lines(alias)`` takes over the lines not read yet (after a
        ``break``, say) and the older one ends. Once it ends with lines
        unread, they go back to ``next()`` as one ``Data``. The other
        aliases' events are taken meanwhile, for ``next()``: unread, a
        flooding child's output piles up in memory."""
        if not isinstance(alias, str):
            raise TypeError(f"argument 'alias': a str, not {type(alias).__name__}")
        stream = self._streams.get(alias)
        if stream is None:
            stream = self._streams[alias] = _Stream()
            for event in [e for e in self._queue if isinstance(e, (Data, Closed, Exited)) and e.alias == alias]:
                if isinstance(event, Data):
                    self._queue.remove(event)
                    stream.feed(event.data)
                else:
                    stream.end()
        if stream.reader is not None:
            self._wake()  # the older reader may be waiting: it ends now
        reader = stream.reader = object()
        try:
            while stream.reader is reader:
                if stream.lines:
                    yield stream.lines.popleft()
                elif stream.ended or self._closed:
                    return
                elif self._pull():
                    await _let_others_run()
                else:
                    await self._wait(None)
        finally:
            if stream.reader is reader and self._streams.get(alias) is stream:
                del self._streams[alias]
                unread = b"".join(stream.lines) + bytes(stream.partial)
                if unread:
                    self._queue.appendleft(Data(alias, unread))
                    self._wake()

    def _pull(self) -> bool:
        """Polls the Runner without waiting and sorts what came: an awaited
        turn's events to its ``turn()``, a read alias's output to its
        ``lines()``, the rest to the queue. Whether anything came."""
        events = self._runner.poll(0, self._max_events, batch=self._batch)
        handed = False
        for event in events:
            if isinstance(event, TurnEnded) and event.turn in self._turns:
                future = self._turns[event.turn]
                if not future.done():
                    future.set_result(event)
                handed = True
            elif isinstance(event, Reply) and event.turn in self._turns:
                self._replies[event.turn].append(event)
            elif isinstance(event, Data) and event.alias in self._streams:
                self._streams[event.alias].feed(event.data)
                handed = True
            else:
                if isinstance(event, (Closed, Exited)) and event.alias in self._streams:
                    self._streams[event.alias].end()
                    handed = True
                self._queue.append(event)
        if handed or self._queue:
            # Another coroutine may be waiting for what this one took.
            self._wake()
        return bool(events)

    async def until(self, predicate: Callable[[_Event], Any], timeout: Optional[float] = None) -> List[_Event]:
        """The events up to and including the first for which
        ``predicate(event)`` is true, waiting up to ``timeout`` seconds for
        all of them (None: as long as it takes). ``TimeoutError`` if it did
        not come; the events taken until then are in its ``events``
        attribute, and are not handed out again. If ``predicate`` raises or
        the wait is cancelled, the events taken go back, in order, to be
        handed out again."""
        deadline = _deadline(timeout)
        taken: List[_Event] = []
        try:
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                try:
                    event = await self.next(left)
                except asyncio.TimeoutError:
                    error = asyncio.TimeoutError(f"not within {timeout} s; got {taken!r}")
                    error.events, taken = taken, []  # type: ignore[attr-defined]
                    raise error from None
                taken.append(event)
                if predicate(event):
                    found, taken = taken, []
                    return found
        finally:
            if taken:
                self._queue.extendleft(reversed(taken))
                self._wake()  # another coroutine may wait for them

    async def _wait(self, deadline: Optional[float]) -> None:
        """Waits until the Runner may have events (its fd is readable or its
        next deadline has come), ``deadline`` passes, or ``close()``."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Armed by a task of a loop closed (or left) while it waited:
            # that task never comes back to disarm.
            self._disarm()
        waiter = self._waiter
        if waiter is None:
            waiter = self._arm(loop)
        else:
            # Another task armed it: the Runner's deadline may have moved
            # since (a turn begun, a timer set, a child stopped).
            self._schedule(loop)
        timeout = None
        if deadline is not None:
            timeout = loop.call_at(loop.time() + max(0.0, deadline - time.monotonic()), self._wake)
        self._waiting += 1
        try:
            # Shielded: one waiter's cancellation leaves the others waiting.
            await asyncio.shield(waiter)
        finally:
            if timeout is not None:
                timeout.cancel()
            # Counted per waiter: a woken or abandoned one is not this count.
            if self._waiter is waiter:
                self._waiting -= 1
                if self._waiting == 0 and not waiter.done():
                    self._disarm()
                    waiter.cancel()

    def _arm(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        self._loop = loop
        self._fd = self._runner.fileno()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        self._waiting = 0
        loop.add_reader(self._fd, self._wake)
        self._schedule(loop)
        return waiter

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        """Sets the wake-up at the Runner's next deadline, in place of the
        one set before, or a look at that deadline again in ``_RECHECK``
        seconds: the Runner's fd is not readable for every change another
        coroutine makes meanwhile (a timer set, a child stopped, a turn
        begun), and nothing else would tell."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self._runner.next_deadline()
        now = time.monotonic()
        # next_deadline() is on time.monotonic()'s clock; loop.time() is
        # the same clock for asyncio's own loops, and this converts for any
        # other.
        if deadline is not None and deadline - now <= _RECHECK:
            self._timer = loop.call_at(loop.time() + max(0.0, deadline - now), self._wake)
        else:
            self._timer = loop.call_at(loop.time() + _RECHECK, self._recheck)

    def _recheck(self) -> None:
        """The loop's callback while no deadline is near: looks again."""
        self._timer = None
        if self._loop is None:
            return
        try:
            self._schedule(self._loop)
        except Exception:
            # The waiting coroutines' own poll raises it, where it is seen.
            self._wake()

    def _disarm(self) -> None:
        if self._loop is not None:
            # A closed loop has dropped its readers already (and says so).
            self._loop.remove_reader(self._fd)
            self._loop = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiter = None
        self._waiting = 0

    def _wake(self) -> None:
        """The loop's callback (fd readable, deadline come) and close()'s:
        every waiting coroutine goes and polls."""
        waiter = self._waiter
        self._disarm()
        # A closed loop's future cannot run its callbacks: its waiters are
        # gone with it.
        if waiter is not None and not waiter.done() and not waiter.get_loop().is_closed():
            waiter.set_result(None)


async def _let_others_run() -> None:
    """Yields to the loop once. A poll that found events waited for
    nothing: without this a child that keeps writing would keep a reader
    from ever giving the other tasks a turn (or a cancellation a chance)."""
    await asyncio.sleep(0)


def _check_arguments(max_events: int, batch: bool) -> None:
    """Refuses at once what ``Runner.poll`` would refuse at the first wait,
    in another task maybe: a TypeError or a ConfigError naming the argument."""
    if isinstance(max_events, bool) or not isinstance(max_events, int):
        raise TypeError(f"argument 'max_events': an int, not {type(max_events).__name__}")
    if not 1 <= max_events <= _MAX_EVENTS:
        raise ConfigError(f"max_events: {max_events} is not from 1 to {_MAX_EVENTS}")
    if not isinstance(batch, bool):
        raise TypeError(f"argument 'batch': a bool, not {type(batch).__name__}")


def _deadline(timeout: Optional[float]) -> Optional[float]:
    """When a wait of ``timeout`` seconds ends, on ``time.monotonic()``'s
    clock; a negative timeout is no wait, NaN a ConfigError (as the
    Runner's own waits say)."""
    if timeout is None:
        return None
    if not isinstance(timeout, (int, float)):
        raise TypeError(f"argument 'timeout': must be real number, not {type(timeout).__name__}")
    if math.isnan(timeout):
        raise ConfigError(f"timeout: {timeout} is not a number of seconds")
    return time.monotonic() + max(0.0, timeout)


class _Stream:
    """One alias's output as lines, for ``Events.lines``."""

    def __init__(self) -> None:
        self.lines: Deque[bytes] = collections.deque()
        #: The last line's start, grown in place: a long line without a
        #: newline, fed chunk by chunk, is copied once, not once a chunk.
        self.partial = bytearray()
        self.ended = False
        #: The ``lines()`` reading it now; a newer one takes it over.
        self.reader: object = None

    def feed(self, data: bytes) -> None:
        # Only the new bytes are searched: the partial line has no newline.
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            if self.partial:
                self.partial += data[start : end + 1]
                self.lines.append(bytes(self.partial))
                self.partial.clear()
            else:
                self.lines.append(data[start : end + 1])
            start = end + 1
        self.partial += data[start:]

    def end(self) -> None:
        if self.partial:
            self.lines.append(bytes(self.partial))
            self.partial.clear()
        self.ended = True
