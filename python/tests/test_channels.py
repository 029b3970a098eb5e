"""procloop.compat.channels: every behaviour of the channels library's API
(yet-another-io-channels-library 0.2.4) that procloop promises, on pipes,
sockets, TestChannel and pure-Python subclasses."""

import errno
import os
import socket

import pytest

from conftest import read_some, read_to_end
from procloop.compat.channels import Channel, EndpointClosedException, PipeChannel, SocketChannel
from procloop.compat.channels.testing import TestChannel


def pipe_channel(**kwargs):
    """A PipeChannel reading a fresh pipe, and the pipe's write end."""
    r, w = os.pipe()
    return PipeChannel(faucet=r, **kwargs), w


def socket_channel(**kwargs):
    ours, theirs = socket.socketpair()
    return SocketChannel(ours, **kwargs), theirs


def is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError as e:
        assert e.errno == errno.EBADF
        return False


# read(): never blocks, b'' for nothing


@pytest.mark.parametrize("make", [pipe_channel, socket_channel])
def test_read_returns_what_is_there_then_empty(make):
    channel, peer = make()
    assert channel.read() == b""
    if isinstance(peer, int):
        os.write(peer, b"test")
    else:
        peer.send(b"test")
    assert read_some(channel) == b"test"
    assert channel.read() == b""


def test_test_channel_put_get():
    channel = TestChannel()
    channel.put(b"in")
    assert read_some(channel) == b"in"
    channel.write(b"out")
    assert channel.get() == b"out"
    assert channel.get() == b"", "get never blocks"


# line mode


def test_line_mode_one_line_per_read_and_half_a_line_is_nothing():
    channel = TestChannel(buffering="line")
    channel.put(b"one\ntwo\nthr")
    assert read_some(channel) == b"one\n"
    assert channel.read() == b"two\n"
    assert channel.read() == b"", "thr has no newline yet"
    channel.put(b"ee\n")
    assert read_some(channel) == b"three\n"


def test_line_mode_last_partial_line_comes_in_the_same_call_as_end_of_stream():
    channel, w = pipe_channel(buffering="line")
    os.write(w, b"test")
    os.close(w)
    assert channel.read() == b"test", "in the first read, not the second"
    with pytest.raises(EndpointClosedException):
        channel.read()


def test_line_mode_on_a_socket_last_line_then_closed():
    channel, peer = socket_channel(buffering="line")
    peer.sendall(b"a\nlast")
    peer.close()
    assert read_to_end(channel, EndpointClosedException) == [b"a\n", b"last"]


def test_buffered_lines_are_read_after_close_then_endpoint_closed():
    channel, w = pipe_channel(buffering="line")
    os.write(w, b"one\ntwo\nthr")
    assert read_some(channel) == b"one\n"
    channel.close()
    assert channel.read() == b"two\n"
    assert channel.read() == b"thr", "the last partial line too"
    with pytest.raises(EndpointClosedException):
        channel.read()
    os.close(w)


def test_byte_mode_end_of_stream():
    channel, w = pipe_channel()
    os.write(w, b"last")
    os.close(w)
    assert read_to_end(channel, EndpointClosedException) == [b"last"]
    with pytest.raises(EndpointClosedException):
        channel.read()


# write(*chunks)


def test_write_chunks_as_one_write():
    channel = TestChannel()
    channel.write(b"test", b"123", b"abc", b"")
    assert channel.get() == b"test123abc"


def test_write_after_close_and_to_a_gone_reader_is_endpoint_closed():
    channel = TestChannel()
    channel.close()
    with pytest.raises(EndpointClosedException):
        channel.write(b"x")
    r, w = os.pipe()
    os.close(r)
    writer = PipeChannel(sink=w)
    with pytest.raises(EndpointClosedException):
        writer.write(b"x")


def test_write_never_blocks_and_queues_in_order():
    r, w = os.pipe()
    writer = PipeChannel(sink=w)
    reader = PipeChannel(faucet=r)
    data = bytes(range(256)) * 4096  # 1 MiB: far more than a pipe holds
    writer.write(data)
    assert writer.queued > 0
    got = bytearray()
    while len(got) < len(data):
        got += read_some(reader)
        writer.flush()
    assert bytes(got) == data


# get_fd, buffering


def test_get_fd_and_buffering():
    channel, w = pipe_channel()
    assert channel.get_fd() == channel._in
    assert channel.buffering == "bytes"
    writer = PipeChannel(sink=w)
    with pytest.raises(NotImplementedError):
        writer.get_fd()
    sock_channel, _peer = socket_channel(buffering="line")
    assert sock_channel.get_fd() == sock_channel._sock.fileno()
    assert sock_channel.buffering == "line"


# ownership


def test_pipe_channel_owns_its_fds():
    r, w = os.pipe()
    channel = PipeChannel(r, w)
    channel.close()
    assert not is_open(r) and not is_open(w)
    channel.close()  # twice is fine


def test_socket_channel_leaves_the_socket_to_its_owner_until_closed():
    ours, theirs = socket.socketpair()
    channel = SocketChannel(ours)
    fd = ours.fileno()
    del channel
    assert is_open(fd), "the socket object still owns it"
    ours.sendall(b"still mine")
    assert theirs.recv(100) == b"still mine"
    channel = SocketChannel(ours)
    channel.close()
    assert ours.fileno() == -1, "close() closes the socket, as the library's did"


def test_a_native_borrowed_channel_never_closes_the_fd():
    import procloop

    r, w = os.pipe()
    core = procloop.Channel.pipe(r, w)
    core.write(b"x")
    assert core.read() == b"x"
    core.close()
    del core
    assert is_open(r) and is_open(w)
    os.close(r)
    os.close(w)


def test_fds_closed_behind_the_channels_back_give_endpoint_closed():
    r, w = os.pipe()
    channel = PipeChannel(r, w)
    os.close(r)
    os.close(w)
    with pytest.raises(EndpointClosedException):
        channel.read()
    with pytest.raises(EndpointClosedException):
        channel.write(b"x")
    channel.close()  # its own close of the closed fds is quiet too

    ours, _theirs = socket.socketpair()
    channel = SocketChannel(ours, buffering="line")
    ours.close()
    with pytest.raises(EndpointClosedException):
        channel.read()
    with pytest.raises(EndpointClosedException):
        channel.write(b"x")


# the abstract base


def test_channel_is_abstract():
    with pytest.raises(TypeError):
        Channel()


class ListChannel(Channel):
    """A pure-Python channel: what it reads comes from a list."""

    def __init__(self, chunks, **kwargs):
        super().__init__(**kwargs)
        self.chunks = list(chunks)
        self.written = []

    def _read(self):
        if not self.chunks:
            raise EndpointClosedException()
        return self.chunks.pop(0)

    def write(self, *data):
        self.written.extend(data)

    def close(self):
        self.chunks = []


def test_a_python_subclass_gets_line_mode_from_the_base():
    channel = ListChannel([b"on", b"e\ntwo\nla", b"", b"st"], buffering="line")
    assert channel.read() == b""
    assert channel.read() == b"one\n"
    assert channel.read() == b"two\n"
    assert channel.read() == b""
    assert channel.read() == b"last"
    with pytest.raises(EndpointClosedException):
        channel.read()


def test_every_channel_handed_out_is_a_channel():
    import procloop
    from procloop.compat.runner import Runner

    assert isinstance(TestChannel(), Channel)
    assert isinstance(pipe_channel()[0], Channel)
    assert isinstance(socket_channel()[0], Channel)
    runner = Runner()
    runner.add("cat", "cat")
    runner.start("cat")
    assert isinstance(runner.get_channel("cat"), PipeChannel)
    native = procloop.Runner()
    native.add("cat", "cat")
    native.start("cat")
    assert isinstance(native.get_channel("cat"), Channel)
    runner.terminate("cat")
    native.terminate("cat")
