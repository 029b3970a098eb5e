"""The examples run, end by themselves, and print what they promise."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DEADLINE

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(script, *args):
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=3 * DEADLINE,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(sys.version_info < (3, 10), reason="the examples use match")
def test_the_arena_plays_stops_and_accounts():
    # The bots built to miss a deadline miss it however long it is; 2 s
    # leaves the others room on a loaded machine.
    out = run("arena.py", "--turns", "6", "--deadline", "2")
    assert out.startswith("turn 1: ")
    assert "sleepy missed 3 deadlines: stopped" in out
    table = out.split("\n\n")[1].splitlines()
    assert table[0].split()[:4] == ["bot", "score", "missed", "exit"]
    rows = {row.split()[0]: row.split() for row in table[1:]}
    assert set(rows) == {"rocky", "cycler", "dice", "sleepy", "greedy", "spinner"}
    assert rows["greedy"][3] == "1" and rows["greedy"][-1] == "MemoryError", "its memory limit"
    assert all(rows[bot][3] == "-15" for bot in ["rocky", "cycler", "dice", "sleepy"]), "stopped by SIGTERM"
    assert float(rows["spinner"][4]) > 0, "its CPU time was counted"


@pytest.mark.skipif(sys.version_info < (3, 10), reason="the examples use match")
def test_the_asyncio_arena_plays_every_match():
    out = run("aio_arena.py", "--turns", "5", "--deadline", "2").splitlines()
    assert [line.split(":")[0] for line in out] == [
        "rocky#1 vs cycler#1",
        "dice#2 vs sleepy#2",
        "greedy#3 vs spinner#3",
        "cycler#4 vs dice#4",
    ]
    assert "exit 1" in out[2], "greedy's memory limit"


def stockfish():
    import shutil

    return shutil.which("stockfish", path=os.environ.get("PATH", "") + ":/usr/games")


@pytest.mark.skipif(sys.version_info < (3, 10), reason="the examples use match")
def test_the_tournament_plays_legal_games_into_a_pgn(tmp_path):
    pytest.importorskip("chess", reason="python-chess is not installed (pip install chess)")
    engine = stockfish()
    if engine is None:
        pytest.skip("stockfish is not installed (apt-get install -y stockfish)")
    pgn = tmp_path / "games.pgn"
    args = ["--engine", engine, "--games", "2", "--concurrency", "2", "--nodes", "200", "--max-plies", "20"]
    out = run("tournament.py", *args, "--pgn", str(pgn))
    import chess.pgn

    with open(pgn) as f:
        games = [chess.pgn.read_game(f), chess.pgn.read_game(f)]
    assert all(len(list(g.mainline_moves())) == 20 for g in games), "legal moves, replayed by python-chess"
    assert [g.headers["Termination"] for g in games] == ["adjudication", "adjudication"]
    assert ": +0 =2 -0" in out, out
    last = out.splitlines()[-1]
    assert last.startswith("harness: ") and last.endswith(" s") and " µs CPU per move over 40 moves in " in last, last


@pytest.mark.skipif(sys.version_info < (3, 10), reason="the examples use match")
def test_the_tournaments_silent_engine_loses_on_time(tmp_path):
    pytest.importorskip("chess", reason="python-chess is not installed (pip install chess)")
    engine = stockfish()
    if engine is None:
        pytest.skip("stockfish is not installed (apt-get install -y stockfish)")
    fake = EXAMPLES.parent.parent / "tournament" / "tests" / "fake_uci.sh"
    pgn = tmp_path / "games.pgn"
    args = ["--engine", engine, "--engine", f"sh {fake} silent", "--games", "2", "--tc", "0.3+0"]
    out = run("tournament.py", *args, "--pgn", str(pgn))
    text = pgn.read_text()
    assert text.count('[Termination "time forfeit"]') == 2, text
    assert "time losses 0 / 2" in out, out


def readme_programs():
    """The README's Python blocks that are whole programs (not fragments
    with ``...``)."""
    import re

    readme = (EXAMPLES.parent / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    return [b for b in blocks if "\n..." not in b and "..." not in b.split("\n", 1)[0]]


@pytest.mark.skipif(sys.version_info < (3, 10), reason="the README uses match")
@pytest.mark.parametrize("program", readme_programs(), ids=lambda p: p.split("\n", 1)[0][:40])
def test_the_readmes_programs_run(program):
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=3 * DEADLINE)
    assert done.returncode == 0, done.stderr
