"""A bot arena on procloop's native loop: six bots play rock, paper,
scissors, every turn a deadline.

- Each bot is a child process with resource limits (memory, CPU time, open
  files): ``greedy`` runs out of memory, ``spinner`` out of CPU time.
- Each turn the arena writes ``turn N`` to every bot and sets a timer: the
  turn ends when every bot answered or the timer fired, whichever is first.
  The loop never waits on one bot.
- A bot that misses three deadlines, or that has used more than its CPU
  budget for the game (``runner.cpu_time``, asked every turn), is stopped
  (``runner.stop``: SIGTERM, SIGKILL after a short grace, in the loop,
  never blocking it).
- At the end every bot is stopped, and the table shows what each used
  (``runner.usage``: CPU time and peak memory from the kernel).

    python examples/arena.py [--turns 8] [--deadline 0.3]

Python 3.10 or later (``match``).
"""

import argparse
from typing import TYPE_CHECKING, Callable, Dict, Optional, Set, Tuple

import bots
import procloop
from procloop import Data, Exited, Stderr, Timer

if TYPE_CHECKING:
    from procloop._native import _Event, _Limits

#: Each bot's hard limits, set in the child before it runs.
LIMITS: "_Limits" = {"memory": 128 << 20, "cpu_time": 2, "open_files": 32}
#: Missed deadlines before a bot is stopped.
STRIKES = 3
#: Seconds of CPU a bot may use for the whole game.
CPU_BUDGET = 0.25
#: Seconds the bots have to start and say hello.
START_DEADLINE = 10.0


def poll_until(
    runner: procloop.Runner, done: Callable[[], bool], seconds: float, handle: "Callable[[_Event], None]"
) -> bool:
    """Hands each event to ``handle`` until ``done()`` or ``seconds`` have
    passed (a timer of the loop's own); False if the time ran out."""
    timer = runner.set_timer(seconds)
    in_time = True
    while in_time and not done():
        for event in runner.poll():
            if isinstance(event, Timer) and event.id == timer:
                in_time = False
            else:
                handle(event)
    runner.cancel_timer(timer)
    return in_time


def play(
    runner: procloop.Runner, turns: int, deadline: float
) -> Tuple[Dict[str, int], Dict[str, int], Dict[str, Optional[int]], Dict[str, str]]:
    scores = dict.fromkeys(bots.NAMES, 0)
    strikes = dict.fromkeys(bots.NAMES, 0)
    exits: Dict[str, Optional[int]] = {}
    notes: Dict[str, str] = {}
    playing = set(bots.NAMES)

    def note(event: "_Event") -> None:
        """Events that come whenever they come: exits and complaints."""
        match event:
            case Exited(bot, code):
                exits[bot] = code
                playing.discard(bot)
            case Stderr(bot, data):
                lines = data.decode(errors="replace").strip().splitlines()
                notes[bot] = lines[-1] if lines else notes.get(bot, "")

    # Everyone says hello first, so that starting up costs no turn.
    hello: Set[str] = set()

    def greeted(event: "_Event") -> None:
        if isinstance(event, Data) and event.data == b"hello\n":
            hello.add(event.alias)
        else:
            note(event)

    poll_until(runner, lambda: hello >= playing, START_DEADLINE, greeted)

    for turn in range(1, turns + 1):
        if len(playing) < 2:
            break
        for bot in sorted(playing):
            try:
                runner.channel(bot).write(b"turn %d\n" % turn)
            except procloop.EndpointClosed:
                pass  # it died just now; its Exited is on its way
        moves: Dict[str, str] = {}

        def answered(event: "_Event", turn: int = turn, moves: Dict[str, str] = moves) -> None:
            match event:
                case Data(bot, line):
                    move = bots.parse(line.decode(), turn)
                    if move and bot in playing:
                        moves[bot] = move
                case _:
                    note(event)

        poll_until(runner, lambda: playing <= moves.keys(), deadline, answered)
        moves = {bot: move for bot, move in moves.items() if bot in playing}
        for bot, points in bots.score(moves).items():
            scores[bot] += points
        played = ", ".join(f"{bot} {move}" for bot, move in sorted(moves.items()))
        print(f"turn {turn}: {played or 'nobody played'}")
        for bot in sorted(playing):
            if bot not in moves:
                strikes[bot] += 1
            if strikes[bot] == STRIKES:
                print(f"  {bot} missed {STRIKES} deadlines: stopped")
            elif runner.cpu_time(bot) > CPU_BUDGET:
                print(f"  {bot} used {runner.cpu_time(bot):.2f} s of CPU: stopped")
            else:
                continue
            runner.stop(bot)
            playing.discard(bot)

    # The end: stop the rest, and take every exit as it comes.
    runner.stop_all()
    poll_until(runner, lambda: exits.keys() == set(bots.NAMES), 10.0, note)
    return scores, strikes, exits, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=bots.count, default=8)
    parser.add_argument("--deadline", type=bots.seconds, default=0.3, help="seconds a turn")
    args = parser.parse_args()

    with procloop.Runner() as runner:
        for name in bots.NAMES:
            runner.add(
                name,
                bots.command(name),
                buffering="line",
                stderr="capture",
                termination_grace=0.5,
                limits=LIMITS,
            )
            runner.start(name)
        scores, strikes, exits, notes = play(runner, args.turns, args.deadline)

        print()
        print(f"{'bot':8} {'score':>5} {'missed':>6} {'exit':>5} {'cpu s':>6} {'max MiB':>7}  last words")
        for bot in sorted(bots.NAMES, key=lambda b: -scores[b]):
            usage = runner.usage(bot)
            cpu = f"{usage.cpu_time:6.2f}" if usage else "     ?"
            rss = f"{usage.max_rss / (1 << 20):7.1f}" if usage else "      ?"
            code = exits[bot]
            print(f"{bot:8} {scores[bot]:5} {strikes[bot]:6} {code!s:>5} {cpu} {rss}  {notes.get(bot, '')[-40:]}")


if __name__ == "__main__":
    main()
