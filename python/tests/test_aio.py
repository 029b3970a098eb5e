"""procloop.aio: a Runner driven by an asyncio loop (add_reader on its fd,
call_at at its next deadline). Every wait is an awaited event with a
timeout; no sleep stands in for synchronisation."""

import asyncio
import time

import pytest

import procloop
from conftest import DEADLINE
from procloop import Closed, Data, Exited, Ready, StartFailed, Timer
from procloop.aio import Events

STUBBORN = "sh -c \"trap '' TERM; echo ready; while :; do sleep 0.05; done\""


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 3 * DEADLINE))


def is_(kind, alias=None):
    return lambda e: isinstance(e, kind) and (alias is None or e.alias == alias)


def test_async_for_gets_every_event_in_order():
    async def main():
        with procloop.Runner() as runner:
            runner.add("seq", "seq 3", buffering="line")
            runner.start("seq")
            got = []
            async with Events(runner) as events:
                async for event in events:
                    got.append(event)
                    if isinstance(event, Exited):
                        break
            assert [type(e) for e in got] == [Data, Data, Data, Closed, Exited]
            assert [e.data for e in got[:3]] == [b"1\n", b"2\n", b"3\n"]

    run(main())


def test_a_timer_fires_through_call_at():
    async def main():
        with procloop.Runner() as runner:
            events = Events(runner)
            began = time.monotonic()
            timer = runner.set_timer(0.1)
            event = await events.next(DEADLINE)
            assert isinstance(event, Timer) and event.id == timer
            assert time.monotonic() - began >= 0.1
            events.close()

    run(main())


def test_next_times_out_and_loses_no_event():
    async def main():
        with procloop.Runner() as runner:
            runner.add("cat", "cat", buffering="line")
            runner.start("cat")
            events = Events(runner)
            with pytest.raises(asyncio.TimeoutError):
                await events.next(0.05)
            runner.get_channel("cat").write(b"one\n", b"two\n")
            with pytest.raises(asyncio.TimeoutError) as info:
                await events.until(lambda e: False, timeout=0.5)
            assert [e.data for e in info.value.events] == [b"one\n", b"two\n"]
            runner.get_channel("cat").write(b"three\n")
            assert (await events.next(DEADLINE)).data == b"three\n"

    run(main())


def test_a_cancelled_wait_leaves_the_loop_clean_and_loses_no_event():
    async def main():
        with procloop.Runner() as runner:
            runner.add("cat", "cat", buffering="line")
            runner.start("cat")
            events = Events(runner)
            waiting = asyncio.ensure_future(events.next())
            # Let it reach its wait: the runner's fd is then watched.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiting), 0.05)
            loop = asyncio.get_running_loop()
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert loop.remove_reader(runner.fileno()) is False, "no reader left behind"
            runner.get_channel("cat").write(b"after\n")
            assert (await events.next(DEADLINE)).data == b"after\n"

    run(main())


def test_two_consumers_share_the_events():
    async def main():
        with procloop.Runner() as runner:
            runner.add("cat", "cat", buffering="line")
            runner.start("cat")
            events = Events(runner)
            first = asyncio.ensure_future(events.next(DEADLINE))
            second = asyncio.ensure_future(events.next(DEADLINE))
            await asyncio.wait([first, second], timeout=0.05)
            runner.get_channel("cat").write(b"a\nb\n")
            got = await asyncio.gather(first, second)
            assert sorted(e.data for e in got) == [b"a\n", b"b\n"]

    run(main())


def test_close_ends_an_async_for_in_another_task():
    async def main():
        with procloop.Runner() as runner:
            runner.add("sleep", "sleep 60")
            runner.start("sleep")
            events = Events(runner)
            seen = []

            async def consume():
                async for event in events:
                    seen.append(event)

            task = asyncio.ensure_future(consume())
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), 0.05)
            events.close()
            await asyncio.wait_for(task, DEADLINE)
            assert seen == [] and events.closed
            with pytest.raises(StopAsyncIteration):
                await events.next()

    run(main())


def test_the_loop_runs_other_tasks_while_a_stopped_child_has_its_grace():
    async def main():
        with procloop.Runner() as runner:
            runner.add("stubborn", STUBBORN, buffering="line", termination_grace=1)
            runner.add("cat", "cat", buffering="line")
            runner.start("stubborn")
            runner.start("cat")
            events = Events(runner)
            await events.until(is_(Data, "stubborn"), DEADLINE)
            ticks = 0
            stop_ticking = asyncio.Event()

            async def tick():
                nonlocal ticks
                while not stop_ticking.is_set():
                    ticks += 1
                    await asyncio.sleep(0)

            ticker = asyncio.ensure_future(tick())
            asked = time.monotonic()
            runner.stop("stubborn")
            runner.get_channel("cat").write(b"ping\n")
            got = await events.until(is_(Data, "cat"), DEADLINE)
            assert not any(is_(Exited)(e) for e in got), "the grace is not over"
            # The SIGKILL comes from the runner's own deadline (call_at).
            got = await events.until(is_(Exited, "stubborn"), DEADLINE)
            assert time.monotonic() - asked >= 0.9
            assert got[-1].returncode == -9
            stop_ticking.set()
            await ticker
            assert ticks > 10, "the asyncio loop ran meanwhile"

    run(main())


def test_nowait_start_ready_and_start_failed(tmp_path):
    async def main():
        path = tmp_path / "sock"
        with procloop.Runner() as runner:
            runner.add("late", f"sh -c 'sleep 0.2; exec socat SYSTEM:cat UNIX-LISTEN:{path}'", type="socket", socket=str(path))
            runner.add("never", "sleep 60", type="socket", socket=str(tmp_path / "never"), socket_wait=0.2)
            runner.start("late", nowait=True)
            runner.start("never", nowait=True)
            events = Events(runner)
            got = await events.until(is_(Ready), DEADLINE)
            runner.get_channel("late").write(b"hi")
            got += await events.until(is_(Data, "late"), DEADLINE)
            if not any(is_(StartFailed)(e) for e in got):
                got += await events.until(is_(StartFailed), DEADLINE)
            failed = next(e for e in got if isinstance(e, StartFailed))
            assert failed.alias == "never" and isinstance(failed.error, procloop.SocketError)
            assert runner.aliases() == ["late"]

    run(main())


def test_max_events_must_be_positive():
    with pytest.raises(ValueError):
        Events(procloop.Runner(), max_events=0)
