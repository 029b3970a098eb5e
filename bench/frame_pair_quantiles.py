#!/usr/bin/env python3
"""Quantiles of `--pair-frame` runs from their FRAME_SAMPLES file.

Each run appends three lines, one a side ("hand", "turns", "tokio-ct"),
each the side's turn latencies in microseconds. Prints per quantile the
median over runs and the per-run ratios between sides, then the pooled
quantiles and how many turns of each side were slow, and for the pooled
ratio of turns to tokio-ct at each quantile a 95% interval from 2,000
bootstrap resamples of the runs (a run's three sides stay together: they
shared its machine).

    python3 bench/frame_pair_quantiles.py /tmp/fpair_samples.txt
"""
import random
import statistics
import sys

NAMES = ["hand", "turns", "tokio-ct"]


def quantile(values, fraction):
    return values[min(len(values) - 1, int(len(values) * fraction))]


def runs_of(path):
    runs, current = [], {}
    for line in open(path):
        parts = line.split()
        if not parts:
            continue
        current[parts[0]] = sorted(int(x) for x in parts[1:])
        if len(current) == len(NAMES):
            runs.append(current)
            current = {}
    return runs


def main(path):
    runs = runs_of(path)
    print("runs", len(runs))
    for fraction, label in [(0.5, "p50"), (0.9, "p90"), (0.99, "p99")]:
        per = {n: [quantile(r[n], fraction) / 1000 for r in runs] for n in NAMES}
        print(label, "median of runs (ms):", " ".join("%s %.3f" % (n, statistics.median(per[n])) for n in NAMES))
        for a, b in [("turns", "tokio-ct"), ("turns", "hand"), ("hand", "tokio-ct")]:
            ratios = sorted(x / y for x, y in zip(per[a], per[b]))
            lower = sum(1 for x, y in zip(per[a], per[b]) if x <= y)
            print("   %s/%s median %.3f (q1 %.3f, q3 %.3f), %s lower or equal in %d of %d" % (
                a, b, statistics.median(ratios), ratios[len(ratios) // 4], ratios[3 * len(ratios) // 4],
                a, lower, len(ratios)))
    pooled = {n: sorted(x for r in runs for x in r[n]) for n in NAMES}
    print("pooled p50 / p90 / p99 (ms):", " | ".join(
        "%s %.2f / %.2f / %.2f" % (n, *(quantile(pooled[n], f) / 1000 for f in (0.5, 0.9, 0.99))) for n in NAMES))
    for n in NAMES:
        slow = [sum(1 for x in pooled[n] if x > ms * 1000) for ms in (3, 4, 8)]
        print("%s: turns over 3 / 4 / 8 ms: %d / %d / %d of %d" % (n, *slow, len(pooled[n])))
    for fraction, label in [(0.5, "p50"), (0.9, "p90"), (0.99, "p99")]:
        ratio, low, high, below = bootstrap(runs, "turns", "tokio-ct", fraction)
        print("%s pooled turns/tokio-ct %.3f, 95%% interval %.3f-%.3f, at or below 1 in %.0f%% of resamples" % (
            label, ratio, low, high, 100 * below))


def bootstrap(runs, a, b, fraction, resamples=2000):
    """The pooled quantile ratio a/b, its 95% bootstrap interval over runs,
    and the share of resamples where it is at most 1."""
    def ratio(sample):
        return (quantile(sorted(x for r in sample for x in r[a]), fraction)
                / quantile(sorted(x for r in sample for x in r[b]), fraction))
    rng = random.Random(1)
    ratios = sorted(ratio([rng.choice(runs) for _ in runs]) for _ in range(resamples))
    below = sum(1 for x in ratios if x <= 1) / resamples
    return ratio(runs), ratios[resamples // 40], ratios[resamples - resamples // 40 - 1], below


if __name__ == "__main__":
    main(sys.argv[1])
