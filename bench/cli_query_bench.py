#!/usr/bin/env python3
"""Warm CLI query, end to end: one `ripvec QUERY PATH` process per query (start, model load, the
index's update check, search, print), wall time measured around the process.

  cli_query_bench.py --ripvec BIN [--ripvec BIN2 ...] --tree DIR [--cache DIR] [--model DIR]
                     [--modes hybrid,keyword] [--rounds 5] [--cpus 0,1] [--device cpu]

Several --ripvec binaries (for example main before and after a change) run interleaved, query by
query, so that they see the same machine. The index must exist (a first untimed query per
binary and mode builds or refreshes it and is reported apart as "first"). --cpus pins each
process with taskset. Prints a markdown table: p50 / p95 / min wall ms per binary and mode.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

QUERIES = [
    "retry with exponential backoff",
    "where are tensors loaded from disk",
    "parse the configuration file",
    "check whether a file is binary",
    "split camel case identifiers",
    "write the index atomically",
    "cancel a running request",
    "normalise a vector to unit length",
]


def run(cmd, cpus):
    if cpus:
        cmd = ["taskset", "-c", cpus] + cmd
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if r.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.decode(errors='replace')}")
    return dt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--ripvec", action="append", required=True)
    ap.add_argument("--tree", required=True)
    ap.add_argument("--cache")
    ap.add_argument("--model")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision")
    ap.add_argument("--modes", default="hybrid,keyword")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cpus")
    a = ap.parse_args()
    if a.cpus and not shutil.which("taskset"):
        sys.exit("--cpus needs taskset")

    def cmd(binary, mode, query):
        c = [binary, "-q", "-n", "3", "--mode", mode, "--device", a.device, query, a.tree]
        if a.cache:
            c += ["--cache-dir", a.cache]
        if a.model:
            c += ["--model", a.model]
        if a.precision:
            c += ["--precision", a.precision]
        return c

    modes = a.modes.split(",")
    times = {(b, m): [] for b in a.ripvec for m in modes}
    first = {}
    for m in modes:
        for b in a.ripvec:
            first[(b, m)] = run(cmd(b, m, QUERIES[0]), a.cpus)
    for _ in range(a.rounds):
        for q in QUERIES:
            for m in modes:
                for b in a.ripvec:
                    times[(b, m)].append(run(cmd(b, m, q), a.cpus))

    load = os.getloadavg()
    print(f"tree {a.tree}; {a.rounds} rounds x {len(QUERIES)} queries; cpus {a.cpus or 'all'}; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print()
    print("| binary | mode | first (ms) | p50 (ms) | p95 (ms) | min (ms) |")
    print("|---|---|---|---|---|---|")
    for b in a.ripvec:
        for m in modes:
            t = sorted(times[(b, m)])
            p95 = t[min(len(t) - 1, int(round(0.95 * (len(t) - 1))))]
            print(f"| {b} | {m} | {first[(b, m)] * 1e3:.0f} | {statistics.median(t) * 1e3:.0f} | "
                  f"{p95 * 1e3:.0f} | {t[0] * 1e3:.0f} |")


if __name__ == "__main__":
    main()
