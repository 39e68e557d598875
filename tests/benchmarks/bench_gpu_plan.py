#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Time onprem.deepseek.gpu_plan over the whole model x GPU catalogue.

    .venv/bin/python tests/benchmarks/bench_gpu_plan.py [--repeat 5] [--max-model-len 32768]

Prints one line per model (GPUs needed on each catalogue GPU, '-' when nothing fits) and a timing summary: per call
(mean, median, p95, max), calls per second, and the seconds one pass over the whole grid takes. A misfit's call
includes its smallest_fit search (a plan per catalogue GPU), so misfits dominate the tail.
A report, not a timed assertion.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, ".collections"))

from ansible_collections.onprem.deepseek.plugins.module_utils import catalog, sizing  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-model-len", type=int, default=32768)
    args = parser.parse_args()
    models = [m["name"] for m in catalog.MODELS]
    gpus = [g["name"] for g in catalog.GPUS]
    timings = []
    grid = {}
    for dummy in range(args.repeat):
        for model in models:
            max_len = min(args.max_model_len, sizing.model_spec(model)["max_context"])
            for gpu in gpus:
                start = time.perf_counter()
                plan = sizing.gpu_plan(model, gpu, max_model_len=max_len)
                timings.append(time.perf_counter() - start)
                grid[(model, gpu)] = plan
    width = max(len(m) for m in models)
    print("GPUs needed at the native dtype, max_model_len <= %d, concurrency 1 ('-': does not fit in 64 nodes)" % args.max_model_len)
    print("%-*s %s" % (width, "model", " ".join("%9s" % g[:9] for g in gpus)))
    for model in models:
        cells = []
        for gpu in gpus:
            plan = grid[(model, gpu)]
            cells.append("%9s" % (plan["gpus"] if plan["fits"] else "-"))
        print("%-*s %s" % (width, model, " ".join(cells)))
    misfits = sum(1 for plan in grid.values() if not plan["fits"])
    timings.sort()
    total = sum(timings)
    print()
    print("gpu_plan calls: %d (%d models x %d GPUs x %d repeats); %d of the %d grid cells do not fit (each searches smallest_fit)"
          % (len(timings), len(models), len(gpus), args.repeat, misfits, len(grid)))
    print("total %.3f s; mean %.2f ms; median %.2f ms; p95 %.2f ms; max %.2f ms" % (
        total, 1000 * statistics.mean(timings), 1000 * statistics.median(timings),
        1000 * timings[int(0.95 * (len(timings) - 1))], 1000 * timings[-1]))
    print("%.0f calls per second; one pass over the %d-cell grid %.3f s" % (len(timings) / total, len(grid), total / args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
