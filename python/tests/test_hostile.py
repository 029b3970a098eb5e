"""A hostile user's pass over the Python package: bad arguments get one of
procloop's typed errors naming what was wrong, asyncio helpers lose no event
when a predicate raises or a line reader stops early, and Ctrl-C, fork,
multiprocessing and garbage collection leave no child running and no fd
open."""

import asyncio
import gc
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import threading

import pytest

import procloop
from conftest import DEADLINE, started, until
from procloop import Closed, Data, Exited
from procloop.aio import Events
from test_lifecycle import STUBBORN, gone, has, poll_until


def output(events, alias):
    return b"".join(e.data for e in events if isinstance(e, Data) and e.alias == alias)


# Bad input.


def test_a_nan_timeout_is_a_config_error_naming_it():
    with started(("sleep", "sleep 100")) as runner:
        with pytest.raises(procloop.ConfigError, match="timeout: NaN"):
            runner.poll(math.nan)
        with pytest.raises(procloop.ConfigError, match="timeout: NaN"):
            runner.wait("sleep", math.nan)
        assert runner.is_running("sleep")


def test_a_nan_timeout_in_asyncio_is_a_config_error_too():
    async def main(runner):
        async with Events(runner) as events:
            with pytest.raises(procloop.ConfigError, match="timeout"):
                await events.next(math.nan)
            with pytest.raises(procloop.ConfigError, match="timeout"):
                await events.until(lambda e: True, math.nan)

    with started(("sleep", "sleep 100")) as runner:
        asyncio.run(main(runner))


def test_a_huge_timeout_is_named_in_short():
    with procloop.Runner() as runner:
        with pytest.raises(procloop.ConfigError) as info:
            runner.set_timer(1e300)
        assert "1e300" in str(info.value) and len(str(info.value)) < 200


@pytest.mark.parametrize(
    "call, named",
    [
        (lambda r: r.poll(0, 0), "max_events"),
        (lambda r: r.signal("cat", 2**40), str(2**40)),
        (lambda r: r.signal("cat", 65), "65"),
        (lambda r: r.signal("cat", "SIGFOO"), "SIGFOO"),
        (lambda r: r.signal("cat", None), "NoneType"),
        (lambda r: r.signal("cat", True), "bool"),
        (lambda r: r.resize("cat", 24, 80), "pty"),
        (lambda r: procloop.Channel.pipe(-1, None), "-1"),
        (lambda r: procloop.Channel.socket(2**30), "not open"),
    ],
)
def test_every_value_error_is_a_procloop_error_naming_the_culprit(call, named):
    with started(("cat", "cat")) as runner:
        with pytest.raises(procloop.ProcloopError) as info:
            call(runner)
        assert isinstance(info.value, ValueError) and named in str(info.value), repr(info.value)
        assert runner.is_running("cat")


@pytest.mark.parametrize(
    "call, named",
    [
        (lambda r: r.resize("cat", 70000, 24), "rows: 70000 is out of range"),
        (lambda r: r.resize("cat", 24, -1), "cols: -1 is out of range"),
        (lambda r: r.cancel_timer(-1), "id: -1 is out of range"),
        (lambda r: r.poll(0, 2**64), f"max_events: {2**64} is out of range"),
        (lambda r: r.poll(0, -1), "max_events: -1 is out of range"),
        (lambda r: procloop.Channel.pipe(2**40), f"faucet: {2**40} is out of range"),
        (lambda r: procloop.Channel.pipe(None, -(2**40)), f"sink: {-(2**40)} is out of range"),
        (lambda r: procloop.Channel.socket(2**31), f"fd: {2**31} is out of range"),
    ],
)
def test_an_int_out_of_range_is_a_config_error_naming_the_argument(call, named):
    with started(("cat", "cat")) as runner:
        with pytest.raises(procloop.ConfigError) as info:
            call(runner)
        assert str(info.value) == named


def test_a_wrong_type_is_a_type_error_naming_the_argument():
    with started(("cat", "cat")) as runner:
        with pytest.raises(TypeError, match="argument 'rows'"):
            runner.resize("cat", "24", 80)
        with pytest.raises(TypeError, match="argument 'sink'"):
            procloop.Channel.pipe(None, "1")
        with pytest.raises(TypeError, match="an app's name is a str, not int"):
            runner.update_config({1: {"command": "cat"}})


@pytest.mark.parametrize(
    "bots, named",
    [
        ([("cat", b"x\n")], "bots: a mapping of alias to bytes, not list"),
        (None, "not NoneType"),
        ({1: b"x\n"}, "an alias is a str, not int"),
        ({"cat": "x\n"}, "bots['cat']: a payload is bytes or bytearray, not str"),
    ],
)
def test_a_bad_turn_argument_is_a_type_error_naming_it(bots, named):
    with started(("cat", "cat"), buffering="line") as runner:
        with pytest.raises(TypeError) as info:
            runner.begin_turn(bots, 1.0)
        assert named.replace("'", '"') in str(info.value).replace("'", '"'), str(info.value)
        # Nothing was written: the bot is in no turn.
        runner.begin_turn({"cat": b"ok\n"}, DEADLINE)


# asyncio: nothing lost.


def test_a_predicate_that_raises_gives_back_every_event_it_took():
    async def main(runner):
        async with Events(runner) as events:
            with pytest.raises(ZeroDivisionError):
                await events.until(lambda e: 1 / 0, DEADLINE)
            return await events.until(lambda e: isinstance(e, Exited), DEADLINE)

    with started(("seq", "seq 3"), buffering="line") as runner:
        events = asyncio.run(main(runner))
    assert output(events, "seq") == b"1\n2\n3\n", events


def test_a_cancelled_until_gives_back_every_event_it_took():
    async def main(runner):
        async with Events(runner) as events:
            waiting = asyncio.ensure_future(events.until(lambda e: False))
            # It has taken Closed (and all before it) when Exited may still be out.
            while not runner.is_idle() and not waiting.done():
                await asyncio.sleep(0.01)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            return [await events.next(0) for _ in range(5)]

    with started(("seq", "seq 3"), buffering="line") as runner:
        events = asyncio.run(asyncio.wait_for(main(runner), DEADLINE))
    assert output(events, "seq") == b"1\n2\n3\n" and isinstance(events[-1], Exited), events


def test_lines_left_early_loses_no_line_and_can_be_read_again():
    async def main(runner):
        async with Events(runner) as events:
            async for line in events.lines("p"):
                first = line
                break
            # The abandoned generator is not finalized yet: a new one takes over.
            rest = [line async for line in events.lines("p")]
            return first, rest

    with started(("p", "printf 'a\\nb\\nc\\nd'")) as runner:
        first, rest = asyncio.run(asyncio.wait_for(main(runner), DEADLINE))
    assert (first, rest) == (b"a\n", [b"b\n", b"c\n", b"d"])


def test_lines_closed_early_hand_their_unread_lines_to_next():
    async def main(runner):
        async with Events(runner) as events:
            reader = events.lines("p")
            first = await reader.__anext__()
            await reader.aclose()
            rest = await events.until(lambda e: isinstance(e, Exited), DEADLINE)
            return first, rest

    with started(("p", "printf 'a\\nb\\nc\\nd'")) as runner:
        first, rest = asyncio.run(main(runner))
    assert first == b"a\n" and output(rest, "p") == b"b\nc\nd", rest
    assert [type(e) for e in rest if not isinstance(e, Data)] == [Closed, Exited]


def test_data_and_stderr_events_can_be_made():
    event = Data("a", b"x")
    assert (event.alias, event.data) == ("a", b"x")
    with pytest.raises(TypeError):
        procloop.Stderr("a", "not bytes")


# Ctrl-C, threads and nested polls.


def test_ctrl_c_during_an_asyncio_wait_then_close_ends_the_child():
    runner = started(("sleep", "sleep 100"))
    pid = runner.pid("sleep")

    async def main():
        async with Events(runner) as events:
            await events.next()

    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            asyncio.run(main())
    finally:
        timer.join()
    assert runner.is_running("sleep")
    runner.close()
    assert gone(pid) and runner.aliases() == []


def test_a_signal_handler_that_polls_gets_busy_error_and_the_poll_loses_nothing():
    runner = started(("cat", "cat"), buffering="line")
    seen = []

    def handler(signum, frame):
        try:
            runner.poll(0)
        except procloop.BusyError as e:
            seen.append(str(e))

    previous = signal.signal(signal.SIGALRM, handler)
    try:
        # Again and again: one of them lands inside a waiting poll.
        signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
        until(lambda: runner.poll(0.1) == [] and seen, "the handler's poll")
        runner.get_channel("cat").write(b"after\n")
        events = poll_until(runner, has(Data, "cat"))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        runner.close()
    assert "signal handler" in seen[0], seen
    assert output(events, "cat") == b"after\n"


# fork, multiprocessing, garbage collection.


def _report_aliases(runner, queue):
    try:
        queue.put(runner.aliases())
    except procloop.ForkedCopyError as e:
        queue.put(type(e).__name__)


def test_a_multiprocessing_fork_worker_is_refused_and_the_parent_goes_on():
    runner = started(("cat", "cat"), buffering="line")
    try:
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        worker = context.Process(target=_report_aliases, args=(runner, queue))
        worker.start()
        assert queue.get(timeout=DEADLINE) == "ForkedCopyError"
        worker.join(DEADLINE)
        assert worker.exitcode == 0
        with context.Pool(2) as pool:
            assert pool.map(abs, [-1, -2]) == [1, 2]
        runner.get_channel("cat").write(b"still here\n")
        assert output(poll_until(runner, has(Data, "cat")), "cat") == b"still here\n"
    finally:
        runner.close()


def test_a_forked_child_leaving_the_runners_with_block_exits_cleanly():
    runner = started(("cat", "cat"), buffering="line")
    try:
        pid = os.fork()
        if pid == 0:
            # As `with Runner() as r: ... os.fork() ... sys.exit(0)` in the child.
            code = 3
            try:
                with runner:
                    code = 0
            except BaseException:  # noqa: BLE001 - told by the exit code
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        runner.get_channel("cat").write(b"still here\n")
        assert output(poll_until(runner, has(Data, "cat")), "cat") == b"still here\n"
    finally:
        runner.close()


def open_fds():
    return set(os.listdir("/proc/self/fd"))


def test_a_collected_runner_ends_every_child_and_leaks_no_fd():
    before = open_fds()
    runner = procloop.Runner()
    runner.add("sleep", "sleep 100", stderr="capture")
    runner.add("stubborn", STUBBORN, termination_grace=0.2)
    pids = [runner.start("sleep", alias=f"s{i}") for i in range(3)] + [runner.start("stubborn")]
    channel = runner.get_channel("s0")
    cycle = [runner]
    cycle.append(cycle)
    del runner, cycle
    gc.collect()
    # A channel handle keeps its Runner, as a file keeps its buffer.
    assert not any(gone(pid) for pid in pids)
    del channel
    gc.collect()
    assert all(gone(pid) for pid in pids)
    assert open_fds() <= before, open_fds() - before


def test_other_threads_run_while_a_dropped_runner_ends_a_stubborn_child():
    runner = procloop.Runner()
    runner.add("stubborn", STUBBORN, buffering="line", termination_grace=1.0)
    runner.start("stubborn")
    poll_until(runner, has(Data, "stubborn"))  # its trap is set: the drop waits the grace
    ran = threading.Event()
    dropping = threading.Event()

    def other():
        dropping.wait(DEADLINE)
        ran.set()

    thread = threading.Thread(target=other)
    thread.start()
    # This thread keeps the GIL until it waits: the other one can only run
    # while the drop has the GIL released.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(DEADLINE)
    try:
        dropping.set()
        del runner
        gc.collect()
        dropped_first = not ran.is_set()
    finally:
        sys.setswitchinterval(interval)
    thread.join(DEADLINE)
    assert ran.is_set()
    assert not dropped_first, "the drop held the GIL for the whole grace"


#: A script whose Runner is a global of __main__ and whose daemon thread is
#: inside a function of __main__ at exit: that keeps __main__'s globals, so
#: the interpreter never drops the Runner.
DAEMON_AT_EXIT = """
import sys, threading, time
import procloop
runner = procloop.Runner()
runner.add("sleep", "sleep 100")
print(runner.start("sleep"), flush=True)
def spin():
    while True:
        time.sleep(0.001)
threading.Thread(target=spin, daemon=True).start()
"""


def test_interpreter_exit_ends_the_children_of_a_runner_it_never_drops():
    done = subprocess.run([sys.executable, "-c", DAEMON_AT_EXIT], capture_output=True, timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout)
    try:
        assert gone(pid), "the Runner's child outlived the interpreter"
    finally:
        if not gone(pid):
            os.kill(pid, signal.SIGKILL)


def test_ctrl_c_during_a_compat_terminate_leaves_the_alias_to_terminate_again():
    from procloop.compat.runner import Runner

    runner = Runner()
    runner.add("stubborn", STUBBORN, buffering="line")
    runner.start("stubborn")
    channel = runner.get_channel("stubborn")
    until(lambda: channel.read(), "its trap")
    pid = runner._native.pid("stubborn")
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            runner.terminate("stubborn")
    finally:
        timer.join()
    runner.terminate("stubborn")  # the rest of its grace, then SIGKILL
    assert gone(pid) and runner.get_channel("stubborn") is None
    runner.start("stubborn")
    runner.terminate("stubborn")


def test_a_cancelled_turn_gives_back_the_reply_it_took():
    async def main(runner):
        async with Events(runner) as events:
            turn = asyncio.ensure_future(events.turn({"cat": b"hi\n", "silent": b"hi\n"}, 1.0))
            while not any(events._replies.values()):  # the cat's reply is taken
                await asyncio.sleep(0.01)
            turn.cancel()
            with pytest.raises(asyncio.CancelledError):
                await turn
            return await events.until(lambda e: isinstance(e, procloop.TurnEnded), DEADLINE)

    with started(("cat", "cat"), ("silent", "sleep 100"), buffering="line") as runner:
        events = asyncio.run(asyncio.wait_for(main(runner), DEADLINE))
    replies = [e for e in events if isinstance(e, procloop.Reply)]
    assert [(r.alias, r.data) for r in replies] == [("cat", b"hi\n")], events
    assert events[-1].report.outcome("silent").kind == "timed_out"


def test_a_fork_while_another_thread_polls_gives_a_forked_copy_in_the_child():
    runner = started(("cat", "cat"), buffering="line")
    cat = runner.pid("cat")
    poller = threading.Thread(target=poll_until, args=(runner, has(Data, "cat"), DEADLINE))
    poller.start()
    try:
        until(lambda: repr(runner) == "<procloop.Runner (in use)>", "the poll")
        report_r, report_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            verdicts = []
            try:
                runner.aliases()
            except procloop.ForkedCopyError:
                verdicts.append("refused")
            except BaseException as e:  # noqa: BLE001 - told to the parent
                verdicts.append(type(e).__name__)
            try:
                with runner:
                    pass
                verdicts.append("left")
            except BaseException as e:  # noqa: BLE001
                verdicts.append(type(e).__name__)
            verdicts.append(repr(runner))
            os.write(report_w, "|".join(verdicts).encode())
            os._exit(0)
        os.close(report_w)
        os.waitpid(pid, 0)
        with os.fdopen(report_r, "rb") as report:
            verdicts = report.read().decode().split("|")
        assert verdicts == ["refused", "left", f"<procloop.Runner of pid {os.getpid()} (a forked copy)>"]
    finally:
        # The poll holds the Runner: a line through cat's stdin pipe ends it.
        stdin = os.open(f"/proc/{cat}/fd/0", os.O_WRONLY)
        os.write(stdin, b"bye\n")
        os.close(stdin)
        poller.join(DEADLINE)
        runner.close()
