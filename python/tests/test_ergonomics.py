"""The typed conveniences: a channel accessor that raises, a prompt read in
line mode, several lines per Data event, per-alias async line streams and
the package's version."""

import asyncio
import re
import time

import pytest

import procloop
from conftest import DEADLINE
from procloop import Closed, Data, Exited
from procloop.aio import Events


def test_channel_raises_where_get_channel_gives_none():
    with procloop.Runner() as runner:
        runner.add("cat", "cat")
        runner.start("cat")
        assert isinstance(runner.channel("cat"), procloop.Channel)
        with pytest.raises(procloop.NoSuchProcessError, match='"nobody": it is not taken'):
            runner.channel("nobody")
        runner.terminate("cat")
        with pytest.raises(KeyError):
            runner.channel("cat")


def test_read_available_takes_a_prompt_without_its_newline():
    with procloop.Runner() as runner:
        runner.add("ask", "sh -c 'printf \"one\\nName? \"; read name'", buffering="line")
        runner.start("ask")
        runner.pause("ask")
        channel = runner.channel("ask")
        got = b""
        end = time.monotonic() + DEADLINE
        while not got.endswith(b"Name? "):
            assert time.monotonic() < end, got
            runner.poll(0.05)
            got += channel.read_available()
        assert got == b"one\nName? "


def test_batched_poll_hands_several_whole_lines_per_event():
    with procloop.Runner() as runner:
        runner.add("seq", "seq 20000", buffering="line")
        runner.start("seq")
        events = []
        end = time.monotonic() + DEADLINE
        while not any(isinstance(e, Exited) for e in events):
            assert time.monotonic() < end
            events.extend(runner.poll(0.2, batch=True))
        data = [e.data for e in events if isinstance(e, Data)]
        assert b"".join(data) == b"".join(b"%d\n" % i for i in range(1, 20001))
        assert all(d.endswith(b"\n") for d in data), "whole lines only"
        assert len(data) < 20000, "several lines per event"
        assert [type(e) for e in events[-2:]] == [Closed, Exited]


def test_lines_streams_each_alias_on_its_own():
    async def main():
        with procloop.Runner() as runner:
            runner.add("seq", "seq 3", buffering="line")
            runner.add("raw", "printf 'a\\nb\\nno newline'")
            runner.start("seq", "one")
            runner.start("raw")
            async with Events(runner, batch=True) as events:
                one = [line async for line in events.lines("one")]
                raw = [line async for line in events.lines("raw")]
                rest = await events.until(lambda e: isinstance(e, Exited) and e.alias == "raw", DEADLINE)
            assert one == [b"1\n", b"2\n", b"3\n"]
            assert raw == [b"a\n", b"b\n", b"no newline"]
            assert not any(isinstance(e, Data) for e in rest), "their Data went to the streams"

    asyncio.run(asyncio.wait_for(main(), 3 * DEADLINE))


def test_version_is_the_package_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", procloop.__version__)
    from importlib.metadata import version

    assert procloop.__version__ == version("procloop")
