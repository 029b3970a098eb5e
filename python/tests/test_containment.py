"""Containment from Python: ``Runner(cgroups=...)``, ``containment()``,
``freeze``/``thaw``, ``tree_usage`` and the tree limits (``tree_memory``,
``tasks``, ``cpus``), and their errors. The tests that need a cgroup skip,
saying why, where this process may make none (not root, no writable
cgroup2 mount)."""

import os
import pathlib
import time

import pytest

import procloop
from conftest import DEADLINE, until
from procloop import CgroupsUnavailableError, ConfigError, Exited, LimitUnsupportedError, TreeUsage

#: A child whose grandchild spins; it says "ready".
BUSY_GRANDCHILD = "sh -c '(while :; do :; done) & echo ready; wait'"


def gone(pid):
    """Whether ``pid`` is gone (or a zombie, which no one may have reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def poll_until(runner, done):
    events = []
    end = time.monotonic() + DEADLINE
    while not done(events):
        assert time.monotonic() < end, f"only {events} before the deadline"
        events.extend(runner.poll(0.1))
    return events


def output(events, alias):
    return b"".join(e.data for e in events if isinstance(e, procloop.Data) and e.alias == alias)


@pytest.fixture
def contained():
    """A Runner with a cgroup per child, or a skip saying why there is none."""
    if os.geteuid() != 0:
        pytest.skip("cgroup containment is tested as root only")
    try:
        runner = procloop.Runner(cgroups="required")
    except CgroupsUnavailableError as e:
        pytest.skip(f"no cgroup here: {e}")
    with runner:
        yield runner


def leaves(runner):
    kind, path = runner.containment()
    assert kind == "cgroup"
    return [p for p in path.iterdir() if p.is_dir()]


def test_off_by_default_with_typed_errors():
    runner = procloop.Runner()
    assert runner.containment() == ("none", None)
    runner.add("sleep", "sleep 1000")
    runner.start("sleep")
    with pytest.raises(CgroupsUnavailableError, match="without cgroups") as raised:
        runner.tree_usage("sleep")
    assert isinstance(raised.value, OSError)
    runner.terminate("sleep")
    runner.add("capped", "sleep 1000", limits={"tasks": 16})
    with pytest.raises(LimitUnsupportedError, match="needs a cgroup") as raised:
        runner.start("capped")
    assert isinstance(raised.value, ConfigError)
    assert runner.aliases() == []
    with pytest.raises(procloop.NoSuchProcessError):
        runner.freeze("nobody")


def test_a_bad_cgroups_value_is_a_config_error():
    with pytest.raises(ConfigError, match='cgroups: "sometimes" is not one of "off", "preferred", "required"'):
        procloop.Runner(cgroups="sometimes")


def test_bad_tree_limits_are_config_errors():
    runner = procloop.Runner()
    with pytest.raises(ConfigError, match="tasks"):
        runner.add("bot", "sleep 1", limits={"tasks": "many"})
    with pytest.raises(ConfigError, match="cpus"):
        runner.update_config({"bot": {"command": "sleep 1", "limits": {"cpus": [1]}}})


def test_preferred_gives_a_cgroup_or_process_groups():
    runner = procloop.Runner(cgroups="preferred")
    kind, path = runner.containment()
    if kind == "cgroup":
        assert isinstance(path, pathlib.Path) and (path / "cgroup.procs").is_file()
        del runner
        assert not path.exists(), "the Runner's cgroup goes with it"
    else:
        assert (kind, path) == ("process_group", None)


def test_no_escape_survives_terminate(contained):
    script = "setsid sh -c 'sleep 1000 & echo $!'; (sleep 1000 & echo $!); echo ready; exec sleep 1000"
    contained.add("bot", f'sh -c "{script}"')
    contained.start("bot")
    events = poll_until(contained, lambda events: b"ready" in output(events, "bot"))
    escaped = [int(word) for word in output(events, "bot").split()[:2]]
    assert not any(gone(pid) for pid in escaped)
    contained.terminate("bot")
    assert all(gone(pid) for pid in escaped), f"ended when terminate returns: {escaped}"
    assert leaves(contained) == [], "the leaf is removed"


def test_tree_usage_counts_a_grandchilds_busy_loop(contained):
    contained.add("busy", BUSY_GRANDCHILD)
    contained.start("busy")
    until(lambda: contained.tree_usage("busy").cpu_time >= 0.2, "200 ms of CPU in the tree")
    usage = contained.tree_usage("busy")
    assert isinstance(usage, TreeUsage) and usage.tasks >= 2, usage
    assert usage.cpu_time == usage.user + usage.system
    assert contained.cpu_time("busy") < usage.cpu_time, "the child itself only waits"
    assert TreeUsage.__match_args__ == ("user", "system", "memory_peak", "tasks")
    has_peak = (leaves(contained)[0] / "memory.peak").exists()
    assert (usage.memory_peak is not None) == has_peak, usage
    assert repr(usage).startswith("TreeUsage(user=")


def test_freeze_stops_the_tree_and_thaw_lets_it_run(contained):
    contained.add("busy", BUSY_GRANDCHILD)
    contained.start("busy")
    until(lambda: contained.tree_usage("busy").cpu_time > 0, "the tree to run")
    events = leaves(contained)[0] / "cgroup.events"
    contained.freeze("busy")
    until(lambda: "frozen 1" in events.read_text(), "frozen 1")
    frozen_at = contained.tree_usage("busy").cpu_time
    contained.poll(0.2)
    assert contained.tree_usage("busy").cpu_time == frozen_at, "no CPU used while frozen"
    contained.thaw("busy")
    until(lambda: "frozen 0" in events.read_text(), "frozen 0")
    until(lambda: contained.tree_usage("busy").cpu_time > frozen_at, "the tree to run again")
    contained.freeze("busy")
    assert contained.terminate("busy") == -15, "a frozen tree is thawed for its SIGTERM"


def test_tree_limits_are_set_where_their_controller_is_on(contained):
    kind, path = contained.containment()
    enabled = (path / "cgroup.subtree_control").read_text().split()
    cases = [
        ("tree_memory", 64 << 20, "memory", "memory.max", "67108864"),
        ("tasks", 16, "pids", "pids.max", "16"),
        ("cpus", 0.5, "cpu", "cpu.max", "50000 100000"),
    ]
    for key, value, controller, file, written in cases:
        contained.update_config({"bot": {"command": "sleep 1000", "limits": {key: value}}})
        if controller in enabled:
            contained.start("bot")
            assert (leaves(contained)[0] / file).read_text().strip() == written
            contained.terminate("bot")
        else:
            with pytest.raises(LimitUnsupportedError, match=f'"{controller}"'):
                contained.start("bot")
        assert leaves(contained) == [], f"no leaf left after {key}"


def test_extra_paths_and_cgroups_together(contained, tmp_path):
    program = tmp_path / "procloop-contained-bot"
    program.write_text("#!/bin/sh\ncat /proc/self/cgroup\n")
    program.chmod(0o755)
    runner = procloop.Runner(extra_paths=[tmp_path], cgroups="required")
    with runner:
        kind, path = runner.containment()
        assert kind == "cgroup" and path != contained.containment()[1]
        runner.add("bot", "procloop-contained-bot")
        runner.start("bot")
        events = poll_until(runner, lambda events: any(isinstance(e, Exited) for e in events))
        line = [line for line in output(events, "bot").decode().splitlines() if line.startswith("0::")][0]
        assert line.endswith(f"/{path.name}/child-1"), line
