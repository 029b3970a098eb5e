"""poll's default cap: with max_events=None a poll returns at most
Runner.DEFAULT_MAX_EVENTS events, the rest stay queued for the next poll
(none lost, in order); an explicit max_events works as before, and one
below 1 is refused naming the argument."""

import fcntl
import struct
import termios
import time

import pytest

import procloop
from conftest import DEADLINE, until
from procloop import Data, Exited

LINES = 100_000


def buffered_in_pipe(runner, alias):
    """Bytes waiting in ``alias``'s stdout pipe, not read yet."""
    fd = runner.get_channel(alias).get_fd()
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def start_flood(runner):
    """Starts a child printing LINES short lines, and waits until 32 KiB of
    them (over 6,000 lines) wait in its pipe: more than the cap for one
    poll, however fast this machine is."""
    runner.add("seq", f"seq {LINES}", buffering="line")
    runner.start("seq")
    until(lambda: buffered_in_pipe(runner, "seq") >= 32 * 1024, "a full pipe")


def poll_all(runner, alias, **kwargs):
    """Polls until ``alias`` exits; the lists each poll returned."""
    polls = []
    end = time.monotonic() + DEADLINE
    while not any(isinstance(e, Exited) and e.alias == alias for got in polls for e in got):
        assert time.monotonic() < end, "the child did not exit before the deadline"
        polls.append(runner.poll(1, **kwargs))
    return polls


def lines_of(polls):
    """The lines of every Data event of ``polls``, in order."""
    return [line for got in polls for e in got if isinstance(e, Data) for line in e.data.splitlines(True)]


def test_the_default_cap_is_4096():
    assert procloop.Runner.DEFAULT_MAX_EVENTS == 4096


def test_a_flood_of_short_lines_comes_at_most_the_cap_a_poll_and_all_in_order():
    cap = procloop.Runner.DEFAULT_MAX_EVENTS
    with procloop.Runner() as runner:
        start_flood(runner)
        polls = poll_all(runner, "seq")
        sizes = [len(got) for got in polls]
        assert sizes[0] == cap and max(sizes) == cap, sizes
        assert lines_of(polls) == [b"%d\n" % i for i in range(1, LINES + 1)]


def test_the_default_cap_counts_lines_in_batch_mode():
    cap = procloop.Runner.DEFAULT_MAX_EVENTS
    with procloop.Runner() as runner:
        start_flood(runner)
        polls = poll_all(runner, "seq", batch=True)
        per_poll = [sum(e.data.count(b"\n") for e in got if isinstance(e, Data)) for got in polls]
        assert per_poll[0] == cap and max(per_poll) == cap, per_poll
        assert lines_of(polls) == [b"%d\n" % i for i in range(1, LINES + 1)]


def test_an_explicit_max_events_caps_as_before():
    with procloop.Runner() as runner:
        runner.add("seq", "seq 100", buffering="line")
        runner.start("seq")
        polls = poll_all(runner, "seq", max_events=7)
        assert max(len(got) for got in polls) <= 7
        assert lines_of(polls) == [b"%d\n" % i for i in range(1, 101)]


@pytest.mark.parametrize("bad", [0, -1])
def test_max_events_below_one_is_refused_naming_it(bad):
    with procloop.Runner() as runner:
        with pytest.raises(ValueError, match="max_events"):
            runner.poll(0, max_events=bad)
