"""A hostile asyncio user's pass over procloop.aio: waits joined by a
second task, loops closed under a waiting task, bad ``Events`` arguments,
floods read slowly, and cancellation at every await. Every wait has a
deadline; none is a sleep."""

import asyncio
import os
import sys

import pytest

import procloop
import procloop.aio
from conftest import DEADLINE, started
from procloop import Data, Exited, Timer
from procloop.aio import Events
from test_aio import STUBBORN


async def waiting(events):
    """A task in ``events.next()``, once it waits (the Runner's fd watched)."""
    task = asyncio.ensure_future(events.next())
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), 0.05)
    return task


# A second task joins a wait already armed by the first.


def test_a_turn_awaited_while_another_task_waits_ends_at_its_deadline(monkeypatch):
    # The turn's own wait sets the wake-up: no periodic look would.
    monkeypatch.setattr(procloop.aio, "_RECHECK", 3600.0)

    async def main(runner):
        async with Events(runner) as events:
            reader = await waiting(events)
            # The silent bot never makes the fd readable: only the turn's
            # deadline (call_at) ends it.
            report = await asyncio.wait_for(events.turn({"silent": b"hi\n"}, 0.1), DEADLINE)
            reader.cancel()
            return report

    with started(("silent", "sleep 100"), buffering="line") as runner:
        report = asyncio.run(main(runner))
    assert report.outcome("silent").kind == "timed_out"


def test_a_timer_set_while_another_task_waits_fires_for_a_second_waiter():
    async def main(runner):
        async with Events(runner) as events:
            first = await waiting(events)
            timer = runner.set_timer(0.05)
            second = asyncio.ensure_future(events.next())
            done, _ = await asyncio.wait([first, second], timeout=DEADLINE, return_when=asyncio.FIRST_COMPLETED)
            assert done, "the timer never fired"
            event = done.pop().result()
            for task in (first, second):
                task.cancel()
            return timer, event

    with started(("cat", "cat")) as runner:
        timer, event = asyncio.run(main(runner))
    assert isinstance(event, Timer) and event.id == timer


def test_a_child_stopped_while_a_task_waits_is_killed_at_the_end_of_its_grace():
    async def main(runner):
        async with Events(runner) as events:
            await events.until(lambda e: isinstance(e, Data), DEADLINE)  # its trap is set

            async def consume():
                return await events.until(lambda e: isinstance(e, Exited), DEADLINE)

            task = asyncio.ensure_future(consume())
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), 0.05)
            # Only the Runner's deadline (SIGKILL after the grace) ends it;
            # no task waits on the Events anew.
            runner.stop("stubborn")
            return await task

    runner = started(("stubborn", STUBBORN), buffering="line", termination_grace=0.2)
    with runner:
        got = asyncio.run(asyncio.wait_for(main(runner), 3 * DEADLINE))
    assert isinstance(got[-1], Exited) and got[-1].returncode == -9, got


# A loop closed while a task waits; the Events then used on a new loop.


def test_close_after_the_loop_closed_under_a_waiting_task_does_not_raise():
    with started(("cat", "cat"), buffering="line") as runner:
        events = Events(runner)
        loop = asyncio.new_event_loop()
        loop.run_until_complete(waiting(events))
        loop.close()
        events.close()
        assert events.closed


def test_an_events_outlives_a_loop_closed_under_a_waiting_task():
    async def after(runner, events):
        runner.get_channel("cat").write(b"again\n")
        return await events.next(DEADLINE)

    with started(("cat", "cat"), buffering="line") as runner:
        events = Events(runner)
        loop = asyncio.new_event_loop()
        loop.run_until_complete(waiting(events))
        loop.close()
        event = asyncio.run(asyncio.wait_for(after(runner, events), DEADLINE))
        assert isinstance(event, Data) and event.data == b"again\n"
        events.close()


def test_asyncio_run_twice_with_one_runner_and_one_events():
    async def echo(runner, events, line):
        runner.get_channel("cat").write(line)
        return (await events.next(DEADLINE)).data

    with started(("cat", "cat"), buffering="line") as runner:
        events = Events(runner)
        first = asyncio.run(echo(runner, events, b"one\n"))
        second = asyncio.run(echo(runner, events, b"two\n"))
        assert (first, second) == (b"one\n", b"two\n")
        events.close()


# Bad arguments: a typed error at once, naming the argument.


@pytest.mark.parametrize("value", [1.5, "3", None, True])
def test_max_events_of_a_wrong_type_is_a_type_error_naming_it(value):
    with procloop.Runner() as runner, pytest.raises(TypeError, match="max_events"):
        Events(runner, max_events=value)


@pytest.mark.parametrize("value", [0, -1, 2**64])
def test_max_events_out_of_range_is_a_config_error_naming_it(value):
    with procloop.Runner() as runner, pytest.raises(procloop.ConfigError, match="max_events"):
        Events(runner, max_events=value)


def test_batch_of_a_wrong_type_is_a_type_error_naming_it():
    with procloop.Runner() as runner, pytest.raises(TypeError, match="batch"):
        Events(runner, batch="yes")


# Floods and edges: nothing lost, order kept.


def test_a_flood_read_one_event_at_a_time_loses_nothing_and_keeps_order():
    async def main(runner):
        got = []
        async with Events(runner, max_events=1) as events:
            async for event in events:
                if isinstance(event, Data):
                    got.append(event.data)
                    await asyncio.sleep(0)  # a slow consumer
                elif isinstance(event, Exited):
                    return b"".join(got)

    with started(("seq", "seq 100000")) as runner:
        out = asyncio.run(asyncio.wait_for(main(runner), 3 * DEADLINE))
    assert out == b"".join(b"%d\n" % n for n in range(1, 100001))


def test_lines_of_a_child_exiting_mid_line_end_with_its_last_part():
    async def main(runner):
        async with Events(runner, max_events=1, batch=True) as events:
            return [line async for line in events.lines("p")]

    with started(("p", "sh -c 'printf \"a\\nb\"; exec printf c'")) as runner:
        lines = asyncio.run(asyncio.wait_for(main(runner), DEADLINE))
    assert lines == [b"a\n", b"bc"]


# Cancellation and failure in groups: the fd is left to no one.


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is Python 3.11's")
def test_a_failing_task_group_leaves_no_reader_behind_and_loses_nothing():
    async def main(runner):
        loop = asyncio.get_running_loop()
        events = Events(runner)

        async def fail():
            # Once the group's own tasks wait (this one's too, dropped).
            (await waiting(events)).cancel()
            raise ZeroDivisionError

        with pytest.raises(ExceptionGroup):
            async with asyncio.TaskGroup() as group:
                group.create_task(events.next())
                group.create_task(events.turn({"cat": b"hi\n", "silent": b"hi\n"}, 1.0))
                group.create_task(fail())
        assert loop.remove_reader(runner.fileno()) is False, "no reader left behind"
        return await events.until(lambda e: isinstance(e, procloop.TurnEnded), DEADLINE)

    with started(("cat", "cat"), ("silent", "sleep 100"), buffering="line") as runner:
        got = asyncio.run(asyncio.wait_for(main(runner), DEADLINE))
    assert [e.data for e in got if isinstance(e, procloop.Reply)] == [b"hi\n"], got
    assert got[-1].report.outcome("silent").kind == "timed_out"


@pytest.mark.parametrize("wait", [lambda events: events.next("1"), lambda events: events.until(bool, "1")])
def test_a_timeout_of_a_wrong_type_is_a_type_error_naming_it(wait):
    async def main(runner):
        async with Events(runner) as events:
            with pytest.raises(TypeError, match="timeout"):
                await wait(events)

    with procloop.Runner() as runner:
        asyncio.run(asyncio.wait_for(main(runner), DEADLINE))


def test_lines_of_an_alias_not_a_str_is_a_type_error_naming_it():
    async def main(runner):
        async with Events(runner) as events:
            with pytest.raises(TypeError, match="alias"):
                await events.lines(3).__anext__()

    with procloop.Runner() as runner:
        asyncio.run(asyncio.wait_for(main(runner), DEADLINE))


# After close.


def test_a_turn_after_close_begins_none():
    async def main(runner):
        events = Events(runner)
        events.close()
        with pytest.raises(StopAsyncIteration):
            await events.turn({"cat": b"lost\n"}, DEADLINE)
        # No turn runs: another may begin, and the cat got nothing.
        runner.begin_turn({"cat": b"hi\n"}, DEADLINE)
        return await Events(runner).until(lambda e: isinstance(e, procloop.TurnEnded), DEADLINE)

    with started(("cat", "cat"), buffering="line") as runner:
        got = asyncio.run(asyncio.wait_for(main(runner), DEADLINE))
    assert [e.data for e in got if isinstance(e, procloop.Reply)] == [b"hi\n"], got


@pytest.mark.parametrize("read", ["next", "lines", "turn"])
def test_a_reader_of_a_flood_lets_the_other_tasks_run(read):
    async def main(runner):
        ticks = 0

        async def tick():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        async with Events(runner, max_events=16) as events:
            # The flood is under way before the ticker's first turn.
            await events.until(lambda e: isinstance(e, Data), DEADLINE)
            ticker = asyncio.ensure_future(tick())
            if read == "next":
                for _ in range(1000):  # no await of the test's own in between
                    await events.next()
            elif read == "lines":
                reader = events.lines("yes")
                for _ in range(100000):
                    await reader.__anext__()
                await reader.aclose()
            else:
                await events.turn({"silent": b"hi\n"}, 0.2)
            ticker.cancel()
            return ticks

    with started(("yes", "yes"), ("silent", "sleep 100"), buffering="line") as runner:
        ticks = asyncio.run(asyncio.wait_for(main(runner), DEADLINE))
    assert ticks > 0, "the reader never let the ticker run"


def test_a_long_line_fed_chunk_by_chunk_is_copied_once():
    # 64 MiB in pipe-sized Data events: each chunk copied into the whole
    # line so far took minutes (quadratic); past the deadline it fails.
    size = 64 << 20

    async def main(runner):
        async with Events(runner) as events:
            return [line async for line in events.lines("p")]

    with started(("p", f"sh -c 'head -c {size} /dev/zero; echo; echo end'")) as runner:
        lines = asyncio.run(asyncio.wait_for(main(runner), DEADLINE))
    assert [len(line) for line in lines] == [size + 1, 4]
    assert lines[0].count(0) == size and lines[1] == b"end\n"


def test_a_waiting_line_reader_taken_over_ends_at_once():
    async def main(runner):
        async with Events(runner) as events:

            async def read():
                return [line async for line in events.lines("cat")]

            older = asyncio.ensure_future(read())
            with pytest.raises(asyncio.TimeoutError):  # it waits for a line
                await asyncio.wait_for(asyncio.shield(older), 0.05)
            newer = events.lines("cat")
            took_over = asyncio.ensure_future(newer.__anext__())
            # The cat is silent: only the take-over can end the older one.
            assert await asyncio.wait_for(older, DEADLINE) == []
            runner.get_channel("cat").write(b"x\n")
            return await asyncio.wait_for(took_over, DEADLINE)

    with started(("cat", "cat"), buffering="line") as runner:
        assert asyncio.run(main(runner)) == b"x\n"


class _FailingRunner:
    """A Runner's face whose next_deadline() fails from its second call on
    (a Runner busy in another thread, say), and whose poll says why."""

    def __init__(self, fd):
        self.fd, self.calls = fd, 0

    def fileno(self):
        return self.fd

    def next_deadline(self):
        self.calls += 1
        if self.calls > 1:
            raise procloop.BusyError("next_deadline: busy")
        return None

    def poll(self, timeout, max_events, batch):
        if self.calls > 1:
            raise procloop.BusyError("poll: busy")
        return []


def test_a_failing_look_at_the_deadline_reaches_the_waiting_task():
    read, write = os.pipe()
    try:

        async def main():
            async with Events(_FailingRunner(read)) as events:
                with pytest.raises(procloop.BusyError, match="poll"):
                    await events.next()

        asyncio.run(asyncio.wait_for(main(), DEADLINE))
    finally:
        os.close(read)
        os.close(write)
