"""The bot arena on asyncio: matches of two bots, all played at once, each
match a coroutine, on one procloop Runner driven by the asyncio loop
(``procloop.aio.Events``: ``add_reader`` on the Runner's fd, ``call_at`` at
its next deadline).

One task routes the Runner's events to the coroutines that wait for them:
each alias's lines to its own ``asyncio.Queue``, its exit to a future. A
move is awaited with ``asyncio.wait_for`` (the turn's deadline); a bot that
misses three moves loses the match; at the end of a match both bots are
stopped (``runner.stop``, never blocking the loop) and their exits awaited.

    python examples/aio_arena.py [--turns 6] [--deadline 0.3]

Python 3.10 or later (``match``).
"""

import argparse
import asyncio
from typing import TYPE_CHECKING, Dict, Optional, Tuple

import bots
import procloop
from procloop import Data, Exited
from procloop.aio import Events

if TYPE_CHECKING:
    from procloop._native import _Limits

LIMITS: "_Limits" = {"memory": 128 << 20, "cpu_time": 2, "open_files": 32}
MATCHES = [("rocky", "cycler"), ("dice", "sleepy"), ("greedy", "spinner"), ("cycler", "dice")]
STRIKES = 3


class Router:
    """The Runner's events, routed: each alias's stdout lines to its queue,
    its exit (the returncode) to its future."""

    def __init__(self) -> None:
        self._lines: Dict[str, "asyncio.Queue[bytes]"] = {}
        self._exits: Dict[str, "asyncio.Future[Optional[int]]"] = {}

    def lines(self, alias: str) -> "asyncio.Queue[bytes]":
        return self._lines.setdefault(alias, asyncio.Queue())

    def exit(self, alias: str) -> "asyncio.Future[Optional[int]]":
        return self._exits.setdefault(alias, asyncio.get_running_loop().create_future())

    async def run(self, events: Events) -> None:
        async for event in events:
            match event:
                case Data(alias, line):
                    self.lines(alias).put_nowait(line)
                case Exited(alias, code):
                    self.exit(alias).set_result(code)


async def line(router: Router, alias: str, seconds: float) -> Optional[bytes]:
    """The next line of ``alias``, or None if none came in time."""
    try:
        return await asyncio.wait_for(router.lines(alias).get(), seconds)
    except asyncio.TimeoutError:
        return None


async def move(router: Router, alias: str, turn: int, seconds: float) -> Optional[str]:
    """The move of ``alias`` for ``turn``, or None if it did not come
    within ``seconds`` (late answers to earlier turns are skipped)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while True:
        answer = await line(router, alias, max(0.0, end - loop.time()))
        if answer is None:
            return None
        played = bots.parse(answer.decode(), turn)
        if played:
            return played


async def play(
    runner: procloop.Runner, router: Router, number: int, pair: Tuple[str, str], turns: int, deadline: float
) -> str:
    aliases = [f"{bot}#{number}" for bot in pair]
    for bot, alias in zip(pair, aliases):
        runner.start(bot, alias=alias)
    score = dict.fromkeys(aliases, 0)
    missed = dict.fromkeys(aliases, 0)
    try:
        await asyncio.gather(*(line(router, alias, 10.0) for alias in aliases))  # hello
        for turn in range(1, turns + 1):
            for alias in aliases:
                try:
                    runner.channel(alias).write(b"turn %d\n" % turn)
                except procloop.EndpointClosed:
                    pass  # it died (greedy's MemoryError, say): it misses the move
            moves = await asyncio.gather(*(move(router, alias, turn, deadline) for alias in aliases))
            for alias, m in zip(aliases, moves):
                missed[alias] += m is None
            played = {alias: m for alias, m in zip(aliases, moves) if m is not None}
            for alias, points in bots.score(played).items():
                score[alias] += points
            if max(missed.values()) >= STRIKES:
                break
    finally:
        for alias in aliases:
            runner.stop(alias)
        codes = await asyncio.wait_for(asyncio.gather(*(router.exit(alias) for alias in aliases)), 10.0)
    a, b = aliases
    if missed[a] >= STRIKES or missed[b] >= STRIKES:
        winner: Optional[str] = a if missed[a] < missed[b] else b
        how = "on missed moves"
    else:
        winner = a if score[a] > score[b] else b if score[b] > score[a] else None
        how = f"{score[a]}:{score[b]}"
    usages = [(alias, runner.usage(alias), code) for alias, code in zip(aliases, codes)]
    used = ", ".join(
        f"{alias} {usage.cpu_time:.2f} s CPU, exit {code}" if usage else f"{alias} exit {code}"
        for alias, usage, code in usages
    )
    for alias in aliases:
        runner.terminate(alias)  # frees the alias; it has exited, so this only reaps
    return f"{a} vs {b}: {winner or 'draw'} ({how}); {used}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=bots.count, default=6)
    parser.add_argument("--deadline", type=bots.seconds, default=0.3, help="seconds a move")
    args = parser.parse_args()

    with procloop.Runner() as runner:
        for name in bots.NAMES:
            runner.add(name, bots.command(name), buffering="line", stderr="null", termination_grace=0.5, limits=LIMITS)
        router = Router()
        async with Events(runner) as events:
            routing = asyncio.ensure_future(router.run(events))
            results = await asyncio.gather(
                *(play(runner, router, n, pair, args.turns, args.deadline) for n, pair in enumerate(MATCHES, 1))
            )
        await routing  # ends with the Events (closed by the async with)
    for result in results:
        print(result)


if __name__ == "__main__":
    asyncio.run(main())
