"""procloop.Runner, the native API: events, timers, errors, the loop's fd,
the GIL and signals while waiting, threads and fork."""

import os
import selectors
import signal
import threading
import time

import pytest

import procloop
from conftest import DEADLINE, read_some, until
from procloop import Closed, Data, Exited, GaveUp, Restarted, Stderr, Timer


def poll_until(runner, done, timeout=0.1):
    """Polls until ``done(events so far)``; returns the events."""
    events = []
    end = time.monotonic() + DEADLINE
    while not done(events):
        assert time.monotonic() < end, f"only {events} before the deadline"
        events.extend(runner.poll(timeout))
    return events


def exited(events):
    return any(isinstance(e, Exited) for e in events)


def test_data_then_closed_then_exited():
    with procloop.Runner() as runner:
        runner.add("seq", "seq 3", buffering="line")
        pid = runner.start("seq")
        assert pid == runner.pid("seq")
        events = poll_until(runner, exited)
        assert [(type(e), e.alias) for e in events] == [(Data, "seq")] * 3 + [(Closed, "seq"), (Exited, "seq")]
        assert [e.data for e in events[:3]] == [b"1\n", b"2\n", b"3\n"]
        assert events[-1].returncode == 0
        assert runner.returncode("seq") == 0
        assert runner.aliases() == ["seq"], "taken until terminate"
        assert runner.terminate("seq") == 0
        assert runner.aliases() == []


def test_events_match_by_class():
    with procloop.Runner() as runner:
        runner.add("false", "false")
        runner.start("false")
        codes = []
        for event in poll_until(runner, exited):
            match event:
                case Exited(alias, code):
                    codes.append((alias, code))
        assert codes == [("false", 1)]


def test_channel_handle_write_read_and_terminate_by_signal():
    with procloop.Runner() as runner:
        # Not plain cat: terminate closes its stdin before SIGTERM, and cat
        # may see the EOF and exit 0 first.
        runner.add("cat", "sh -c 'cat; exec sleep 60'")
        runner.start("cat", alias="kitty")
        channel = runner.get_channel("kitty")
        channel.write(b"hello, ", b"world")
        assert read_some(channel) == b"hello, world"
        assert runner.terminate("kitty") == -signal.SIGTERM
        with pytest.raises(procloop.EndpointClosed):
            channel.read()
        assert runner.get_channel("kitty") is None


def test_stderr_capture():
    with procloop.Runner() as runner:
        runner.add("err", "sh -c 'echo oops >&2'", stderr="capture")
        runner.start("err")
        events = poll_until(runner, exited)
        assert b"".join(e.data for e in events if isinstance(e, Stderr)) == b"oops\n"


def test_restarts_then_gives_up():
    with procloop.Runner() as runner:
        runner.add("crash", "false", restart="on_failure", backoff=(0.001, 0.001), max_restarts=2, restart_window=60)
        runner.start("crash")
        events = poll_until(runner, lambda es: any(isinstance(e, GaveUp) for e in es))
        kinds = [type(e) for e in events if not isinstance(e, Closed)]
        assert kinds == [Exited, Restarted, Exited, Restarted, Exited, GaveUp]
        assert events[-1].returncode == 1


def test_timers_fire_in_order_and_cancel():
    with procloop.Runner() as runner:
        late = runner.set_timer(0.05)
        early = runner.set_timer(0.0)
        cancelled = runner.set_timer(0.01)
        assert runner.cancel_timer(cancelled) is True
        assert runner.cancel_timer(cancelled) is False
        events = poll_until(runner, lambda es: len(es) == 2)
        assert events[0].id == early and events[1].id == late
        assert all(isinstance(e, Timer) for e in events)
        assert runner.cancel_timer(late) is False, "it fired"


def test_poll_zero_never_waits_and_a_timeout_returns_empty():
    with procloop.Runner() as runner:
        assert runner.poll(0) == []
        assert runner.poll(0.01) == []


def test_fileno_drives_a_selector():
    with procloop.Runner() as runner:
        runner.add("echo", "echo hi")
        runner.start("echo")
        selector = selectors.DefaultSelector()
        selector.register(runner.fileno(), selectors.EVENT_READ)
        data = b""
        end = time.monotonic() + DEADLINE
        while b"hi\n" not in data:
            assert time.monotonic() < end
            selector.select(1.0)
            data += b"".join(e.data for e in runner.poll(0) if isinstance(e, Data))
        selector.close()


def test_errors_are_typed_and_name_the_culprit():
    runner = procloop.Runner()
    with pytest.raises(procloop.UnknownAppError, match="nope") as info:
        runner.start("nope")
    assert isinstance(info.value, KeyError)
    runner.add("bad", "echo 'unbalanced")
    with pytest.raises(procloop.BadCommandError, match="unterminated"):
        runner.start("bad")
    runner.add("missing", "/no/such/binary")
    with pytest.raises(procloop.SpawnError, match="/no/such/binary") as info:
        runner.start("missing")
    assert isinstance(info.value, OSError)
    with pytest.raises(procloop.ConfigError, match="colour"):
        runner.add("x", "true", colour="red")
    with pytest.raises(procloop.ConfigError, match="stderr"):
        runner.add("x", "true", stderr="loud")
    with pytest.raises(procloop.ConfigError, match="socket"):
        runner.update_config({"sock": {"command": "true", "type": "socket"}}) or runner.start("sock")
    with pytest.raises(procloop.NoSuchProcessError, match="ghost"):
        runner.terminate("ghost")
    runner.add("sleep", "sleep 60")
    runner.start("sleep")
    with pytest.raises(procloop.ProcessExistsException, match="sleep"):
        runner.start("sleep")
    assert runner.ensure_running("sleep") == runner.pid("sleep")
    runner.close()


def test_socket_app_with_a_socket_given_at_start(tmp_path):
    path = tmp_path / "sock"
    with procloop.Runner() as runner:
        runner.update_config({"socat": {"command": f"socat SYSTEM:cat UNIX-LISTEN:{path}", "type": "socket"}})
        runner.start("socat", socket=str(path))
        channel = runner.get_channel("socat")
        channel.write(b"over the socket")
        assert read_some(channel) == b"over the socket"


def test_pty_app_is_a_terminal():
    with procloop.Runner() as runner:
        runner.add("tty", "sh -c 'test -t 0 && echo yes'", type="pty")
        runner.start("tty")
        events = poll_until(runner, exited)
        assert b"yes" in b"".join(e.data for e in events if isinstance(e, Data))


def test_the_context_manager_ends_every_child():
    with procloop.Runner() as runner:
        runner.add("sleep", "sleep 60")
        pids = [runner.start("sleep", alias=f"s{i}") for i in range(3)]
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


class Alarm(Exception):
    pass


def test_sigalrm_handler_runs_during_a_blocking_poll():
    runner = procloop.Runner()
    runner.set_timer(60)  # something to wait for: an idle poll(None) returns at once
    old = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(Alarm()))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(Alarm):
            runner.poll(None)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_sigint_during_a_blocking_poll_is_keyboard_interrupt():
    runner = procloop.Runner()
    runner.set_timer(60)
    timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            runner.poll(None)
    finally:
        timer.join()


def test_the_gil_is_released_while_polling():
    runner = procloop.Runner()
    counted = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            counted.append(1)

    thread = threading.Thread(target=count)
    thread.start()
    before = len(counted)
    runner.poll(0.2)
    during = len(counted) - before
    stop.set()
    thread.join()
    assert during > 0, "another thread ran while poll waited"


def test_a_second_thread_gets_busy_error_while_a_poll_waits(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    runner = procloop.Runner()
    runner.add("late", f"cat {fifo}")
    runner.start("late")
    channel = runner.get_channel("late")
    results = []
    thread = threading.Thread(target=lambda: results.append(runner.poll(DEADLINE)))
    thread.start()

    def busy():
        try:
            runner.aliases()
            return False
        except procloop.BusyError as e:
            assert "another thread" in str(e)
            return True

    until(busy, "BusyError")
    with pytest.raises(procloop.BusyError):
        channel.write(b"x")
    # End the poll: cat echoes what the fifo brings.
    with open(fifo, "wb") as writer:
        writer.write(b"done\n")
    thread.join()
    assert [e.data for e in results[0] if isinstance(e, Data)] == [b"done\n"]
    runner.terminate("late")


def test_a_forked_child_leaves_the_parents_children_alone():
    runner = procloop.Runner()
    runner.add("sleep", "sleep 60")
    pid = runner.start("sleep")
    child = os.fork()
    if child == 0:
        try:
            del runner
            import gc

            gc.collect()
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    assert runner.is_running("sleep"), "the fork did not end it"
    os.kill(pid, 0)
    runner.terminate("sleep")


def test_native_channels_over_python_fds():
    r, w = os.pipe()
    channel = procloop.Channel.pipe(r, w, buffering="line")
    channel.write(b"a\nb")
    assert channel.read() == b"a\n"
    assert channel.buffering == "line"
    channel.close()
    assert channel.read() == b"b"
    with pytest.raises(procloop.EndpointClosed):
        channel.read()
    os.close(r)
    os.close(w)
    with pytest.raises(ValueError):
        procloop.Channel.pipe(-1)
