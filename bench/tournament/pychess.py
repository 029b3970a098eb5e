"""The tournament on python-chess's asyncio engine module (chess.engine),
for the side-by-side comparison: C pairs of engines, each pair playing its
games one after the other, every move `engine.play` with a node limit,
python-chess's own legality checks, game ends and PGN. Its last line is
the same as the procloop example's.

    python pychess.py --engine stockfish --concurrency 8 --games 32 --nodes 2000 --max-plies 100 --hash 16 --pgn out.pgn
"""

import argparse
import asyncio
import resource
import shlex
import time

import chess
import chess.engine
import chess.pgn

#: Pairs of engines that start at once, as in the procloop example.
STARTING_AT_ONCE = 4


async def pair(opts, rounds, starts, out):
    async with starts:
        engines = []
        for command in opts.engines:
            _, engine = await chess.engine.popen_uci(shlex.split(command))
            if opts.hash:
                await engine.configure({"Hash": opts.hash})
            await engine.ping()
            engines.append(engine)
    limit = chess.engine.Limit(nodes=opts.nodes)
    try:
        while rounds:
            round_ = rounds.pop(0)
            white = (round_ + 1) % 2
            board = chess.Board()
            game_id = object()  # a new game: python-chess sends ucinewgame
            result = None
            while board.outcome(claim_draw=True) is None and len(board.move_stack) < opts.max_plies:
                engine = engines[white if board.turn == chess.WHITE else 1 - white]
                try:
                    played = await engine.play(board, limit, game=game_id)
                except chess.engine.EngineError:
                    result = "0-1" if board.turn == chess.WHITE else "1-0"
                    break
                board.push(played.move)
                out["moves"] += 1
            outcome = board.outcome(claim_draw=True)
            result = result or (outcome.result() if outcome else "1/2-1/2")
            game = chess.pgn.Game.from_board(board)
            game.headers.update(Event="python-chess tournament", Round=str(round_), Result=result)
            out["pgn"].append(str(game))
    finally:
        for engine in engines:
            await engine.quit()


async def main(opts):
    rounds = list(range(1, opts.games + 1))
    starts = asyncio.Semaphore(STARTING_AT_ONCE)
    out = {"moves": 0, "pgn": []}
    await asyncio.gather(*(pair(opts, rounds, starts, out) for _ in range(min(opts.concurrency, opts.games))))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", action="append")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--games", type=int, default=2)
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--max-plies", type=int, default=400)
    parser.add_argument("--hash", type=int)
    parser.add_argument("--pgn")
    opts = parser.parse_args()
    opts.engines = (opts.engine or ["stockfish"]) * (2 if len(opts.engine or [1]) == 1 else 1)
    began = time.monotonic()
    out = asyncio.run(main(opts))
    seconds = time.monotonic() - began
    if opts.pgn:
        with open(opts.pgn, "w") as pgn:
            pgn.write("\n\n".join(out["pgn"]) + "\n")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    moves = out["moves"]
    print(f"moves per second: {moves / seconds:.0f}")
    cpu = (usage.ru_utime + usage.ru_stime) * 1e6 / max(moves, 1)
    print(f"harness: {cpu:.1f} µs CPU per move over {moves} moves in {seconds:.1f} s")
