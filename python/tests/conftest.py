"""Helpers of procloop's own Python suites: waits with a deadline, a started Runner."""

import select
import signal
import time

import procloop

# A suite started in the background by a non-interactive shell inherits
# SIGINT ignored, and Python then installs no KeyboardInterrupt handler:
# the Ctrl-C tests would wait for an interrupt that never comes. Their
# host is a terminal's, so they get its disposition back.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

#: How long any wait in a test may take before it counts as a hang.
DEADLINE = 20.0


def wait_readable(fd, timeout=1.0):
    """Blocks until ``fd`` is readable (or ``timeout`` passes)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.poll(timeout * 1000)


def read_some(channel):
    """The first non-empty read, waiting on the channel's fd; fails at the deadline."""
    end = time.monotonic() + DEADLINE
    while True:
        data = channel.read()
        if data:
            return data
        assert time.monotonic() < end, "no data before the deadline"
        wait_readable(channel.get_fd(), 0.1)


def read_to_end(channel, closed):
    """Everything read until ``closed`` (EndpointClosedException) is raised."""
    out = []
    end = time.monotonic() + DEADLINE
    while True:
        try:
            data = channel.read()
        except closed:
            return out
        if data:
            out.append(data)
        else:
            assert time.monotonic() < end, "no end of stream before the deadline"
            wait_readable(channel.get_fd(), 0.1)


def until(predicate, what="the condition"):
    """Calls ``predicate`` until it is true; fails at the deadline."""
    end = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < end, f"{what} did not happen before the deadline"
        time.sleep(0.001)


def started(*apps, **options):
    """A Runner with each ``(alias, command)`` of ``apps`` started."""
    runner = procloop.Runner()
    for alias, command in apps:
        runner.add(alias, command, **options)
        runner.start(alias)
    return runner
