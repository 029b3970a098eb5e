"""procloop.compat.runner: the Python runner's API beyond its own suite."""

import os
import time

import pytest

from conftest import read_some, read_to_end
from procloop.compat.channels import EndpointClosedException, PipeChannel
from procloop.compat.runner import ProcessExistsException, Runner


def test_start_alias_args_and_line_buffering():
    runner = Runner()
    runner.add("echo", "echo", buffering="line")
    runner.start("echo", alias="e1", with_args=["one\ntwo"])
    channel = runner.get_channel("e1")
    assert isinstance(channel, PipeChannel)
    assert read_to_end(channel, EndpointClosedException) == [b"one\n", b"two\n"]
    runner.terminate("e1")


def test_start_twice_raises_and_ensure_running_keeps_the_first():
    runner = Runner()
    runner.update_config({"cat": {"command": "cat"}})
    runner.start("cat")
    first = runner.get_channel("cat")
    with pytest.raises(ProcessExistsException):
        runner.start("cat")
    runner.ensure_running("cat")
    assert runner.get_channel("cat") is first
    runner.terminate("cat")


def test_unknown_app_and_alias_are_key_errors():
    runner = Runner()
    with pytest.raises(KeyError):
        runner.start("nothing")
    with pytest.raises(KeyError):
        runner.terminate("nothing")
    assert runner.get_channel("nothing") is None


def test_bad_command_is_refused_when_configured():
    runner = Runner()
    with pytest.raises(ValueError, match="unterminated"):
        runner.add("bad", "echo 'unbalanced")


def test_terminated_channel_raises_even_after_the_alias_is_started_again():
    runner = Runner()
    runner.add("cat", "cat")
    runner.start("cat")
    old = runner.get_channel("cat")
    runner.terminate("cat")
    runner.start("cat")
    with pytest.raises(EndpointClosedException):
        old.read()
    with pytest.raises(EndpointClosedException):
        old.write(b"to the new cat?")
    new = runner.get_channel("cat")
    new.write(b"new")
    assert read_some(new) == b"new"
    runner.terminate("cat")


def test_a_dropped_runner_ends_its_children():
    runner = Runner()
    runner.add("sleep", "sleep 60")
    runner.start("sleep")
    pid = runner._native.pid("sleep")
    del runner
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
