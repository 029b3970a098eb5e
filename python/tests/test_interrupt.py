"""Ctrl-C is answered: every wait of the package (terminate, terminate_all,
a waiting socket start) runs Python's signal handlers between slices of
at most 50 ms, so KeyboardInterrupt comes long before the grace or the
socket wait could have ended, and the Runner stays whole: the child being
ended is still ended, by the next call or by dropping the Runner."""

import gc
import os
import signal
import threading

import pytest

import procloop
from conftest import until
from test_lifecycle import STUBBORN, has, poll_until
from procloop import Data

#: Long enough that an answer after it would be plain.
GRACE = 3


def interrupt_soon():
    """SIGINT to this process in 0.2 s, from another thread: it does not
    cut the main thread's wait short (EINTR), the slices must notice it."""
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def stubborn_runner(*aliases):
    runner = procloop.Runner()
    runner.add("stubborn", STUBBORN, buffering="line", termination_grace=GRACE)
    for alias in aliases:
        runner.start("stubborn", alias=alias)
        poll_until(runner, has(Data, alias))  # its trap is set
    return runner


def my_children(name):
    """This process's children running ``name`` (zombies included)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        if comm == name and int(rest[1]) == os.getpid():
            found.append(int(pid))
    return found


def test_ctrl_c_during_terminate_then_the_next_terminate_ends_it():
    runner = stubborn_runner("a")
    timer = interrupt_soon()
    with pytest.raises(KeyboardInterrupt):
        runner.terminate("a")
    timer.join()
    # Only SIGKILL, once the grace has passed, ends it: it runs, so the
    # answer came before.
    assert runner.is_running("a") and runner.aliases() == ["a"]
    assert runner.terminate("a") == -signal.SIGKILL
    assert runner.aliases() == []


def test_ctrl_c_during_terminate_then_dropping_the_runner_ends_it():
    runner = stubborn_runner("a")
    pid = runner.pid("a")
    timer = interrupt_soon()
    with pytest.raises(KeyboardInterrupt):
        runner.terminate("a")
    timer.join()
    assert runner.is_running("a")
    del runner
    gc.collect()
    assert not os.path.exists(f"/proc/{pid}"), "ended and reaped by the drop"


def test_ctrl_c_during_terminate_all_leaves_the_rest_stopped_then_ends_them():
    runner = stubborn_runner("a", "b")
    timer = interrupt_soon()
    with pytest.raises(KeyboardInterrupt):
        runner.terminate_all()
    timer.join()
    assert runner.is_running("a") and runner.is_running("b")
    runner.terminate_all()
    assert runner.aliases() == []


def test_ctrl_c_during_a_socket_start_undoes_it(tmp_path):
    runner = procloop.Runner()
    runner.add("never", "sleep 60", type="socket", socket=tmp_path / "sock", socket_wait=GRACE)
    timer = interrupt_soon()
    with pytest.raises(KeyboardInterrupt):
        runner.start("never")
    timer.join()
    # A start that waited its socket wait out would have raised SocketError.
    assert runner.aliases() == [], "the start was undone"
    until(lambda: not my_children("sleep"), "the child to be killed and reaped")
    assert runner.poll(0) == [], "no event of the undone start"
