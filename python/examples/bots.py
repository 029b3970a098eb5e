"""The bots of the arena examples: small Python programs that play rock,
paper, scissors over stdin and stdout. They say ``hello`` once started;
then each turn they read ``turn N`` and answer ``N MOVE``. Some of them
play badly (late, greedily, for ever)."""

import argparse
import math
import shlex
import sys
from typing import Dict, Optional

MOVES = ("rock", "paper", "scissors")

#: What beats what.
BEATS = {"rock": "scissors", "paper": "rock", "scissors": "paper"}

#: name -> how the bot picks its move, in a loop over the turns (``turn``
#: counts from 0, ``n`` is the turn's number as the arena sent it).
_BRAINS = {
    # Always rock.
    "rocky": "move = 'rock'",
    # Rock, paper, scissors, rock, ...
    "cycler": "move = MOVES[turn % 3]",
    # Random, seeded: the same game every run.
    "dice": "move = rng.choice(MOVES)",
    # Every other turn it dozes until the next turn has begun: past the
    # turn's deadline, however long that is.
    "sleepy": "if turn % 2:\n        select.select([sys.stdin], [], [])\n    move = 'paper'",
    # Hoards 64 MiB a turn, until its memory limit says no (MemoryError:
    # on its second turn under the arenas' 128 MiB).
    "greedy": "hoard.append(bytearray(64 << 20))\n    move = 'scissors'",
    # From its third turn on it thinks for ever: its CPU time grows.
    "spinner": "while turn >= 2:\n        pass\n    move = 'rock'",
}

_PROGRAM = """\
import random, select, sys
MOVES = {moves!r}
rng = random.Random(42)
hoard = []
print("hello", flush=True)
for turn, line in enumerate(sys.stdin):
    n = line.split()[1]
    {brain}
    print(n, move, flush=True)
"""

NAMES = tuple(_BRAINS)


def command(name: str) -> str:
    """The command line of bot ``name``: this Python, running its program."""
    program = _PROGRAM.format(moves=MOVES, brain=_BRAINS[name])
    return " ".join(shlex.quote(word) for word in (sys.executable, "-u", "-c", program))


def parse(line: str, turn: int) -> Optional[str]:
    """The move in a bot's answer to ``turn``; None for an answer to another
    turn (a late one) or nonsense."""
    words = line.split()
    if len(words) == 2 and words[0] == str(turn) and words[1] in MOVES:
        return words[1]
    return None


def score(moves: Dict[str, str]) -> Dict[str, int]:
    """Points of each bot for one turn: one per other bot its move beats."""
    return {bot: sum(BEATS[move] == other for other in moves.values()) for bot, move in moves.items()}


def seconds(text: str) -> float:
    """An ``argparse`` type: a positive, finite number of seconds (a turn's
    deadline of 0, -1, nan or inf would make every bot miss every turn, or
    the arena's timer refuse it)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: a deadline is a positive number of seconds")
    if value >= 2.0**64:
        raise argparse.ArgumentTypeError(f"{text!r}: more seconds than a timer holds")
    return value


def count(text: str) -> int:
    """An ``argparse`` type: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a count cannot be negative")
    return value
