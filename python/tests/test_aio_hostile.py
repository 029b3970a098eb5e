"""A hostile asyncio user's pass over procloop.aio: waits joined by a
second task, loops closed under a waiting task, bad ``Events`` arguments,
floods read slowly, and cancellation at every await. Every wait has a
deadline; none is a sleep."""

import asyncio
import sys

import pytest

import procloop
import procloop.aio
from conftest import DEADLINE
from procloop import Data, Exited, Timer
from procloop.aio import Events
from test_aio import STUBBORN


def started(*apps, **options):
    """A Runner with each ``(alias, command)`` of ``apps`` started."""
    runner = procloop.Runner()
    for alias, command in apps:
        runner.add(alias, command, **options)
        runner.start(alias)
    return runner


async def waiting(events):
    """A task in ``events.next()``, once it waits (the Runner's fd watched)."""
    task = asyncio.ensure_future(events.next())
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), 0.05)
    return task


# Bad arguments: a typed error at once, naming the argument.


@pytest.mark.parametrize("value", [1.5, "3", None, True])
def test_max_events_of_a_wrong_type_is_a_type_error_naming_it(value):
    with procloop.Runner() as runner, pytest.raises(TypeError, match="max_events"):
        Events(runner, max_events=value)


@pytest.mark.parametrize("value", [0, -1, 2**64])
def test_max_events_out_of_range_is_a_config_error_naming_it(value):
    with procloop.Runner() as runner, pytest.raises(procloop.ConfigError, match="max_events"):
        Events(runner, max_events=value)


def test_batch_of_a_wrong_type_is_a_type_error_naming_it():
    with procloop.Runner() as runner, pytest.raises(TypeError, match="batch"):
        Events(runner, batch="yes")
