#!/usr/bin/env python3
"""Side by side, in one run: procloop's Python package, by API, against the
Python runner from PyPI (yet-another-runner 0.6.0 and its channels library)
and asyncio, the same script on each (issue 13, item 5; issue 22).

Each row names the API it measures:

- ``pyrunner``: the seed, yet-another-runner 0.6.0 (``read()`` sweeps);
- ``procloop.compat``: the same script on procloop's compat layer;
- ``procloop.native``: ``procloop.Runner.poll()``, one ``Data`` per line;
- ``procloop.native batch``: ``poll(batch=True)``, several lines per ``Data``;
- ``asyncio``: what Python 3.11 gives by default (its
  ``ThreadedChildWatcher`` below 3.12), and ``asyncio pidfd`` with a
  ``PidfdChildWatcher`` installed.

Scenarios, each run in a fresh process per API (so peak RSS is its own),
each timed from the first start to the last child reaped (teardown
included everywhere):

- ``seq``: ``seq 1 1000000`` read line by line;
- ``fanout500``: 500 ``cat``: start each, write a line, wait for every
  echo, end each;
- ``fanout1000``: the same with 1,000.

    pip install ./python yet-another-runner==0.6.0
    python python/bench/bench.py --reps 5      # medians of 5 runs each

Prints a table of medians: wall seconds and peak RSS (MB).
"""

import argparse
import json
import os
import resource
import select
import statistics
import subprocess
import sys
import time

SEQ_LINES = 1_000_000


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def compat_modules(engine):
    if engine == "procloop":
        from procloop.compat import runner
        from procloop.compat.channels import EndpointClosedException
    else:
        import runner
        from channels import EndpointClosedException
    return runner, EndpointClosedException


def seq_runner(engine):
    runner_mod, closed = compat_modules(engine)
    r = runner_mod.Runner()
    r.add("seq", f"seq 1 {SEQ_LINES}", buffering="line")
    start = time.perf_counter()
    r.start("seq")
    channel = r.get_channel("seq")
    read, poller = channel.read, select.poll()
    poller.register(channel.get_fd(), select.POLLIN)
    lines = 0
    while True:
        try:
            line = read()
        except closed:
            break
        if line:
            lines += 1
        else:
            poller.poll(1000)
    r.terminate("seq")
    elapsed = time.perf_counter() - start
    assert lines == SEQ_LINES, lines
    return elapsed


def seq_native(batch):
    import procloop

    start = time.perf_counter()
    lines = 0
    with procloop.Runner() as r:
        r.add("seq", f"seq 1 {SEQ_LINES}", buffering="line")
        r.start("seq")
        done = False
        while not done:
            for event in r.poll(5, batch=batch):
                if isinstance(event, procloop.Data):
                    lines += event.data.count(b"\n") if batch else 1
                elif isinstance(event, procloop.Exited):
                    done = True
        r.terminate("seq")
    elapsed = time.perf_counter() - start
    assert lines == SEQ_LINES, lines
    return elapsed


def use_pidfds():
    """Installs asyncio's PidfdChildWatcher (3.12 picks pidfds by itself)."""
    import asyncio

    if sys.version_info < (3, 12):
        watcher = asyncio.PidfdChildWatcher()
        watcher.attach_loop(asyncio.get_running_loop())
        asyncio.get_event_loop_policy().set_child_watcher(watcher)


def seq_asyncio(pidfd):
    import asyncio

    async def main():
        if pidfd:
            use_pidfds()
        start = time.perf_counter()
        proc = await asyncio.create_subprocess_exec("seq", "1", str(SEQ_LINES), stdout=asyncio.subprocess.PIPE)
        lines = 0
        while await proc.stdout.readline():
            lines += 1
        await proc.wait()
        assert lines == SEQ_LINES, lines
        return time.perf_counter() - start

    return asyncio.run(main())


def fanout_runner(engine, n):
    raise_fd_limit()
    runner_mod, _closed = compat_modules(engine)
    r = runner_mod.Runner()
    r.add("cat", "cat")
    start = time.perf_counter()
    channels = {}
    for i in range(n):
        alias = f"cat{i}"
        r.start("cat", alias=alias)
        channels[alias] = r.get_channel(alias)
        channels[alias].write(b"hello %d\n" % i)
    got = {alias: b"" for alias in channels}
    pending = set(channels)
    while pending:
        for alias in list(pending):
            got[alias] += channels[alias].read()
            if got[alias].endswith(b"\n"):
                pending.discard(alias)
    for alias in channels:
        r.terminate(alias)
    elapsed = time.perf_counter() - start
    assert all(got[f"cat{i}"] == b"hello %d\n" % i for i in range(n))
    return elapsed


def fanout_native(_engine, n):
    raise_fd_limit()
    import procloop

    start = time.perf_counter()
    with procloop.Runner() as r:
        r.add("cat", "cat", buffering="line")
        for i in range(n):
            alias = f"cat{i}"
            r.start("cat", alias=alias)
            r.channel(alias).write(b"hello %d\n" % i)
        echoed = 0
        while echoed < n:
            for event in r.poll(5):
                if isinstance(event, procloop.Data):
                    assert event.data == b"hello %s\n" % event.alias[3:].encode()
                    echoed += 1
    # After the with: its exit ended and reaped every child.
    return time.perf_counter() - start


def fanout_asyncio(pidfd, n):
    raise_fd_limit()
    import asyncio

    async def one(i):
        proc = await asyncio.create_subprocess_exec(
            "cat", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        proc.stdin.write(b"hello %d\n" % i)
        line = await proc.stdout.readline()
        assert line == b"hello %d\n" % i
        proc.terminate()
        await proc.wait()

    async def main():
        if pidfd:
            use_pidfds()
        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - start

    return asyncio.run(main())


SCENARIOS = {}
for _scenario, _n in [("fanout500", 500), ("fanout1000", 1000)]:
    SCENARIOS.update(
        {
            (_scenario, "pyrunner"): lambda n=_n: fanout_runner("pyrunner", n),
            (_scenario, "procloop.compat"): lambda n=_n: fanout_runner("procloop", n),
            (_scenario, "procloop.native"): lambda n=_n: fanout_native(None, n),
            (_scenario, "asyncio"): lambda n=_n: fanout_asyncio(False, n),
            (_scenario, "asyncio pidfd"): lambda n=_n: fanout_asyncio(True, n),
        }
    )
SCENARIOS = {
    ("seq", "pyrunner"): lambda: seq_runner("pyrunner"),
    ("seq", "procloop.compat"): lambda: seq_runner("procloop"),
    ("seq", "procloop.native"): lambda: seq_native(False),
    ("seq", "procloop.native batch"): lambda: seq_native(True),
    ("seq", "asyncio"): lambda: seq_asyncio(False),
    ("seq", "asyncio pidfd"): lambda: seq_asyncio(True),
    **SCENARIOS,
}


def child(scenario, api):
    wall = SCENARIOS[(scenario, api)]()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "rss": rss_mb}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--only", help="one scenario: seq, fanout500 or fanout1000")
    parser.add_argument("--child", nargs=2, metavar=("SCENARIO", "API"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    results = {}
    for rep in range(args.reps):
        for (scenario, api) in SCENARIOS:  # interleaved: side by side in time too
            if args.only and scenario != args.only:
                continue
            out = subprocess.run(
                [sys.executable, __file__, "--child", scenario, api], check=True, capture_output=True, text=True
            ).stdout
            results.setdefault((scenario, api), []).append(json.loads(out))
    print(f"{'scenario':<12} {'API':<22} {'wall s (median)':>16} {'peak RSS MB':>12}  runs")
    for (scenario, api), runs in results.items():
        wall = statistics.median(r["wall"] for r in runs)
        rss = statistics.median(r["rss"] for r in runs)
        print(f"{scenario:<12} {api:<22} {wall:>16.3f} {rss:>12.1f}  {len(runs)}")


if __name__ == "__main__":
    main()
