"""One config parser: apps and starts are parsed by procloop's Rust parser
(its serde shape), so Python takes exactly what Rust takes, and every
unknown key or bad value is a ConfigError naming the key."""

import pathlib
import time

import pytest

import procloop

#: (options of ``add``, what the error must name).
BAD_APP_OPTIONS = [
    ({"buffering": "lines"}, "buffering"),
    ({"buffering": 1}, "buffering"),
    ({"type": "pipe"}, "type"),
    ({"cwd": 3}, "cwd"),
    ({"socket": 3}, "socket"),
    ({"setpgrp": "yes"}, "setpgrp"),
    ({"pty": 1}, "pty"),
    ({"env": ["A=1"]}, "env"),
    ({"env": {"A": 1}}, "env"),
    ({"stderr": "loud"}, "stderr"),
    ({"transport": "pigeon"}, "transport"),
    ({"socket_wait": "5s"}, "socket_wait"),
    ({"termination_grace": -1}, "termination_grace"),
    ({"restart": "sometimes"}, "restart"),
    ({"backoff": (1,)}, "backoff"),
    ({"max_restarts": -1}, "max_restarts"),
    ({"restart_window": "1m"}, "restart_window"),
    ({"die_with_parent": "no"}, "die_with_parent"),
    ({"limits": {"memory": "1G"}}, "limits.memory"),
    ({"limits": {"mem": 1}}, 'unknown limit "mem"'),
    ({"limits": [("memory", 1)]}, "limits"),
    ({"colour": "red"}, 'unknown key "colour"'),
]


@pytest.mark.parametrize("options,key", BAD_APP_OPTIONS, ids=[k for _, k in BAD_APP_OPTIONS])
def test_a_bad_app_option_is_an_error_naming_its_key(options, key):
    runner = procloop.Runner()
    with pytest.raises(procloop.ConfigError, match=key):
        runner.add("x", "true", **options)
    with pytest.raises(procloop.ConfigError, match=key) as info:
        runner.update_config({"x": {"command": "true", **options}})
    assert '"x"' in str(info.value), "update_config names the app too"


#: (arguments of ``start``, what the error must name).
BAD_START_OPTIONS = [
    ({"with_args": "abc"}, "with_args"),
    ({"with_args": [1]}, "with_args"),
    ({"buffering": "lines"}, "buffering"),
    ({"setpgrp": 1}, "setpgrp"),
    ({"nowait": "yes"}, "nowait"),
    ({"cwd": 3}, "cwd"),
    ({"colour": "red"}, 'unknown key "colour"'),
]


@pytest.mark.parametrize("options,key", BAD_START_OPTIONS, ids=[k for _, k in BAD_START_OPTIONS])
def test_a_bad_start_option_is_an_error_naming_its_key(options, key):
    runner = procloop.Runner()
    runner.add("x", "true")
    with pytest.raises(procloop.ConfigError, match=key):
        runner.start("x", **options)
    assert runner.aliases() == [], "nothing was started"


def test_none_is_the_default_and_paths_may_be_path_objects(tmp_path):
    runner = procloop.Runner()
    runner.update_config({"pwd": {"command": "pwd", "buffering": None, "cwd": tmp_path, "type": None,
                                  "setpgrp": None, "limits": None, "env": None}})
    runner.start("pwd", cwd=pathlib.Path(tmp_path), buffering=None, setpgrp=None)
    channel = runner.get_channel("pwd")
    assert channel.buffering == "bytes"
    runner.wait("pwd", timeout=20)
    out = b""
    while True:
        try:
            out += channel.read()
        except procloop.EndpointClosed:
            break
    assert out == f"{tmp_path}\n".encode()
    runner.close()


def test_a_channels_bad_buffering_is_an_error_naming_it():
    import os

    r, w = os.pipe()
    try:
        with pytest.raises(procloop.ConfigError, match="buffering"):
            procloop.Channel.pipe(r, w, buffering="lines")
        assert procloop.Channel.pipe(r, w, buffering=None).buffering == "bytes"
        assert procloop.Channel.pipe(r, w, buffering="line").buffering == "line"
        assert procloop.Channel.pipe(r, w, buffering="whole_lines").buffering == "whole_lines"
    finally:
        os.close(r)
        os.close(w)


def test_whole_lines_hands_a_reads_whole_lines_at_once():
    import os

    r, w = os.pipe()
    try:
        channel = procloop.Channel.pipe(r, None, buffering="whole_lines")
        os.write(w, b"one\ntwo\nthr")
        assert channel.read() == b"one\ntwo\n"
        assert channel.read() == b"", "half a line is not handed"
        os.write(w, b"ee\n")
        assert channel.read() == b"three\n"
    finally:
        os.close(r)
        os.close(w)


def test_an_apps_whole_lines_buffering_is_reported_and_batches_lines():
    runner = procloop.Runner()
    runner.add("seq", "seq 1000", buffering="whole_lines")
    runner.start("seq")
    assert runner.get_channel("seq").buffering == "whole_lines"
    pieces = []
    exited = False
    deadline = time.monotonic() + 20
    while not exited:
        assert time.monotonic() < deadline, "seq never exited"
        for event in runner.poll(timeout=5):
            if isinstance(event, procloop.Data):
                pieces.append(event.data)
            elif isinstance(event, procloop.Exited):
                exited = True
    assert b"".join(pieces) == b"".join(b"%d\n" % i for i in range(1, 1001))
    assert all(piece.endswith(b"\n") for piece in pieces)
    assert len(pieces) < 1000, "lines came together"
    runner.close()
