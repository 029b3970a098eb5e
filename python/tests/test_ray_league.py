"""examples/ray_league.py on a local Ray (2 CPUs, 2 actors, 100 bots): the
league plays, and no bot outlives ``ray.kill`` of its actor (nor, where
containment is active, a grandchild that called setsid). Skipped where ray
cannot be imported (python/ci.sh installs it in its test venv)."""

import os
import sys
import time
from pathlib import Path

import pytest

from conftest import DEADLINE

ray = pytest.importorskip("ray", reason="ray is not installed here (python/ci.sh installs it)")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))
import ray_league  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    # The actors import ray_league by name: their processes get its folder.
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [str(EXAMPLES), path] if p)
    # Ray kills a dead worker's children itself by default: off, so that
    # what ends the bots here is procloop's die_with_parent.
    os.environ["RAY_kill_child_processes_on_worker_exit"] = "false"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
        del os.environ["RAY_kill_child_processes_on_worker_exit"]
        if path is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = path


def ended(pid):
    """Whether ``pid`` is gone or a zombie (this machine's PID 1 reaps no orphans)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def all_end(pids):
    end = time.monotonic() + DEADLINE
    while not all(ended(pid) for pid in pids):
        left = [pid for pid in pids if not ended(pid)]
        assert time.monotonic() < end, f"still running after ray.kill: {left}"
        time.sleep(0.05)


def test_the_league_plays_and_every_bot_dies_with_its_actor(local_ray):
    # Besides its bots, each shard runs one process that never reads its
    # stdin, so that the end of its pipe does not end it.
    shards = ray_league.deal(100, 2, extra={"deaf": "sleep 1000"})
    table = ray_league.standings(shards, 3)
    assert len(table) == 100
    assert sorted(alias for alias, _ in table) == sorted(f"bot-{i}" for i in range(100))
    # Every bot answered every round: round r, seed s scores (r * s + 7) % 101.
    expected = {f"bot-{i}": sum((r * (i + 1) + 7) % 101 for r in (1, 2, 3)) for i in range(100)}
    assert dict(table) == expected
    pids = [pid for shard in shards for pid in ray.get(shard.pids.remote()).values() if pid]
    assert len(pids) == 102, "100 bots, 2 deaf ones"
    actors = [ray.get(shard.actor_pid.remote()) for shard in shards]
    for shard in shards:
        ray.kill(shard)
    all_end(actors)
    all_end(pids)


def test_a_setsid_grandchild_dies_with_its_actor_under_containment(local_ray, tmp_path):
    marker = tmp_path / "grandchild.pid"
    escaper = f"sh -c 'setsid sleep 1000 & echo $! > {marker}; exec sleep 1000'"
    (shard,) = ray_league.deal(2, 1)
    how = ray.get(shard.how_contained.remote())
    if how != "cgroup":  # "process_group" or "none"
        # Checked before the escaper starts: without a cgroup it would escape.
        ray.kill(shard)
        reason = f"containment is not active here (children contained by: {how}); a setsid grandchild escapes"
        print(reason)
        pytest.skip(reason)
    ray.get(shard.start.remote("escaper", escaper))
    end = time.monotonic() + DEADLINE
    while not marker.exists() or not marker.read_text().strip():
        assert time.monotonic() < end, "the escaper never wrote its grandchild's pid"
        time.sleep(0.05)
    grandchild = int(marker.read_text())
    pids = [pid for pid in ray.get(shard.pids.remote()).values() if pid]
    assert not ended(grandchild)
    ray.kill(shard)
    all_end([*pids, grandchild])
