"""begin_turn with a bot whose write queue has no room for its payload:
QueueFullError naming the bot, and nothing of the turn written."""

import time

import pytest

import procloop
from conftest import DEADLINE
from procloop import QueueFullError, Reply, TurnEnded


def fill_write_queue(channel):
    """Fills ``channel``'s write queue (its reader reads nothing) to its
    limit exactly; returns the limit."""
    flood = b"x" * (1 << 20)
    with pytest.raises(QueueFullError):
        for _ in range(64):
            channel.write(flood)
    limit = 16 << 20  # a channel's default write queue limit
    channel.write(b"x" * (limit - channel.queued))
    assert channel.queued == limit
    return limit


def test_a_payload_that_does_not_fit_raises_queue_full_naming_the_bot():
    with procloop.Runner() as runner:
        runner.add("cat", "cat", buffering="line")
        runner.add("deaf", "sleep 60", buffering="line")
        runner.start("cat")
        runner.start("deaf")
        limit = fill_write_queue(runner.get_channel("deaf"))
        with pytest.raises(QueueFullError, match='"deaf"'):
            runner.begin_turn({"cat": b"first\n", "deaf": b"go\n"}, 10)
        assert runner.get_channel("deaf").queued == limit
        # No turn began, and cat got nothing: its next turn's reply is its own.
        turn = runner.begin_turn({"cat": b"second\n"}, 10)
        replies = []
        ended = False
        end = time.monotonic() + DEADLINE
        while not ended:
            assert time.monotonic() < end, "the turn did not end before the deadline"
            for event in runner.poll(1):
                if isinstance(event, Reply) and event.turn == turn:
                    replies.append(event.data)
                ended |= isinstance(event, TurnEnded) and event.turn == turn
        assert replies == [b"second\n"]
