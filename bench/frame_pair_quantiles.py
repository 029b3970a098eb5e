#!/usr/bin/env python3
"""Quantiles of `--pair-frame` runs from their FRAME_SAMPLES file.

Each run appends three lines, one a side ("hand", "turns", "tokio-ct"),
each the side's turn latencies in microseconds. Prints per quantile the
median over runs and the per-run ratios between sides, then the pooled
quantiles and how many turns of each side were slow.

    python3 bench/frame_pair_quantiles.py /tmp/fpair_samples.txt
"""
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


if __name__ == "__main__":
    main(sys.argv[1])
