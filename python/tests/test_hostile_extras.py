"""A hostile pass over what the earlier ones left: the seed-compat layer
(``procloop.compat``) called as the seed library's users call it, and the
Python examples with odd arguments."""

import errno
import importlib.util
import os
import resource
import socket
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from conftest import DEADLINE
from procloop.compat.channels.poller import Poller
from procloop.compat.channels.testing import TestChannel
from procloop.compat.runner import Runner
from procloop.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def a_mebibyte_written_to(alias, command):
    """A started ``command`` that was written 1 MiB (mostly still queued),
    and a Poller with its channel registered."""
    runner = Runner()
    runner.add(alias, command)
    runner.start(alias)
    channel = runner.get_channel(alias)
    channel.write(b"x" * (1 << 20))
    poller = Poller()
    poller.register(channel)
    return runner, channel, poller


def test_a_pollers_wait_pushes_queued_writes_on_to_the_child():
    # The library's write blocked until the child took it all; procloop's
    # queues what the pipe does not take. A child that answers only once
    # it has read all of it must still answer while the Poller waits.
    runner, channel, poller = a_mebibyte_written_to("count", "sh -c 'head -c 1048576 | wc -c'")
    end = time.monotonic() + DEADLINE
    results = []
    while not results:
        assert time.monotonic() < end, f"no answer: {channel.queued} bytes still queued"
        results = poller.poll(0.5)
    assert results == [(b"1048576\n", channel)]
    runner.terminate("count")


def test_a_pollers_timeout_still_holds_while_writes_are_queued():
    # Reads nothing: the queue stays.
    runner, channel, poller = a_mebibyte_written_to("deaf", "sleep 60")
    # It returns at its timeout (the queue does not keep it waiting).
    assert poller.poll(0.2) == []
    assert channel.queued > 0
    runner.terminate("deaf")


def test_a_poller_refuses_a_buffering_its_clients_cannot_have():
    # Before: taken, and the first client's SocketChannel raised out of a
    # poll that had read (and so lost) other channels' data.
    with pytest.raises(ConfigError, match="buffering: 'lines'"):
        Poller(buffering="lines")


def test_a_failed_accept_loses_no_data_read_in_the_same_poll(tmp_path):
    poller = Poller()
    channel = TestChannel()
    poller.register(channel)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "server"))
    server.listen(1)
    poller.add_server(server)
    client = socket.socket(socket.AF_UNIX)
    client.connect(str(tmp_path / "server"))
    channel.put(b"precious")
    # No fd left for the accepted client: accept fails with EMFILE.
    lowest_free = os.dup(0)
    os.close(lowest_free)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))
    try:
        with pytest.raises(OSError) as failed:
            poller.poll(DEADLINE)
        assert failed.value.errno == errno.EMFILE
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    results = poller.poll(DEADLINE)
    assert (b"precious", channel) in results, results
    clients = [accepted for accepted, polled in results if polled is server]
    assert len(clients) == 1, results
    poller.close_all()
    channel.close()
    client.close()


def run(script, *args):
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=3 * DEADLINE,
        check=False,
    )


@pytest.mark.skipif(sys.version_info < (3, 10), reason="the examples use match")
@pytest.mark.parametrize("script", ["arena.py", "aio_arena.py"])
@pytest.mark.parametrize(
    "args, says",
    [
        (["--deadline", "-1"], "argument --deadline: '-1': a deadline is a positive number"),
        (["--deadline", "nan"], "argument --deadline: 'nan'"),
        (["--deadline", "0"], "argument --deadline: '0'"),
        (["--deadline", "1e300"], "more seconds than a timer holds"),
        (["--deadline", "soon"], "'soon' is not a number of seconds"),
        (["--turns", "-2"], "argument --turns: '-2': a count cannot be negative"),
    ],
)
def test_the_arenas_refuse_a_deadline_or_turns_that_cannot_work(script, args, says):
    # Before: a traceback once the bots ran (arena.py), or every move of
    # every match missed without a word (aio_arena.py).
    done = run(script, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def ray_league_without_ray(monkeypatch):
    """examples/ray_league.py, loaded with a stand-in for Ray whose
    ``remote`` leaves the class as it is, and no watchdog."""
    ray = types.ModuleType("ray")
    ray.remote = lambda cls: cls
    monkeypatch.setitem(sys.modules, "ray", ray)
    spec = importlib.util.spec_from_file_location("ray_league_without_ray", EXAMPLES / "ray_league.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "watch", lambda actor, cgroup: None)
    return module


def test_a_ray_league_shard_without_bots_plays_its_rounds(monkeypatch):
    # --bots 1 --actors 2 deals one shard no bot: its round was an empty
    # turn, which begin_turn refuses (ConfigError), and the league failed.
    league = ray_league_without_ray(monkeypatch)
    shard = league.Shard({})
    assert shard.play(1) == {}
    shard.runner.close()


@pytest.mark.parametrize(
    "args, says",
    [
        (["--actors", "0"], "argument --actors: '0': at least 1"),
        (["--bots", "-1"], "argument --bots: '-1': at least 0"),
        (["--rounds", "x"], "argument --rounds: 'x' is not a whole number"),
    ],
)
def test_the_ray_league_refuses_counts_that_cannot_work(monkeypatch, capsys, args, says):
    league = ray_league_without_ray(monkeypatch)
    monkeypatch.setattr(sys, "argv", ["ray_league.py", *args])
    with pytest.raises(SystemExit) as exit:
        league.main()
    assert exit.value.code == 2
    assert says in capsys.readouterr().err


def test_the_ray_league_joins_a_cluster_without_sizing_it(monkeypatch):
    # Ray refuses num_cpus when it joins a running cluster: the league
    # gave it always, so it failed on a cluster.
    league = ray_league_without_ray(monkeypatch)
    calls = []
    monkeypatch.setattr(league.ray, "init", lambda **kwargs: calls.append(kwargs), raising=False)
    league.connect("ray://head:10001", 2)
    league.connect(None, 3)
    assert calls == [{"address": "ray://head:10001"}, {"num_cpus": 3}]
