"""The app keys for untrusted code and fair share from Python (``user``,
``no_new_privileges``, ``isolate_network``, ``isolate_pids``, ``nice``,
``scheduler``, ``cpu_affinity``): set in the child before its program
runs, read back from its /proc; bad values are ConfigErrors naming them."""

import os
import time

import pytest

import procloop
from conftest import DEADLINE
from procloop import ConfigError, Data, Exited

#: SCHED_BATCH, as /proc/<pid>/stat gives the policy.
SCHED_BATCH = 3


def run(command, **options):
    """What ``command`` wrote to stdout, run with the app ``options``."""
    runner = procloop.Runner()
    runner.add("child", command, **options)
    runner.start("child")
    out, done = b"", False
    end = time.monotonic() + DEADLINE
    while not done:
        assert time.monotonic() < end, f"no exit before the deadline; output so far {out!r}"
        for event in runner.poll(0.1):
            out += event.data if isinstance(event, Data) else b""
            done = done or isinstance(event, Exited)
    return out.decode()


def status_field(status, name):
    return next(line.split(":", 1)[1].strip() for line in status.splitlines() if line.startswith(name + ":"))


def test_fair_share_and_no_new_privileges_reach_the_child():
    text = run(
        "cat /proc/self/status /proc/self/stat",
        nice=5,
        scheduler="batch",
        cpu_affinity=[0],
        no_new_privileges=True,
    )
    status, stat = text.rsplit("\n", 2)[0], text.rsplit("\n", 2)[1]
    fields = stat.rsplit(")", 1)[1].split()
    assert int(fields[16]) == 5, "nice"
    assert int(fields[38]) == SCHED_BATCH, "scheduler"
    assert status_field(status, "Cpus_allowed_list") == "0"
    assert status_field(status, "NoNewPrivs") == "1"


@pytest.mark.skipif(os.geteuid() != 0, reason="another user and namespaces are tested as root only")
def test_user_and_isolation_reach_the_child():
    status = run("cat /proc/self/status", user=(65534, 65534))
    assert status_field(status, "Uid").split()[0] == "65534"
    assert status_field(status, "Gid").split()[0] == "65534"
    assert status_field(status, "Groups") == "", "no supplementary groups"
    assert run("sh -c 'echo $$'", isolate_pids=True).strip() == "1", "init of its own PID namespace"
    devices = run("cat /proc/net/dev", isolate_network=True).splitlines()[2:]
    assert [line.split(":")[0].strip() for line in devices] == ["lo"], "loopback only"


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("scheduler", "fast", "scheduler"),
        ("nice", 50, "nice 50"),
        ("cpu_affinity", [], "cpu_affinity"),
        ("user", [1], "user"),
        ("isolate_pids", "yes", "isolate_pids"),
    ],
)
def test_bad_untrusted_keys_are_config_errors(key, value, message):
    runner = procloop.Runner()
    with pytest.raises(ConfigError, match=message):
        runner.add("child", "true", **{key: value})
        runner.start("child")
    assert runner.aliases() == []
