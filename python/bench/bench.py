#!/usr/bin/env python3
"""Side by side, in one run: procloop's Python package against the Python
runner from PyPI (yet-another-runner 0.6.0 and its channels library) and
asyncio, the same script on each engine (issue 13, item 5).

Scenarios, each run in a fresh process per engine (so peak RSS is its own):

- ``seq``: ``seq 1 1000000`` read line by line through a line-buffered
  channel's ``read()`` (asyncio: ``StreamReader.readline``);
- ``fanout``: 500 ``cat`` in the Python runner's own style: start each,
  write a line, sweep ``read()`` until every echo came, terminate each;
- ``native``: 1,000 ``cat`` through procloop's native loop (``poll``)
  against asyncio (``PidfdChildWatcher``) and the Python runner's sweep.

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
    elapsed = time.perf_counter() - start
    assert lines == SEQ_LINES, lines
    r.terminate("seq")
    return elapsed


def seq_asyncio(_engine):
    import asyncio

    async def main():
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
            r.get_channel(alias).write(b"hello %d\n" % i)
        echoed = 0
        while echoed < n:
            for event in r.poll(5):
                if isinstance(event, procloop.Data):
                    assert event.data == b"hello %s\n" % event.alias[3:].encode()
                    echoed += 1
    return time.perf_counter() - start


def fanout_asyncio(_engine, n):
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
        if sys.version_info < (3, 12):  # 3.12 picks pidfds by itself
            watcher = asyncio.PidfdChildWatcher()
            watcher.attach_loop(asyncio.get_running_loop())
            asyncio.get_event_loop_policy().set_child_watcher(watcher)
        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - start

    return asyncio.run(main())


SCENARIOS = {
    ("seq", "procloop"): seq_runner,
    ("seq", "pyrunner"): seq_runner,
    ("seq", "asyncio"): seq_asyncio,
    ("fanout500", "procloop"): lambda e: fanout_runner(e, 500),
    ("fanout500", "pyrunner"): lambda e: fanout_runner(e, 500),
    ("native1000", "procloop"): lambda e: fanout_native(e, 1000),
    ("native1000", "asyncio"): lambda e: fanout_asyncio(e, 1000),
    ("native1000", "pyrunner"): lambda e: fanout_runner(e, 1000),
}


def child(scenario, engine):
    wall = SCENARIOS[(scenario, engine)](engine)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "rss": rss_mb}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--only", help="one scenario: seq, fanout500 or native1000")
    parser.add_argument("--child", nargs=2, metavar=("SCENARIO", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    results = {}
    for rep in range(args.reps):
        for (scenario, engine) in SCENARIOS:  # interleaved: side by side in time too
            if args.only and scenario != args.only:
                continue
            out = subprocess.run(
                [sys.executable, __file__, "--child", scenario, engine], check=True, capture_output=True, text=True
            ).stdout
            results.setdefault((scenario, engine), []).append(json.loads(out))
    print(f"{'scenario':<12} {'engine':<10} {'wall s (median)':>16} {'peak RSS MB':>12}  runs")
    for (scenario, engine), runs in results.items():
        wall = statistics.median(r["wall"] for r in runs)
        rss = statistics.median(r["rss"] for r in runs)
        print(f"{scenario:<12} {engine:<10} {wall:>16.3f} {rss:>12.1f}  {len(runs)}")


if __name__ == "__main__":
    main()
