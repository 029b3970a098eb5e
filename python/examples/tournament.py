"""A tournament between two UCI chess engines on procloop's native loop:
many games at once, one thread, the Python counterpart of the Rust
example ``cargo run --release -p procloop-tournament --example tournament``.

- Each pair of engines plays its games one after the other; the pairs play
  at once. Each move is a turn: ``position`` and ``go`` to the engine to
  move, and its ``bestmove`` line (after its ``info`` lines) as the reply.
- Its clock: ``--nodes`` alone gives each move 10 s; ``--tc BASE+INC``
  gives each side a Fischer clock. ``--charge cpu`` counts the engine's
  CPU time (``runner.cpu_time``), so that a loaded machine does not flag a
  healthy engine: the deadline timer, when it fires, looks at the CPU time
  used and is set again for what is left (ten times the time in wall time
  at most). A move past the clock loses on time.
- python-chess checks each move and ends games by the rules (mate,
  stalemate, threefold repetition, 50 moves, insufficient material); a
  move limit draws; a crash or an illegal move loses. The games go to a
  PGN file.
- Its last line: the harness's own CPU time per move (``getrusage``).

    pip install chess
    python examples/tournament.py --engine stockfish --concurrency 8 --games 32 --nodes 2000 --pgn games.pgn

Python 3.10 or later (``match``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import math
import os
import resource
import signal
import sys
import time

from typing import IO, Any, Iterator, Optional, Sequence

import chess
import chess.pgn
import procloop
from procloop import Closed, Data, Exited, Timer

#: A move being thought: alias, engine, start wall, start CPU, allowed, timer.
Move = tuple[str, int, float, float, float, int]

#: Pairs of engines that start at once: the others wait their turn, so
#: that no engine's start-up, slowed by the others', misses its limit.
STARTING_AT_ONCE = 4
#: Wall time an engine has to answer ``uci`` and ``isready`` on a machine
#: with a core for each engine thinking (that many times longer with more):
#: a hung engine costs its game this long (then it is started again).
START_LIMIT = 15.0
#: Time a move has without a clock.
MOVE_LIMIT = 10.0
#: The wall-time backstop of a CPU-charged move: this many times its time.
CPU_BACKSTOP = 10
#: The longest clock, base or increment, in seconds: a day (``wtime`` in
#: ms overflows an engine's 32-bit integer past 24 days; 1e18 s hung).
LONGEST_CLOCK = 86_400.0


class Interrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP came: the run ends early."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Interrupts:
    """The ending signals as :class:`Interrupted`, raised from the loop;
    held while a game is recorded, so that its score and its PGN never part."""

    def __init__(self) -> None:
        self.holding = False
        self.pending: Optional[int] = None

    def handler(self, signum: int, frame: Any) -> None:
        if self.holding:
            self.pending = signum
        else:
            raise Interrupted(signum)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.pending is not None:
            raise Interrupted(self.pending)


INTERRUPTS = Interrupts()


def clock(parser: argparse.ArgumentParser, tc: str) -> tuple[float, float]:
    """``BASE+INC`` (or ``BASE``) in seconds, each finite, at most a day,
    the base more than zero; else the parser's error (exit 2)."""
    base, plus, inc = tc.partition("+")
    try:
        parts = (float(base), float(inc if plus else 0))
    except ValueError:
        parser.error(f"--tc {tc!r}: BASE+INC in seconds")
    if not all(math.isfinite(p) and 0 <= p <= LONGEST_CLOCK for p in parts):
        parser.error(f"--tc {tc!r}: each part from 0 to {LONGEST_CLOCK:g} s")
    if parts[0] * 1000 < 1:
        parser.error(f"--tc {tc!r}: a clock needs some time to start with")
    return parts


def options(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", action="append", help="an engine's command (once for both, or twice)")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--games", type=int, default=2)
    parser.add_argument("--nodes", type=int)
    parser.add_argument("--tc", help="each side's clock in seconds: BASE+INC")
    parser.add_argument("--max-plies", type=int, default=400, help="0: no move limit")
    parser.add_argument("--hash", type=int, help="the engines' Hash in MiB")
    parser.add_argument("--pgn", help="the file the games are appended to")
    parser.add_argument("--charge", choices=["cpu", "wall"], default="cpu")
    opts = parser.parse_args(argv)
    engines = opts.engine or ["stockfish"]
    if len(engines) > 2:
        parser.error("--engine given more than twice: a tournament has two engines")
    opts.engines = engines * 2 if len(engines) == 1 else engines
    if opts.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if opts.games < 1:
        parser.error("--games must be at least 1")
    if opts.max_plies < 0:
        parser.error("--max-plies must be at least 0 (0: no move limit)")
    if opts.hash is not None and opts.hash < 0:
        parser.error("--hash must be at least 0")
    for engine in opts.engines:
        # A command that cannot be split is named now, not after the start.
        try:
            procloop.split_command(engine)
        except procloop.BadCommandError as e:
            parser.error(f"--engine: {e}")
    if opts.nodes is not None and opts.nodes < 1:
        parser.error("--nodes must be at least 1")
    if opts.tc:
        opts.tc = clock(parser, opts.tc)
    elif opts.nodes is None:
        opts.nodes = 2000
    if opts.pgn:
        # Opened now, so that a path that cannot be written is named before
        # any game; appended to, as chess tools do (an earlier run's games
        # stay); flushed after each game, so that a run ended early keeps
        # every game it finished.
        try:
            opts.pgn = open(opts.pgn, "a")
        except OSError as e:
            parser.error(f"--pgn {opts.pgn}: {e.strerror}")
    return opts


class Pair:
    """Two engines (aliases ``a{i}`` and ``b{i}``) and the game they play."""

    def __init__(self, index: int) -> None:
        self.aliases = (f"a{index}", f"b{index}")
        self.step = "queued"
        self.waiting: dict[str, bytes] = {}  # alias -> the line prefix it owes
        self.board = chess.Board()
        self.round = 0
        self.white = 0  # which engine plays White
        self.clocks = [0.0, 0.0]
        self.move: Optional[Move] = None  # the move being thought
        self.timer = 0  # the start-up or new-game step's deadline
        self.starting = False  # whether it counts among the pairs starting at once
        # Each engine's gos and bestmoves, from its start: a bestmove it was
        # not asked for (two for one go) may be taken for the reply to a
        # later go, so the engine that said it loses the game (``breach``).
        self.asked = [0, 0]
        self.answered = [0, 0]
        self.breach: Optional[int] = None
        self.awaited: Optional[str] = None  # the hung engine whose exit "ending" waits for


class Tournament:
    def __init__(self, runner: procloop.Runner, opts: argparse.Namespace) -> None:
        self.runner = runner
        self.opts = opts
        self.pairs = [Pair(i) for i in range(min(opts.concurrency, opts.games))]
        self.by_alias = {alias: pair for pair in self.pairs for alias in pair.aliases}
        self.queued = list(self.pairs)
        self.starting = 0
        self.rounds_given = 0
        self.names = list(opts.engines)
        self.named = [False, False]
        self.score = {"wins": 0, "draws": 0, "losses": 0}
        self.losses = {kind: [0, 0] for kind in ("time", "crash", "illegal")}
        self.moves = 0
        self.games = 0
        self.errors: list[str] = []
        self.pgn: Optional[IO[str]] = opts.pgn
        self.timers: dict[int, Pair] = {}  # timer id -> its pair
        for i, command in enumerate(opts.engines):
            # A process group of its own: a Ctrl-C at the terminal reaches
            # the harness alone, which ends the engines itself.
            runner.add(f"engine{i}", command, buffering="line", setpgrp=True)
        self.start_queued()

    def over(self) -> bool:
        return all(pair.step in ("done", "failed") for pair in self.pairs)

    # Start-up: uci, then setoption and isready; a few pairs at a time.

    def start_queued(self) -> None:
        while self.starting < STARTING_AT_ONCE and self.queued:
            pair = self.queued.pop(0)
            self.starting += 1
            pair.starting = True
            self.start(pair, (0, 1))

    def start(self, pair: Pair, engines: Sequence[int]) -> None:
        for e in engines:
            alias = pair.aliases[e]
            if alias in self.runner.aliases():
                self.runner.terminate(alias)
            try:
                self.runner.start(f"engine{e}", alias=alias)
            except procloop.ProcloopError as error:  # not found, not executable
                return self.fail(pair, f"starting {self.opts.engines[e]}: {error}")
            pair.asked[e] = pair.answered[e] = 0
        self.ask(pair, "uci", {pair.aliases[e]: b"uci\n" for e in engines}, b"uciok")

    def ask(self, pair: Pair, step: str, payloads: dict[str, bytes], prefix: bytes) -> None:
        """Writes each engine its payload; the step ends when each has
        answered a line starting with ``prefix``, or at ``START_LIMIT``."""
        pair.step = step
        pair.waiting = {}
        pair.timer = self.runner.set_timer(self.start_limit())
        self.timers[pair.timer] = pair
        for alias, payload in payloads.items():
            if not self.send(alias, payload):
                return self.answered(pair, failed=alias)
            pair.waiting[alias] = prefix

    def start_limit(self) -> float:
        """``START_LIMIT``, times the engines thinking per core when they are
        more than the cores: a start on a loaded machine gets its share."""
        thinking = sum(pair.move is not None for pair in self.pairs)
        return START_LIMIT * max(1, thinking // (os.cpu_count() or 1))

    def send(self, alias: str, payload: bytes) -> bool:
        """Writes to an engine; False if it has ended."""
        channel = self.runner.get_channel(alias)
        if channel is None or self.runner.returncode(alias) is not None:
            return False
        try:
            channel.write(payload)
        except OSError:
            return False
        return True

    def answered(self, pair: Pair, failed: Optional[str] = None) -> None:
        """A step's engines all answered (or ``failed`` did not)."""
        self.runner.cancel_timer(pair.timer)
        self.timers.pop(pair.timer, None)
        if failed is not None and pair.step in ("uci", "ready"):
            command = self.opts.engines[pair.aliases.index(failed)]
            why = "it ended" if self.runner.returncode(failed) is not None else "no answer in time"
            return self.fail(pair, f"{command} did not start: {why}")
        if failed is not None:  # newgame
            loser = pair.aliases.index(failed)
            colour = chess.WHITE if loser == pair.white else chess.BLACK
            if self.runner.returncode(failed) is None:
                # Hung: it is ended, and the next game waits for its exit
                # (SIGKILL at the grace at most) to start it again.
                self.runner.stop(failed)
                self.finish(pair, not colour, "abandoned", "crash", then="ending")
                pair.awaited = failed
                return
            return self.finish(pair, not colour, "abandoned", "crash")
        match pair.step:
            case "uci":
                hash_ = f"setoption name Hash value {self.opts.hash}\n" if self.opts.hash else ""
                payload = (hash_ + "isready\n").encode()
                self.ask(pair, "ready", {alias: payload for alias in pair.aliases}, b"readyok")
            case "ready":
                if pair.starting:
                    pair.starting = False
                    self.starting -= 1
                    self.start_queued()
                self.next_game(pair)
            case "newgame":
                if self.opts.tc:
                    pair.clocks = [self.opts.tc[0], self.opts.tc[0]]
                self.ask_move(pair)

    # Games.

    def next_game(self, pair: Pair) -> None:
        if self.rounds_given == self.opts.games:
            return self.quit(pair, "done")
        gone = [e for e in (0, 1) if self.runner.returncode(pair.aliases[e]) is not None]
        if gone:
            return self.start(pair, gone)
        self.rounds_given += 1
        pair.round = self.rounds_given
        pair.white = (pair.round + 1) % 2
        pair.board = chess.Board()
        self.ask(pair, "newgame", {alias: b"ucinewgame\nisready\n" for alias in pair.aliases}, b"readyok")

    def engine_to_move(self, pair: Pair) -> int:
        return pair.white if pair.board.turn == chess.WHITE else 1 - pair.white

    def ask_move(self, pair: Pair) -> None:
        e = self.engine_to_move(pair)
        alias = pair.aliases[e]
        moves = " ".join(m.uci() for m in pair.board.move_stack)
        go = "go"
        allowed = MOVE_LIMIT
        if self.opts.tc:
            white, black = pair.clocks[pair.white], pair.clocks[1 - pair.white]
            inc = round(self.opts.tc[1] * 1000)
            go += f" wtime {round(white * 1000)} btime {round(black * 1000)} winc {inc} binc {inc}"
            allowed = pair.clocks[e] + self.opts.tc[1]
        if self.opts.nodes:
            go += f" nodes {self.opts.nodes}"
        position = f"position startpos moves {moves}\n" if moves else "position startpos\n"
        pair.step = "move"
        pair.waiting = {alias: b"bestmove"}
        pair.asked[e] += 1
        started = time.monotonic()
        if not self.send(alias, f"{position}{go}\n".encode()):
            return self.finish(pair, not pair.board.turn, "abandoned", "crash")
        cpu = self.runner.cpu_time(alias) if self.opts.charge == "cpu" else 0.0
        timer = self.runner.set_timer(allowed)
        self.timers[timer] = pair
        pair.move = (alias, e, started, cpu, allowed, timer)

    def used(self, pair: Pair) -> float:
        assert pair.move is not None
        alias, _, started, cpu, _, _ = pair.move
        if self.opts.charge == "cpu":
            return self.runner.cpu_time(alias) - cpu
        return time.monotonic() - started

    def bestmove(self, pair: Pair, line: bytes) -> None:
        assert pair.move is not None
        alias, e, started, _, allowed, timer = pair.move
        self.runner.cancel_timer(timer)
        self.timers.pop(timer, None)
        if pair.breach is not None:
            return self.breached(pair)
        used = self.used(pair)
        if used > allowed:
            return self.finish(pair, not pair.board.turn, "time forfeit", "time")
        words = line.split()
        try:
            move = chess.Move.from_uci(words[1].decode())
        except (IndexError, ValueError, UnicodeDecodeError):
            move = None
        if move is None or not pair.board.is_legal(move):
            return self.finish(pair, not pair.board.turn, "rules infraction", "illegal")
        if self.opts.tc:
            # A Fischer clock: what the move used, then the increment.
            pair.clocks[e] += self.opts.tc[1] - used
        pair.board.push(move)
        self.moves += 1
        outcome = pair.board.outcome(claim_draw=True)
        if outcome:
            return self.finish(pair, outcome.winner, "normal")
        if self.opts.max_plies and len(pair.board.move_stack) >= self.opts.max_plies:
            return self.finish(pair, None, "adjudication")
        self.ask_move(pair)

    def move_timer(self, pair: Pair) -> None:
        """A move's deadline timer fired: on time, unless CPU charging says
        the engine has time left (then the timer is set again)."""
        assert pair.move is not None
        alias, e, started, cpu, allowed, _ = pair.move
        if self.opts.charge == "cpu":
            used = self.used(pair)
            backstop = allowed * CPU_BACKSTOP - (time.monotonic() - started)
            if used < allowed and backstop > 0:
                timer = self.runner.set_timer(min(allowed - used, backstop))
                self.timers[timer] = pair
                pair.move = (alias, e, started, cpu, allowed, timer)
                return
        if pair.breach is not None:
            return self.breached(pair)
        self.send(alias, b"stop\n")  # its bestmove comes before the next readyok
        winner = not pair.board.turn
        if not pair.board.has_insufficient_material(winner):
            self.finish(pair, winner, "time forfeit", "time")
        else:
            self.finish(pair, None, "time forfeit")

    def breached(self, pair: Pair) -> None:
        """The engine ``pair.breach`` said a bestmove it was not asked for."""
        colour = chess.WHITE if pair.breach == pair.white else chess.BLACK
        self.finish(pair, not colour, "rules infraction", "illegal")

    def counted(self, pair: Pair, alias: str) -> None:
        """Counts a bestmove line of ``alias``; one too many is a breach
        (counted once: the count is set back)."""
        e = pair.aliases.index(alias)
        pair.answered[e] += 1
        if pair.answered[e] > pair.asked[e]:
            pair.answered[e] = pair.asked[e]
            if pair.step == "move" and pair.breach is None:
                pair.breach = e

    def finish(
        self, pair: Pair, winner: Optional[bool], termination: str, kind: Optional[str] = None, then: str = "next"
    ) -> None:
        """The game ended: ``winner`` is a colour or None (a draw). Then the
        next game, or (``then="ending"``) the wait for a hung engine's exit."""
        with INTERRUPTS.held():
            self.record(pair, winner, termination, kind)
        pair.move = None
        pair.breach = None
        if then == "ending":
            pair.step = "ending"
        else:
            self.next_game(pair)

    def record(self, pair: Pair, winner: Optional[bool], termination: str, kind: Optional[str]) -> None:
        """Counts the game and writes it to the PGN (one write)."""
        self.games += 1
        engine = None if winner is None else (pair.white if winner == chess.WHITE else 1 - pair.white)
        key = {None: "draws", 0: "wins", 1: "losses"}[engine]
        self.score[key] += 1
        if kind and engine is not None:
            self.losses[kind][1 - engine] += 1
        result = {None: "1/2-1/2", chess.WHITE: "1-0", chess.BLACK: "0-1"}[winner]
        if self.pgn:
            game = chess.pgn.Game.from_board(pair.board)
            game.headers.update(
                Event="procloop tournament",
                Date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y.%m.%d"),
                Round=str(pair.round),
                White=self.names[pair.white],
                Black=self.names[1 - pair.white],
                Result=result,
                Termination=termination,
                TimeControl=f"{self.opts.tc[0]:g}+{self.opts.tc[1]:g}" if self.opts.tc else "-",
                PlyCount=str(len(pair.board.move_stack)),
            )
            try:
                self.pgn.write(game.accept(chess.pgn.StringExporter(columns=80)) + "\n\n")
                self.pgn.flush()
            except OSError as e:  # a full disk: said at the end, the games go on
                self.errors.append(f"writing the PGN: {e.strerror}")
                self.pgn = None

    def fail(self, pair: Pair, error: str) -> None:
        print(error, file=sys.stderr)
        self.errors.append(error)
        if pair.starting:
            pair.starting = False
            self.starting -= 1
        self.quit(pair, "failed")
        self.start_queued()

    def quit(self, pair: Pair, step: str) -> None:
        pair.step = step
        for alias in pair.aliases:
            self.send(alias, b"quit\n")

    # The loop's events.

    def handle(self, event: Any) -> None:
        match event:
            case Data(alias, line):
                pair = self.by_alias.get(alias)
                if pair is None:
                    return
                if line.startswith(b"id name ") and pair.step == "uci":
                    self.name(alias.startswith("b"), line[8:].decode(errors="replace").strip())
                if line.startswith(b"bestmove"):
                    self.counted(pair, alias)
                prefix = pair.waiting.get(alias)
                if prefix is None or not line.startswith(prefix):
                    return
                del pair.waiting[alias]
                if pair.step == "move":
                    self.bestmove(pair, line)
                elif not pair.waiting:
                    self.answered(pair)
            case Timer(id):
                pair = self.timers.pop(id, None)
                if pair is not None and pair.step == "move":
                    self.move_timer(pair)
                elif pair is not None:
                    self.answered(pair, failed=next(iter(pair.waiting)))
            case Closed(alias):
                # It can never reply again: it is ended, and loses as a crash.
                if self.runner.returncode(alias) is None:
                    self.runner.stop(alias)
            case Exited(alias, _):
                pair = self.by_alias.get(alias)
                if pair is not None and pair.step == "ending" and alias == pair.awaited:
                    return self.next_game(pair)
                if pair is None or alias not in pair.waiting:
                    return
                if pair.step == "move" and pair.move is not None:
                    self.runner.cancel_timer(pair.move[-1])
                    self.timers.pop(pair.move[-1], None)
                    self.finish(pair, not pair.board.turn, "abandoned", "crash")
                else:
                    self.answered(pair, failed=alias)

    def name(self, e: int, name: str) -> None:
        if self.named[e]:
            return
        self.named[e] = True
        self.names[e] = name
        if all(self.named) and self.names[0] == self.names[1]:
            self.names = [f"{name} (1)", f"{name} (2)"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    opts = options(argv)
    began = time.monotonic()
    interrupted: Optional[Interrupted] = None
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, INTERRUPTS.handler)
    # Cgroups (or else process groups): an engine's children end with it.
    with procloop.Runner(extra_paths=["/usr/games"], cgroups="preferred") as runner:
        tournament = Tournament(runner, opts)
        seconds = 0.0
        try:
            while not tournament.over():
                for event in runner.poll():
                    tournament.handle(event)
            seconds = time.monotonic() - began
            # The engines were asked to quit: 5 s to do so, then they are ended.
            deadline = time.monotonic() + 5
            while any(runner.returncode(a) is None for a in runner.aliases()) and time.monotonic() < deadline:
                runner.poll(0.1)
        except Interrupted as signalled:
            # The games under way are dropped; the finished ones are in the PGN.
            interrupted = signalled
            seconds = seconds or time.monotonic() - began
        if tournament.pgn:
            tournament.pgn.close()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # the engines are ended, whatever comes
        runner.terminate_all()
    unplayed = opts.games - tournament.games
    try:
        # One write: a closed stdout (``| head -1``) is a message, not a traceback.
        sys.stdout.write(summary(tournament, opts, interrupted, seconds, unplayed))
        sys.stdout.flush()
    except BrokenPipeError as e:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        print(f"tournament: writing the summary: {e.strerror}", file=sys.stderr)
        return 1
    if interrupted:
        return 128 + interrupted.signum
    return 0 if not unplayed and not tournament.errors else 1


def summary(
    tournament: Tournament, opts: argparse.Namespace, interrupted: Optional[Interrupted], seconds: float, unplayed: int
) -> str:
    """What the run did, in lines; the last one the harness's CPU per move."""
    first, second = tournament.names
    s = tournament.score
    limit = f"{opts.nodes} nodes a move" if opts.nodes else ""
    if opts.tc:
        limit += f"{', ' if limit else ''}{opts.tc[0]:g}+{opts.tc[1]:g}"
    losses = tournament.losses
    lines = [
        f"{opts.games} games, {opts.concurrency} at once, {limit}, {opts.charge} charged",
        f"{first} vs {second}: +{s['wins']} ={s['draws']} -{s['losses']}",
        f"time losses {losses['time'][0]} / {losses['time'][1]}, crashes {losses['crash'][0]} / "
        f"{losses['crash'][1]}, illegal moves {losses['illegal'][0]} / {losses['illegal'][1]}",
    ]
    lines += [f"error: {error}" for error in tournament.errors]
    if interrupted:
        lines.append(f"interrupted by {interrupted}: {unplayed} games not played")
    elif unplayed:
        lines.append(f"{unplayed} games not played")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    moves = tournament.moves
    lines.append(f"moves per second: {moves / max(seconds, 1e-9):.0f}")
    lines.append(f"harness: {cpu * 1e6 / max(moves, 1):.1f} µs CPU per move over {moves} moves in {seconds:.1f} s")
    return "\n".join(lines) + "\n"

if __name__ == "__main__":
    sys.exit(main())
