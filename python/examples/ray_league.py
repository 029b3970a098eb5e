"""A league of bots sharded over Ray actors: each actor is one procloop
Runner with its share of the bots, the driver deals out the rounds and
gathers the scores.

Each round, every shard plays one turn (``Runner.begin_turn``) for all its
bots at once: each bot gets the round's number and answers with a number;
a bot that does not answer within the deadline scores nothing that round.
The bots are started with ``die_with_parent``: when an actor dies (``ray
kill``, a crash, a lost node), its bots die with it, whatever Ray itself
cleans up. Each bot leads its own process group (``setpgrp``), so that
``stop`` and ``terminate`` reach what it forks. Each Runner asks for
containment (``Runner(cgroups="preferred")``): where the machine gives a
cgroup, each bot's whole tree is in a cgroup of its own, so nothing
it forks or setsids escapes ``terminate``, and a watchdog outside the
actor kills that cgroup once the actor's process has ended.

    pip install ray
    python examples/ray_league.py [--bots 100] [--actors 2] [--rounds 5]

Under a Ray cluster, give ``--address`` (or set ``RAY_ADDRESS``): it joins
the cluster instead of starting a local Ray sized for the actors, and the
shards land on the cluster's nodes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from typing import Any, Callable, Dict, List, Optional, Tuple

import ray

import procloop

#: A bot: reads a round's number, answers a number that depends on its seed.
#: ``SEED`` comes from its arguments.
BOT = "sh -c 'seed=$1; while read n; do echo $(( (n * seed + 7) % 101 )); done' bot"
#: Seconds a bot has to answer in a round.
DEADLINE = 2.0


def make_runner() -> Tuple[procloop.Runner, str]:
    """A Runner, contained in cgroups where this machine gives one; and how
    its children are contained (``"cgroup"``, ``"process_group"`` or
    ``"none"``)."""
    runner = procloop.Runner(cgroups="preferred")
    kind, path = runner.containment()
    if path is not None:
        watch(os.getpid(), str(path))
    return runner, kind


#: Waits for the actor's process to end, then kills the Runner's cgroup
#: (every bot's tree, setsid grandchildren included) and removes it.
_WATCHDOG = """
while kill -0 "$1" 2>/dev/null; do sleep 0.2; done
echo 1 > "$2/cgroup.kill"
for try in 1 2 3 4 5 6 7 8 9 10; do
    find "$2" -depth -mindepth 1 -type d -exec rmdir {} + 2>/dev/null
    rmdir "$2" 2>/dev/null && break
    sleep 0.2
done
"""


def watch(actor: int, cgroup: str) -> None:
    """Ends what is in ``cgroup`` once process ``actor`` has ended: a
    killed actor (SIGKILL) drops no Runner, so nothing else would. The
    watchdog is a process of its own session, not the actor's child, so
    that whatever ends the actor and its children leaves it running."""
    launcher = 'setsid sh -c "$0" watchdog "$1" "$2" </dev/null >/dev/null 2>&1 &'
    subprocess.run(["sh", "-c", launcher, _WATCHDOG, str(actor), cgroup], check=True)


class Shard:
    """One actor: a Runner with its bots, playing a turn per round."""

    def __init__(self, seeds: Dict[str, int], extra: Optional[Dict[str, str]] = None) -> None:
        self.runner, self.containment = make_runner()
        self.runner.add("bot", BOT, buffering="line", setpgrp=True, die_with_parent=True, termination_grace=0.5)
        for name, command in (extra or {}).items():
            self.runner.add(name, command, buffering="line", setpgrp=True, die_with_parent=True, termination_grace=0.5)
            self.runner.start(name)
        for alias, seed in seeds.items():
            self.runner.start("bot", alias, [str(seed)])
        self.bots = list(seeds)

    def play(self, round_: int) -> Dict[str, int]:
        """One round: each bot's points (0 for no answer in time)."""
        if not self.bots:
            return {}  # more actors than bots: a turn of nobody is refused
        payload = b"%d\n" % round_
        turn = self.runner.begin_turn({alias: payload for alias in self.bots}, DEADLINE)
        while True:
            for event in self.runner.poll(DEADLINE):
                if isinstance(event, procloop.TurnEnded) and event.turn == turn:
                    replies = event.report.replies
                    return {alias: int(replies[alias]) if alias in replies else 0 for alias in self.bots}

    def start(self, name: str, command: str) -> Optional[int]:
        """Starts one more process, dying with the actor too; its pid."""
        self.runner.add(name, command, buffering="line", setpgrp=True, die_with_parent=True, termination_grace=0.5)
        self.runner.start(name)
        return self.runner.pid(name)

    def pids(self) -> Dict[str, Optional[int]]:
        """The pid of each process this shard runs (for the tests)."""
        return {alias: self.runner.pid(alias) for alias in self.runner.aliases()}

    def how_contained(self) -> str:
        return self.containment

    def actor_pid(self) -> int:
        return os.getpid()


#: Shard as a Ray actor class: ``ShardActor.remote(seeds)`` starts one.
ShardActor: Any = ray.remote(Shard)


def league(bots: int, actors: int, rounds: int) -> List[Tuple[str, int]]:
    """Plays the league on the Ray that ``ray.init`` connected to; the
    standings, best first."""
    shards = deal(bots, actors)
    try:
        return standings(shards, rounds)
    finally:
        for shard in shards:
            ray.kill(shard)


def deal(bots: int, actors: int, extra: Optional[Dict[str, str]] = None) -> List[Any]:
    """``actors`` shards with ``bots`` bots dealt out among them."""
    seeds = [{f"bot-{i}": i + 1 for i in range(bots) if i % actors == a} for a in range(actors)]
    return [ShardActor.remote(share, extra) for share in seeds]


def standings(shards: List[Any], rounds: int) -> List[Tuple[str, int]]:
    """Plays ``rounds`` rounds on every shard at once; the standings."""
    totals: Dict[str, int] = {}
    for round_ in range(1, rounds + 1):
        for points in ray.get([shard.play.remote(round_) for shard in shards]):
            for alias, got in points.items():
                totals[alias] = totals.get(alias, 0) + got
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


def at_least(least: int) -> Callable[[str], int]:
    """An ``argparse`` type: a whole number, ``least`` or more."""

    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{text!r}: at least {least}")
        return value

    return whole


def connect(address: Optional[str], actors: int) -> None:
    """Joins the cluster at ``address`` (which refuses ``num_cpus``: its
    nodes have theirs), or starts a local Ray with a CPU for each actor."""
    if address:
        ray.init(address=address)
    else:
        ray.init(num_cpus=actors)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bots", type=at_least(0), default=100)
    parser.add_argument("--actors", type=at_least(1), default=2)
    parser.add_argument("--rounds", type=at_least(0), default=5)
    parser.add_argument("--address", default=os.environ.get("RAY_ADDRESS"), help="a Ray cluster to join")
    args = parser.parse_args()
    connect(args.address, args.actors)
    try:
        table = league(args.bots, args.actors, args.rounds)
    finally:
        ray.shutdown()
    for rank, (alias, points) in enumerate(table[:10], 1):
        print(f"{rank:3} {alias:10} {points}")
    print(f"{len(table)} bots on {args.actors} actors, {args.rounds} rounds")


if __name__ == "__main__":
    main()
