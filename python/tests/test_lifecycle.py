"""procloop.Runner's lifecycle without stalls and its arena features: stop,
stop_all, signal, wait, nowait starts (Ready, StartFailed), poll's
max_events, next_deadline, limits, usage and cpu_time, the GIL while
waiting, a second thread, and the errors of each."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import procloop
from conftest import DEADLINE, read_some, until
from procloop import Closed, Data, Exited, Ready, Restarted, StartFailed, Timer, Usage

#: A child that ignores SIGTERM, says so, then sleeps.
STUBBORN = "sh -c \"trap '' TERM; echo ready; while :; do sleep 0.05; done\""

#: A child that burns CPU until it is ended.
BUSY = [sys.executable, "-c", "while True: pass"]


def poll_until(runner, done, timeout=0.1, deadline=DEADLINE, **kwargs):
    """Polls until ``done(events so far)``; returns the events."""
    events = []
    end = time.monotonic() + deadline
    while not done(events):
        assert time.monotonic() < end, f"only {events} before the deadline"
        events.extend(runner.poll(timeout, **kwargs))
    return events


def has(kind, alias=None):
    return lambda events: any(isinstance(e, kind) and (alias is None or e.alias == alias) for e in events)


def command(argv):
    return " ".join("'" + a.replace("'", "'\\''") + "'" for a in argv)


def gone(pid):
    """Whether ``pid`` is gone (or a zombie, which no one may have reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def once_busy(runner, action):
    """A thread that waits until ``runner`` is busy in a call of this
    thread's (a call that let go of the GIL: the thread runs Python code
    meanwhile), then calls ``action``; returns the thread (started) and a
    list that gets True once ``action`` ran."""
    done = []

    def run():
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            try:
                runner.next_deadline()
            except procloop.BusyError:
                action()
                done.append(True)
                return
            time.sleep(0.001)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, done


# stop, stop_all


def test_stop_of_a_sigterm_ignoring_child_does_not_block_poll():
    with procloop.Runner() as runner:
        runner.add("stubborn", STUBBORN, buffering="line", termination_grace=3)
        runner.add("cat", "cat", buffering="line")
        runner.start("stubborn")
        runner.start("cat")
        poll_until(runner, has(Data, "stubborn"))
        asked = time.monotonic()
        assert runner.stop("stubborn") is None
        runner.get_channel("cat").write(b"ping\n")
        events = poll_until(runner, has(Data, "cat"))
        # A stop (or a poll) that waited for the grace would hand the exit
        # over first.
        assert not has(Exited, "stubborn")(events), "the grace (3 s) is not over"
        # The grace passes in the loop, each poll returning in its time;
        # then SIGKILL.
        longest = 0.0
        events = []
        end = time.monotonic() + DEADLINE
        while not has(Exited, "stubborn")(events):
            assert time.monotonic() < end
            began = time.monotonic()
            events.extend(runner.poll(0.05))
            longest = max(longest, time.monotonic() - began)
        assert longest < 1.0, f"a poll of 50 ms took {longest:.2f} s"
        assert time.monotonic() - asked >= 2.9, "not before the grace"
        assert runner.returncode("stubborn") == -signal.SIGKILL
        assert runner.aliases() == ["cat", "stubborn"], "taken until terminate"
        assert runner.terminate("stubborn") == -signal.SIGKILL


def test_stop_again_after_the_exit_and_of_an_unknown_alias():
    with procloop.Runner() as runner:
        runner.add("sleep", "sleep 60")
        runner.start("sleep")
        runner.stop("sleep")
        runner.stop("sleep")
        poll_until(runner, has(Exited))
        runner.stop("sleep")
        assert runner.terminate("sleep") == -signal.SIGTERM
        with pytest.raises(procloop.NoSuchProcessError, match="sleep"):
            runner.stop("sleep")


def test_stop_all_returns_at_once_and_every_child_exits():
    with procloop.Runner() as runner:
        runner.add("sleep", "sleep 60")
        for alias in "abc":
            runner.start("sleep", alias=alias)
        runner.stop_all()
        events = poll_until(runner, lambda es: sum(isinstance(e, Exited) for e in es) == 3)
        assert sorted((e.alias, e.returncode) for e in events if isinstance(e, Exited)) == [
            (a, -signal.SIGTERM) for a in "abc"
        ]


def test_a_stopped_child_is_not_restarted():
    with procloop.Runner() as runner:
        runner.add("sleep", "sleep 60", restart="always", backoff=(0, 0))
        runner.start("sleep")
        runner.stop("sleep")
        poll_until(runner, has(Exited))
        idle = runner.set_timer(0.1)
        events = poll_until(runner, lambda es: any(isinstance(e, Timer) and e.id == idle for e in es))
        assert not has(Restarted)(events)
        assert not runner.is_running("sleep")


def test_the_context_manager_ends_a_sigterm_ignoring_child():
    with procloop.Runner() as runner:
        runner.add("stubborn", STUBBORN, termination_grace=0.2)
        pid = runner.start("stubborn")
        read_some(runner.get_channel("stubborn"))
    assert gone(pid), "SIGKILL after the grace, and reaped"


# signal


def test_signal_by_number_enum_and_name_reaches_the_child():
    script = "trap 'echo usr1' USR1; trap 'echo usr2' USR2; trap 'echo hup' HUP; echo ready; while :; do sleep 0.05; done"
    with procloop.Runner() as runner:
        runner.add("sh", "sh -c", buffering="line")
        runner.start("sh", with_args=[script])
        assert read_some(runner.get_channel("sh")) == b"ready\n"
        for sig, said in [(signal.SIGUSR1, b"usr1\n"), (int(signal.SIGUSR2), b"usr2\n"), ("SIGHUP", b"hup\n"), ("usr1", b"usr1\n")]:
            runner.signal("sh", sig)
            assert read_some(runner.get_channel("sh")) == said
        runner.signal("sh", "KILL")
        assert runner.wait("sh", DEADLINE) == -signal.SIGKILL


def test_signal_reaches_a_setpgrp_childs_group():
    with procloop.Runner() as runner:
        # The shell's own child gets the group's SIGTERM too.
        runner.add("group", "sh -c 'sleep 60 & echo $!; wait'", setpgrp=True, buffering="line")
        runner.start("group")
        grandchild = int(read_some(runner.get_channel("group")))
        runner.signal("group", signal.SIGTERM)
        assert runner.wait("group", DEADLINE) == -signal.SIGTERM
        until(lambda: gone(grandchild), "the sleep to be ended too")


def test_signal_refuses_what_is_no_signal():
    with procloop.Runner() as runner:
        runner.add("sleep", "sleep 60")
        runner.start("sleep")
        for bad in ["SIGNOPE", "", 0, 999, True, 2.0, None]:
            with pytest.raises(ValueError):
                runner.signal("sleep", bad)
        assert runner.is_running("sleep"), "nothing was sent"
        with pytest.raises(procloop.NoSuchProcessError, match="ghost"):
            runner.signal("ghost", signal.SIGTERM)


def test_signal_after_the_exit_does_nothing():
    with procloop.Runner() as runner:
        runner.add("true", "true")
        runner.start("true")
        poll_until(runner, has(Exited))
        runner.signal("true", signal.SIGTERM)
        assert runner.returncode("true") == 0


# wait


def test_wait_returns_the_returncode_and_leaves_every_event_for_poll():
    with procloop.Runner() as runner:
        runner.add("echo", "sh -c 'echo first; exit 3'", buffering="line")
        runner.add("sleep", "sleep 60")
        runner.start("sleep")
        runner.start("echo")
        assert runner.wait("echo", DEADLINE) == 3
        assert runner.wait("echo", 0) == 3, "asking again"
        assert runner.returncode("echo") is None, "its exit is not handed over yet"
        events = poll_until(runner, has(Exited, "echo"))
        assert [e.data for e in events if isinstance(e, Data)] == [b"first\n"]
        assert [e.returncode for e in events if isinstance(e, Exited)] == [3]
        assert runner.returncode("echo") == 3


def test_wait_times_out_as_subprocess_does():
    with procloop.Runner() as runner:
        runner.add("sleep", "sleep 60")
        runner.start("sleep")
        began = time.monotonic()
        with pytest.raises(procloop.WaitTimeout) as info:
            runner.wait("sleep", 0.1)
        assert time.monotonic() - began >= 0.09
        assert isinstance(info.value, subprocess.TimeoutExpired)
        assert isinstance(info.value, procloop.ProcloopError)
        assert info.value.cmd == "sleep" and info.value.timeout == 0.1
        assert "sleep" in str(info.value)
        with pytest.raises(procloop.WaitTimeout):
            runner.wait("sleep", 0)
        runner.stop("sleep")
        assert runner.wait("sleep") == -signal.SIGTERM, "no timeout: until it exits"
        with pytest.raises(procloop.NoSuchProcessError):
            runner.wait("ghost", 1)


def test_wait_releases_the_gil_and_runs_signal_handlers():
    with procloop.Runner() as runner:
        runner.add("sleep", "sleep 60")
        runner.start("sleep")
        thread, ran = once_busy(runner, lambda: None)
        old = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("alarm")))
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            with pytest.raises(TimeoutError, match="alarm"):
                runner.wait("sleep")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        thread.join()
        assert ran, "the thread ran while wait() waited"
        assert runner.is_running("sleep")


# nowait: Ready, StartFailed


def test_nowait_socket_app_that_binds_late_is_ready(tmp_path):
    path = tmp_path / "sock"
    with procloop.Runner() as runner:
        # It binds only once the file go is there, made after start
        # returned: a start that waited for the socket would fail.
        go = tmp_path / "go"
        script = f"while [ ! -e {go} ]; do sleep 0.01; done; exec socat SYSTEM:cat UNIX-LISTEN:{path}"
        runner.add("late", f"sh -c '{script}'", type="socket", socket=str(path))
        pid = runner.start("late", nowait=True)
        go.touch()
        assert pid == runner.pid("late")
        assert runner.get_channel("late") is None, "no channel before Ready"
        assert runner.is_running("late")
        events = poll_until(runner, has(Ready))
        assert [(type(e), e.alias) for e in events] == [(Ready, "late")]
        match events[0]:
            case Ready(alias):
                assert alias == "late"
        channel = runner.get_channel("late")
        channel.write(b"echo")
        assert read_some(channel) == b"echo"


def test_nowait_socket_app_that_never_binds_fails_after_its_socket_wait(tmp_path):
    with procloop.Runner() as runner:
        runner.add("never", "sleep 60", type="socket", socket_wait=0.3)
        pid = runner.start("never", socket=str(tmp_path / "sock"), nowait=True)
        events = poll_until(runner, has(StartFailed))
        failed = events[-1]
        assert failed.alias == "never"
        assert isinstance(failed.error, procloop.SocketError)
        assert isinstance(failed.error, OSError)
        assert "did not appear within 300ms" in str(failed.error)
        assert "SocketError" in repr(failed)
        match failed:
            case StartFailed(alias, error):
                assert (alias, type(error)) == ("never", procloop.SocketError)
        assert runner.aliases() == [], "the alias is free again"
        until(lambda: runner.poll(0) == [] and gone(pid), "the app to be killed and reaped")
        # And it can be started again.
        runner.start("never", socket=str(tmp_path / "sock"), nowait=True)
        assert runner.aliases() == ["never"]


def test_nowait_socket_app_that_exits_first_fails_at_once(tmp_path):
    with procloop.Runner() as runner:
        # A socket wait far past poll_until's deadline: StartFailed must
        # come from the exit.
        runner.add("quitter", "sh -c 'exit 4'", type="socket", socket=str(tmp_path / "sock"), socket_wait=3600)
        runner.start("quitter", nowait=True)
        events = poll_until(runner, has(StartFailed))
        assert "exit status: 4" in str(events[-1].error)
        assert not has(Exited)(events), "no Exited after StartFailed"
        assert runner.aliases() == []


def test_a_waiting_socket_start_releases_the_gil(tmp_path):
    path = tmp_path / "sock"
    with procloop.Runner() as runner:
        runner.add("late", f"sh -c 'sleep 0.3; exec socat SYSTEM:cat UNIX-LISTEN:{path}'", type="socket", socket=str(path))
        thread, ran = once_busy(runner, lambda: None)
        runner.start("late")
        thread.join()
        assert ran, "the thread ran while start() waited for the socket"
        assert runner.get_channel("late") is not None


# poll's max_events, next_deadline


def test_max_events_caps_a_poll_and_the_rest_come_without_waiting():
    with procloop.Runner() as runner:
        runner.add("seq", "seq 10", buffering="line")
        runner.start("seq")
        runner.wait("seq", DEADLINE)
        events = []
        end = time.monotonic() + DEADLINE
        while not has(Exited)(events):
            assert time.monotonic() < end
            got = runner.poll(1, max_events=3)
            assert 1 <= len(got) <= 3
            events.extend(got)
        assert [e.data for e in events if isinstance(e, Data)] == [b"%d\n" % i for i in range(1, 11)]
        assert [type(e) for e in events[-2:]] == [Closed, Exited]
        with pytest.raises(ValueError, match="max_events"):
            runner.poll(0, max_events=0)
        with pytest.raises((ValueError, OverflowError, TypeError)):
            runner.poll(0, max_events=-1)


def test_next_deadline_follows_timers_on_the_monotonic_clock():
    with procloop.Runner() as runner:
        assert runner.next_deadline() is None, "nothing but fds could wake it"
        before = time.monotonic()
        late = runner.set_timer(5.0)
        early = runner.set_timer(0.2)
        after = time.monotonic()
        deadline = runner.next_deadline()
        assert before + 0.2 <= deadline + 0.001 and deadline <= after + 0.2 + 0.05
        runner.cancel_timer(early)
        assert before + 5.0 <= runner.next_deadline() + 0.001 <= after + 5.0 + 0.05
        runner.cancel_timer(late)
        assert runner.next_deadline() is None
        runner.set_timer(0.05)
        events = poll_until(runner, has(Timer))
        assert time.monotonic() >= after + 0.05
        assert len(events) == 1
        assert runner.next_deadline() is None


def test_next_deadline_is_now_while_events_wait():
    with procloop.Runner() as runner:
        runner.add("seq", "seq 5", buffering="line")
        runner.start("seq")
        runner.wait("seq", DEADLINE)
        first = poll_until(runner, lambda es: len(es) >= 1, max_events=1)
        assert len(first) == 1
        assert runner.next_deadline() <= time.monotonic(), "the other lines wait: poll now"


def test_next_deadline_covers_a_stopped_childs_sigkill():
    with procloop.Runner() as runner:
        runner.add("stubborn", STUBBORN, termination_grace=DEADLINE)
        runner.start("stubborn")
        read_some(runner.get_channel("stubborn"))
        before = time.monotonic()
        runner.stop("stubborn")
        after = time.monotonic()
        # A read outside poll may leave it "now" (poll then has a look).
        assert runner.poll(0) == []
        deadline = runner.next_deadline()
        assert deadline is not None and before + DEADLINE <= deadline + 0.001 <= after + DEADLINE + 0.05
        runner.signal("stubborn", "KILL")  # rather than the whole grace at the end


def test_an_idle_poll_without_timeout_returns_at_once():
    runner = procloop.Runner()
    began = time.monotonic()
    assert runner.poll() == []
    runner.add("true", "true")
    runner.start("true")
    poll_until(runner, has(Exited))
    runner.terminate("true")
    assert runner.poll(None) == []
    assert time.monotonic() - began < 5


def test_is_idle_says_whether_poll_would_return_at_once():
    runner = procloop.Runner()
    assert runner.is_idle()
    runner.add("sleep", "sleep 60")
    runner.start("sleep")
    assert not runner.is_idle(), "a running child can still produce events"
    runner.terminate("sleep")
    assert runner.is_idle()
    timer = runner.set_timer(60)
    assert not runner.is_idle(), "a timer can still fire"
    runner.cancel_timer(timer)
    assert runner.is_idle()


# limits, usage, cpu_time


def test_a_memory_limit_fails_a_big_allocation():
    with procloop.Runner() as runner:
        grab = [sys.executable, "-c", "bytearray(512 << 20)"]
        runner.add("greedy", command(grab), limits={"memory": 256 << 20}, stderr="null")
        runner.start("greedy")
        events = poll_until(runner, has(Exited))
        assert events[-1].returncode == 1, "MemoryError"


def test_a_cpu_time_limit_ends_a_busy_child_and_usage_says_what_it_used():
    with procloop.Runner() as runner:
        runner.update_config({"busy": {"command": command(BUSY), "limits": {"cpu_time": 1}}})
        runner.start("busy")
        assert runner.usage("busy") is None, "not before its exit"
        until(lambda: runner.cpu_time("busy") > 0.05, "some CPU time")
        # 1 s of CPU may take much longer on a loaded machine.
        events = poll_until(runner, has(Exited), timeout=0.5, deadline=3 * DEADLINE)
        assert events[-1].returncode == -signal.SIGXCPU
        usage = runner.usage("busy")
        assert isinstance(usage, Usage)
        assert usage.cpu_time == usage.user + usage.system
        # The kernel's CPU limit and its rusage count ticks differently.
        assert 0.5 <= usage.cpu_time < 3, usage
        assert usage.max_rss > 1 << 20, "bytes, not KiB"
        match usage:
            case Usage(user, system, max_rss):
                assert user > 0 and system >= 0 and max_rss == usage.max_rss
        assert runner.cpu_time("busy") == pytest.approx(usage.cpu_time)
        assert "Usage(user=" in repr(usage)


def test_cpu_time_grows_while_a_child_runs():
    with procloop.Runner() as runner:
        runner.add("busy", command(BUSY))
        runner.start("busy")
        until(lambda: runner.cpu_time("busy") > 0.05, "some CPU time")
        first = runner.cpu_time("busy")
        until(lambda: runner.cpu_time("busy") > first, "more CPU time")
        with pytest.raises(procloop.NoSuchProcessError, match="ghost"):
            runner.cpu_time("ghost")
        assert runner.usage("ghost") is None


def test_open_files_and_file_size_limits_reach_the_child():
    with procloop.Runner() as runner:
        show = "import resource as r; print([r.getrlimit(getattr(r, 'RLIMIT_' + n)) for n in ('NOFILE', 'FSIZE', 'CORE')])"
        runner.add(
            "limits",
            command([sys.executable, "-c", show]),
            limits={"open_files": 64, "file_size": 1 << 20, "core_dump": 0, "processes": None},
        )
        runner.start("limits")
        events = poll_until(runner, has(Exited))
        shown = b"".join(e.data for e in events if isinstance(e, Data))
        assert shown == b"[(64, 64), (1048576, 1048576), (0, 0)]\n"


def test_bad_limits_are_config_errors():
    runner = procloop.Runner()
    for limits, match in [
        ({"mem": 1}, "unknown limit"),
        ({"memory": -1}, "limits.memory"),
        ({"memory": "1G"}, "limits.memory"),
        ({"cpu_time": -1}, "limits.cpu_time"),
        ([("memory", 1)], "limits"),
    ]:
        with pytest.raises(procloop.ConfigError, match=match):
            runner.add("x", "true", limits=limits)
    runner.add("x", "true", limits={"open_files": 1 << 40})
    with pytest.raises(procloop.LimitTooHighError, match="open_files") as info:
        runner.start("x")
    assert isinstance(info.value, procloop.ConfigError) and isinstance(info.value, ValueError)
    assert runner.aliases() == []


def test_a_setting_that_cannot_work_is_a_config_error():
    runner = procloop.Runner()
    runner.add("x", "true", env={"A=B": "1"})
    with pytest.raises(procloop.ConfigError, match="A=B"):
        runner.start("x")
    assert runner.aliases() == []


def test_an_exit_whose_status_someone_else_took_has_no_returncode():
    old = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        with procloop.Runner() as runner:
            runner.add("true", "true")
            runner.start("true")
            events = poll_until(runner, has(Exited))
            assert events[-1].returncode is None
            assert repr(events[-1]) == 'Exited(alias="true", returncode=None)'
            assert runner.returncode("true") is None
            assert runner.usage("true") is None
            assert runner.terminate("true") is None
    finally:
        signal.signal(signal.SIGCHLD, old)


# the GIL and threads


def test_another_thread_runs_during_a_blocking_poll_and_ends_it(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with procloop.Runner() as runner:
        runner.add("late", f"cat {fifo}", buffering="line")
        runner.start("late")

        def write():
            with open(fifo, "wb") as f:
                f.write(b"from the thread\n")

        # The thread writes once it saw the poll busy: poll(None) returns
        # only because the thread ran Python code while it waited.
        thread, wrote = once_busy(runner, write)
        events = runner.poll(None)
        thread.join()
        assert wrote
        assert isinstance(events[0], Data) and events[0].data == b"from the thread\n", events


def test_a_second_thread_gets_busy_error_from_every_new_call(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    runner = procloop.Runner()
    runner.add("late", f"cat {fifo}")
    runner.start("late")
    results = []
    thread = threading.Thread(target=lambda: results.append(runner.poll(DEADLINE)))
    thread.start()

    def busy():
        try:
            runner.next_deadline()
            return False
        except procloop.BusyError:
            return True

    until(busy, "BusyError")
    for call in [
        lambda: runner.stop("late"),
        runner.stop_all,
        lambda: runner.signal("late", "TERM"),
        lambda: runner.wait("late", 0),
        lambda: runner.usage("late"),
        lambda: runner.cpu_time("late"),
        lambda: runner.poll(0, max_events=1),
        runner.fileno,
    ]:
        with pytest.raises(procloop.BusyError, match="another thread"):
            call()
    with open(fifo, "wb") as writer:
        writer.write(b"done\n")
    thread.join()
    assert [e.data for e in results[0] if isinstance(e, Data)] == [b"done\n"]
    assert runner.wait("late", DEADLINE) == 0, "cat ended by its EOF: nothing the busy calls asked for was done"
    runner.terminate("late")
