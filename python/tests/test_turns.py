"""Turns of a bot loop from Python (as tests/turns.rs does in Rust): replies,
time-outs, the overage bank, exits mid-turn, bad turns refused whole; the
awaitable turn of procloop.aio."""

import asyncio
import time

import pytest

import procloop
from conftest import DEADLINE
from procloop import Data, Reply, TurnEnded
from procloop.aio import Events


def bots(runner, command, *aliases, **options):
    runner.add("bot", command, buffering="line", **options)
    for alias in aliases:
        runner.start("bot", alias)


def play(runner, turn):
    """Polls until ``turn`` ends: its replies as (alias, data), the other
    Data events, and the report."""
    replies, data, report = [], [], None
    end = time.monotonic() + DEADLINE
    while report is None:
        assert time.monotonic() < end, f"the turn never ended; replies {replies}"
        for event in runner.poll(0.2):
            if isinstance(event, Reply) and event.turn == turn:
                replies.append((event.alias, event.data))
            elif isinstance(event, Data):
                data.append((event.alias, event.data))
            elif isinstance(event, TurnEnded) and event.turn == turn:
                report = event.report
    return replies, data, report


def test_echo_bots_all_reply_with_their_own_data():
    with procloop.Runner() as runner:
        bots(runner, "cat", "a", "b", "c")
        turn = runner.begin_turn({"a": b"1\n", "b": b"2\n", "c": b"3\n"}, 10)
        replies, _, report = play(runner, turn)
        assert sorted(replies) == [("a", b"1\n"), ("b", b"2\n"), ("c", b"3\n")]
        assert list(report.outcomes) == ["a", "b", "c"], "in the order the turn named them"
        assert all(o.kind == "replied" and o.replied for o in report.outcomes.values()), report
        assert report.replies == {"a": b"1\n", "b": b"2\n", "c": b"3\n"}
        assert report.outcome("a").elapsed > 0
        assert report.outcome("nobody") is None
        assert report.harness_delay >= 0


def test_a_silent_bot_times_out_while_the_others_reply():
    with procloop.Runner() as runner:
        bots(runner, "cat", "talker")
        runner.add("mute", "sleep 60", buffering="line")
        runner.start("mute")
        turn = runner.begin_turn({"talker": b"hi\n", "mute": b"hi\n"}, 0.2)
        _, _, report = play(runner, turn)
        assert report.outcome("talker").kind == "replied"
        assert report.outcome("mute").kind == "timed_out"
        assert report.outcome("mute").elapsed is None
        assert "mute" not in report.replies
        assert runner.overage_left("mute") == 0


def test_the_bank_shrinks_by_the_overage_and_an_empty_bank_times_out():
    script = 'while read line; do sleep "$line"; echo done; done'
    with procloop.Runner() as runner:
        runner.add("slow", f"sh -c '{script}'", buffering="line", overage=3)
        runner.start("slow")
        assert runner.overage_left("slow") == 3
        base = 0.05
        _, _, report = play(runner, runner.begin_turn({"slow": b"0.3\n"}, base))
        elapsed = report.outcome("slow").elapsed
        assert elapsed > base, "it went over"
        assert runner.overage_left("slow") == pytest.approx(3 - (elapsed - base), abs=1e-6)
        _, _, report = play(runner, runner.begin_turn({"slow": b"60\n"}, base))
        assert report.outcome("slow").kind == "timed_out"
        assert runner.overage_left("slow") == 0


def test_a_bot_that_exits_mid_turn_is_exited():
    with procloop.Runner() as runner:
        bots(runner, "cat", "stays")
        runner.add("quitter", "sh -c 'read line; exit 3'", buffering="line")
        runner.start("quitter")
        _, _, report = play(runner, runner.begin_turn({"stays": b"x\n", "quitter": b"x\n"}, 10))
        assert report.outcome("quitter").kind == "exited"
        assert report.outcome("stays").kind == "replied"


def test_cpu_charge_counts_cpu_time():
    with procloop.Runner() as runner:
        bots(runner, "sh -c 'read line; sleep 0.5; echo late but idle'", "sleeper")
        turn = runner.begin_turn({"sleeper": b"go\n"}, 0.1, charge="cpu")
        replies, _, report = play(runner, turn)
        outcome = report.outcome("sleeper")
        assert outcome.kind == "replied" and outcome.elapsed == outcome.cpu
        assert replies == [("sleeper", b"late but idle\n")]


def test_wall_charge_reads_no_cpu_time():
    with procloop.Runner() as runner:
        bots(runner, "cat", "a")
        _, _, report = play(runner, runner.begin_turn({"a": b"x\n"}, 10))
        outcome = report.outcome("a")
        assert outcome.kind == "replied" and outcome.elapsed is not None
        assert outcome.cpu is None, "charge='wall' reads no CPU clock"
        _, _, report = play(runner, runner.begin_turn({"a": b"x\n"}, 10, charge="cpu"))
        assert report.outcome("a").cpu is not None


def test_a_second_line_in_the_same_turn_is_data():
    with procloop.Runner() as runner:
        bots(runner, "sh -c 'read line; echo first; echo second; sleep 60'", "chatty")
        replies, data, _ = play(runner, runner.begin_turn({"chatty": b"go\n"}, 10))
        assert replies == [("chatty", b"first\n")]
        end = time.monotonic() + DEADLINE
        while not data:
            assert time.monotonic() < end
            data.extend((e.alias, e.data) for e in runner.poll(0.2) if isinstance(e, Data))
        assert data == [("chatty", b"second\n")]


def test_bad_turns_are_refused_whole_and_write_nothing():
    with procloop.Runner() as runner:
        bots(runner, "cat", "a", "b")
        for bots_, deadline, error, names in [
            ({}, 1, procloop.ConfigError, "names no bot"),
            ({"a": b"bad\n"}, 0, procloop.ConfigError, "0 s"),
            ({"a": b"bad\n", "nobody": b"bad\n"}, 1, procloop.NoSuchProcessError, "nobody"),
            ({"a": b"bad\n"}, -1, procloop.ConfigError, "deadline"),
        ]:
            with pytest.raises(error, match=names):
                runner.begin_turn(bots_, deadline)
        with pytest.raises(procloop.ConfigError, match="charge"):
            runner.begin_turn({"a": b"bad\n"}, 1, charge="moon")
        with pytest.raises(TypeError):
            runner.begin_turn({"a": "text, not bytes"}, 1)
        first = runner.begin_turn({"a": b"good\n"}, 10)
        with pytest.raises(procloop.TurnInProgressError, match='"a"'):
            runner.begin_turn({"b": b"bad\n", "a": b"bad\n"}, 10)
        replies, _, _ = play(runner, first)
        assert replies == [("a", b"good\n")], "nothing of a refused turn was written"
        replies, _, _ = play(runner, runner.begin_turn({"b": b"good\n"}, 10))
        assert replies == [("b", b"good\n")]
        with pytest.raises(procloop.NoSuchProcessError):
            runner.overage_left("nobody")


def test_freeze_between_stops_a_spinner_until_the_next_turn():
    spin = "python3 -c 'import sys\nsys.stdin.readline()\nprint(\"ok\", flush=True)\nwhile True: pass'"
    with procloop.Runner() as runner:
        bots(runner, spin, "spinner")
        _, _, report = play(runner, runner.begin_turn({"spinner": b"go\n"}, 10, freeze_between=True))
        assert report.outcome("spinner").kind == "replied"
        before = runner.cpu_time("spinner")
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            runner.poll(0.05)
        assert runner.cpu_time("spinner") - before < 0.02, "it ran while frozen"
        play(runner, runner.begin_turn({"spinner": b"again\n"}, 0.1))
        runner.terminate("spinner")


def test_an_awaited_turn_returns_its_report_and_leaves_other_events():
    async def main():
        with procloop.Runner() as runner:
            bots(runner, "cat", "a", "b")
            runner.add("seq", "seq 2", buffering="line")
            runner.start("seq")
            async with Events(runner) as events:
                report = await events.turn({"a": b"1\n", "b": b"2\n"}, deadline=10)
                assert report.replies == {"a": b"1\n", "b": b"2\n"}
                assert [o.kind for o in report.outcomes.values()] == ["replied", "replied"]
                got = await events.until(lambda e: isinstance(e, procloop.Exited), DEADLINE)
                assert [e.data for e in got if isinstance(e, Data)] == [b"1\n", b"2\n"]
                assert not any(isinstance(e, (Reply, TurnEnded)) for e in got), "the turn's own events"
                with pytest.raises(procloop.TurnInProgressError):
                    runner.begin_turn({"a": b"x\n"}, 10)
                    await events.turn({"a": b"y\n"}, deadline=10)

    asyncio.run(asyncio.wait_for(main(), 3 * DEADLINE))
