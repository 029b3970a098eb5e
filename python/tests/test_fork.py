"""A forked interpreter owns nothing: in the child of ``os.fork()`` the
parent's Runner and its channels raise ForkedCopyError and touch none of the
parent's children or fds, and the parent's child runs on, its output still
reaching the parent."""

import gc
import os

import procloop
from conftest import DEADLINE, wait_readable
from test_lifecycle import has, poll_until
from procloop import Data


def calls_in_forked_child(runner, channel, own):
    """What each call does in the forked child: 'refused', or what else."""
    calls = {
        "signal": lambda: runner.signal("cat", "KILL"),
        "poll": lambda: runner.poll(0),
        "terminate": lambda: runner.terminate("cat"),
        "terminate_all": runner.terminate_all,
        "get_channel": lambda: runner.get_channel("cat"),
        "aliases": runner.aliases,
        "read": channel.read,
        "write": lambda: channel.write(b"x\n"),
        "own channel": own.read,
    }
    verdicts = []
    for name, call in calls.items():
        try:
            call()
            verdicts.append(f"{name}: ran")
        except procloop.ForkedCopyError as e:
            ok = f"pid {os.getppid()}" in str(e) and isinstance(e, RuntimeError)
            verdicts.append(f"{name}: refused" if ok else f"{name}: {e}")
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            verdicts.append(f"{name}: {type(e).__name__}: {e}")
    return verdicts


def test_a_forked_copy_refuses_and_leaves_the_parents_child_alone():
    runner = procloop.Runner()
    try:
        runner.add("cat", "cat", buffering="line")
        runner.start("cat")
        channel = runner.get_channel("cat")
        channel.write(b"before\n")
        # The echo waits in the pipe at the fork: the copy could steal it.
        wait_readable(channel.get_fd(), DEADLINE)
        r, w = os.pipe()
        own = procloop.Channel.pipe(r, None)
        report_r, report_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                verdicts = calls_in_forked_child(runner, channel, own)
                # Dropping the copies touches nothing either.
                del channel, own
                runner = None
                gc.collect()
                os.write(report_w, "\n".join(verdicts).encode())
            finally:
                os._exit(0)
        os.close(report_w)
        _, status = os.waitpid(pid, 0)
        report = b""
        while chunk := os.read(report_r, 65536):
            report += chunk
        assert os.waitstatus_to_exitcode(status) == 0
        verdicts = report.decode().split("\n")
        assert len(verdicts) == 9 and all(v.endswith(": refused") for v in verdicts), verdicts

        assert runner.is_running("cat"), "the parent's cat runs on"
        channel.write(b"after\n")
        events = poll_until(runner, lambda evs: b"".join(e.data for e in evs if isinstance(e, Data)) == b"before\nafter\n")
        assert has(Data, "cat")(events)
        own.close()
        for fd in (r, w, report_r):
            os.close(fd)
    finally:
        runner.terminate_all()


def test_a_forked_copys_repr_says_so():
    runner = procloop.Runner()
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(report_w, repr(runner).encode())
        finally:
            os._exit(0)
    os.close(report_w)
    os.waitpid(pid, 0)
    shown = os.read(report_r, 4096).decode()
    os.close(report_r)
    assert shown == f"<procloop.Runner of pid {os.getpid()} (a forked copy)>"
