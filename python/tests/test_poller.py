"""procloop.compat.channels.poller.Poller: results per read and per line,
end of stream and local close, accepting clients, and Python signal
handlers during a blocking poll."""

import os
import signal
import socket
import threading
import time

import pytest

from conftest import DEADLINE
from procloop.compat.channels import Channel, EndpointClosedException, SocketChannel
from procloop.compat.channels.poller import Poller
from procloop.compat.channels.testing import TestChannel


def poll_until(poller, count):
    """Polls until ``count`` results came; returns them."""
    results = []
    end = time.monotonic() + DEADLINE
    while len(results) < count:
        assert time.monotonic() < end, f"only {results} before the deadline"
        results.extend(poller.poll(0.1))
    return results


def test_data_per_read_in_byte_mode():
    poller = Poller()
    channel = TestChannel()
    poller.register(channel)
    assert poller.poll(0) == []
    channel.put(b"hello")
    assert poll_until(poller, 1) == [(b"hello", channel)]


def test_one_result_per_line_in_line_mode():
    poller = Poller()
    channel = TestChannel(buffering="line")
    poller.register(channel)
    channel.put(b"one\ntwo\nthr")
    assert poll_until(poller, 2) == [(b"one\n", channel), (b"two\n", channel)]
    channel.put(b"ee\n")
    assert poll_until(poller, 1) == [(b"three\n", channel)]


def test_end_of_stream_gives_empty_data_once_then_unregisters():
    poller = Poller(buffering="line")
    ours, theirs = socket.socketpair()
    channel = SocketChannel(ours, buffering="line")
    poller.register(channel)
    theirs.sendall(b"last")
    theirs.close()
    assert poll_until(poller, 2) == [(b"last", channel), (b"", channel)]
    assert poller.poll(0) == [], "unregistered"


def test_a_local_close_gives_buffered_lines_then_empty_data():
    poller = Poller()
    channel = TestChannel(buffering="line")
    poller.register(channel)
    channel.put(b"one\ntwo\n")
    assert channel.read() in (b"one\n", b"")  # buffers both when the pipe had both
    channel.close()
    results = poll_until(poller, 1)
    while results[-1][0]:
        results.extend(poll_until(poller, 1))
    assert results[-1] == (b"", channel)
    assert all(r[1] is channel for r in results)
    assert poller.poll(0) == []


def test_accepts_clients_which_inherit_buffering():
    poller = Poller(buffering="line")
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    poller.add_server(server)
    client = socket.create_connection(server.getsockname())
    ((addr, accepted), got_server), = poll_until(poller, 1)
    assert got_server is server
    assert addr == client.getsockname()
    assert isinstance(accepted, SocketChannel) and isinstance(accepted, Channel)
    assert accepted.buffering == "line"
    client.sendall(b"hi\n")
    assert poll_until(poller, 1) == [(b"hi\n", accepted)]
    accepted.write(b"back")
    assert client.recv(10) == b"back"
    poller.close_all()
    assert client.recv(10) == b"", "close_all closed the client's channel"
    client.close()


def test_unregister_and_unknown_channels():
    poller = Poller()
    channel = TestChannel()
    poller.register(channel)
    poller.unregister(channel)
    poller.unregister(channel)
    poller.unregister(TestChannel())
    channel.put(b"x")
    assert poller.poll(0) == []


class ListChannel(TestChannel):
    """A Python subclass whose reads are counted."""

    reads = 0

    def _read(self):
        self.reads += 1
        return super()._read()


def test_a_python_subclass_is_polled_too():
    poller = Poller()
    channel = ListChannel()
    poller.register(channel)
    channel.put(b"sub")
    assert poll_until(poller, 1) == [(b"sub", channel)]


class Alarm(Exception):
    pass


def test_sigalrm_handler_runs_during_a_blocking_poll_and_its_exception_propagates():
    poller = Poller()
    channel = TestChannel()
    poller.register(channel)

    def on_alarm(signum, frame):
        raise Alarm()

    old = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(Alarm):
            poller.poll(None)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_sigint_during_a_blocking_poll_is_keyboard_interrupt():
    poller = Poller()
    poller.register(TestChannel())
    timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            poller.poll(None)
    finally:
        timer.join()
