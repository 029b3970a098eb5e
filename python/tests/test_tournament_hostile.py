"""The Python tournament against what broke the Rust one: clocks that are
no clocks, a PGN that cannot be made, an engine that closes its output or
leaves children running, and a run ended by SIGTERM. Each ends with a
message, its finished games and no engine left running."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DEADLINE

pytestmark = pytest.mark.skipif(sys.version_info < (3, 10), reason="the examples use match")

TOURNAMENT = Path(__file__).resolve().parent.parent / "examples" / "tournament.py"
FAKE = Path(__file__).resolve().parent.parent.parent / "tournament" / "tests" / "fake_uci.sh"


@pytest.fixture(autouse=True)
def chess():
    pytest.importorskip("chess", reason="python-chess is not installed (pip install chess)")


def fake(mode, *args):
    return " ".join(["sh", str(FAKE), mode, *map(str, args)])


def tournament(*args, **popen):
    return subprocess.Popen([sys.executable, str(TOURNAMENT), *args], text=True, **popen)


def run(*args):
    return subprocess.run(
        [sys.executable, str(TOURNAMENT), *args], capture_output=True, text=True, timeout=3 * DEADLINE, check=False
    )


def ended(pid):
    """Gone, or a zombie (nothing here reaps orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(") ", 1)[1].startswith("Z")


@pytest.mark.parametrize("tc", ["1e309+0", "nan+0", "inf+0", "-5+0", "0+0", "1e18+0", "1+-1", "1+"])
def test_a_clock_that_is_no_clock_is_named(tc):
    done = run("--engine", fake("illegal"), "--tc", tc)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "--tc" in done.stderr, done.stderr


def test_a_pgn_that_cannot_be_made_is_named_before_any_game():
    pgn = "/nonexistent-procloop-dir/games.pgn"
    done = run("--engine", fake("illegal"), "--pgn", pgn)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert pgn in done.stderr and not done.stdout, done.stderr


def test_an_engine_that_closes_its_output_loses_as_a_crash(tmp_path):
    pgn = tmp_path / "games.pgn"
    done = run("--engine", fake("closes"), "--games", "2", "--tc", "0.3+0", "--pgn", str(pgn))
    assert done.returncode == 0, done.stderr
    assert pgn.read_text().count('[Termination "abandoned"]') == 2, pgn.read_text()
    assert "time losses 0 / 0, crashes 1 / 1" in done.stdout, done.stdout


def test_an_engines_children_end_with_the_tournament(tmp_path):
    pids = tmp_path / "pids"
    done = run("--engine", fake("illegal"), "--engine", fake("forks", pids), "--games", "2")
    assert done.returncode == 0, done.stderr
    started = pids.read_text().split()
    assert len(started) == 2, "the engine and its child"
    assert all(ended(pid) for pid in started), started


def test_sigterm_keeps_the_finished_games_and_ends_the_engines(tmp_path):
    pids, pgn, out, err = (tmp_path / name for name in ("pids", "games.pgn", "out", "err"))
    args = ["--engine", fake("deaf", pids), "--games", "20", "--tc", "0.3+0", "--charge", "wall", "--pgn", str(pgn)]
    with open(out, "w") as stdout, open(err, "w") as stderr:
        child = tournament(*args, stdout=stdout, stderr=stderr)
    # The PGN holds the first game once it is flushed.
    end = time.monotonic() + DEADLINE
    while "[Result " not in (pgn.read_text() if pgn.exists() else ""):
        assert time.monotonic() < end and child.poll() is None, "no game finished"
        time.sleep(0.05)
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=DEADLINE)
    finally:
        child.kill()
    assert child.returncode == 128 + signal.SIGTERM, err.read_text()
    assert all(ended(pid) for pid in pids.read_text().split()), "the engines were ended"
    games = pgn.read_text().count("[Result ")
    summary = out.read_text()
    assert "interrupted by SIGTERM" in summary, summary
    wins, draws, losses = map(int, re.search(r": \+(\d+) =(\d+) -(\d+)", summary).groups())
    assert wins + draws + losses == games and 1 <= games < 20, (games, summary)


def test_a_bestmove_not_asked_for_loses(tmp_path):
    # White answers its first go twice; Black never answers, and would lose
    # on time if the extra line went unnoticed.
    pgn = tmp_path / "games.pgn"
    args = ["--engine", fake("twice"), "--engine", fake("silent"), "--games", "1", "--tc", "0.3+0"]
    done = run(*args, "--charge", "wall", "--pgn", str(pgn))
    assert done.returncode == 0, done.stderr
    assert '[Termination "rules infraction"]' in pgn.read_text() and '[Result "0-1"]' in pgn.read_text()
    assert "illegal moves 1 / 0" in done.stdout, done.stdout


def test_an_engine_that_hangs_is_started_again_for_the_next_game(tmp_path):
    pgn, pids = tmp_path / "games.pgn", tmp_path / "pids"
    done = run("--engine", fake("illegal"), "--engine", fake("hangs", pids), "--games", "2", "--pgn", str(pgn))
    assert done.returncode == 0, done.stderr
    terminations = re.findall(r'\[Termination "(.*)"\]', pgn.read_text())
    assert terminations == ["abandoned", "rules infraction"], "started again, it played game 2"


def test_a_closed_stdout_is_a_message_not_a_traceback():
    child = tournament("--engine", fake("illegal"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # `| head -0`
    try:
        _, stderr = child.communicate(timeout=3 * DEADLINE)
    finally:
        child.kill()
    assert child.returncode == 1 and "Traceback" not in stderr, stderr
    assert "tournament: writing the summary: Broken pipe" in stderr, stderr


@pytest.mark.parametrize(
    "args, named",
    [
        (["--engine", "'sf"], "unterminated single quote"),
        (["--engine", ""], "empty command"),
        (["--max-plies", "-1"], "--max-plies"),
        (["--hash", "-1"], "--hash"),
        (["--games", "0"], "--games"),
        (["--nodes", "0"], "--nodes"),
    ],
)
def test_bad_options_are_named(args, named):
    done = run(*args)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert named in done.stderr, done.stderr


def test_an_engine_that_cannot_start_is_named():
    done = run("--engine", "/nonexistent-procloop-engine", "--games", "1")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "error: starting /nonexistent-procloop-engine: " in done.stdout, done.stdout


def test_a_full_disk_under_the_pgn_is_said_and_the_games_go_on():
    done = run("--engine", fake("illegal"), "--games", "2", "--pgn", "/dev/full")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "error: writing the PGN: No space left on device" in done.stdout, done.stdout
    assert "illegal moves 1 / 1" in done.stdout, "both games played"


def test_an_engine_that_never_says_uciok_is_given_up_on_and_named():
    done = run("--engine", fake("illegal"), "--engine", fake("mute"), "--games", "2")
    assert done.returncode == 1, done.stderr
    assert f"error: {fake('mute')} did not start: no answer in time" in done.stdout, done.stdout
    assert "2 games not played" in done.stdout, done.stdout


def test_a_second_run_adds_its_games_to_the_pgn(tmp_path):
    pgn = tmp_path / "games.pgn"
    for _ in range(2):
        done = run("--engine", fake("illegal"), "--games", "2", "--pgn", str(pgn))
        assert done.returncode == 0, done.stderr
    assert re.findall(r'\[Round "(\d+)"\]', pgn.read_text()) == ["1", "2", "1", "2"], "the first run's games are kept"


def test_a_signal_while_a_game_is_recorded_comes_after_the_record():
    sys.path.insert(0, str(TOURNAMENT.parent))
    try:
        import tournament as example
    finally:
        sys.path.pop(0)
    interrupts = example.Interrupts()
    old = signal.signal(signal.SIGHUP, interrupts.handler)
    recorded = False
    try:
        with pytest.raises(example.Interrupted):
            with interrupts.held():
                os.kill(os.getpid(), signal.SIGHUP)  # its handler runs here, held
                recorded = True
    finally:
        signal.signal(signal.SIGHUP, old)
    assert recorded, "the score and the PGN were both written before the signal was raised"


def test_a_start_on_a_loaded_machine_has_its_share_of_time(monkeypatch):
    sys.path.insert(0, str(TOURNAMENT.parent))
    try:
        import tournament as example
    finally:
        sys.path.pop(0)
    monkeypatch.setattr(example.os, "cpu_count", lambda: 2)
    pairs = [example.Pair(i) for i in range(256)]
    tournament = example.Tournament.__new__(example.Tournament)  # the pairs alone: no runner
    tournament.pairs = pairs
    assert tournament.start_limit() == example.START_LIMIT
    for pair in pairs:
        pair.move = ("a", 0, 0.0, 0.0, 1.0, 0)
    assert tournament.start_limit() == example.START_LIMIT * 128
