#!/usr/bin/env python3
"""float32 sgemm throughput of numpy's BLAS, as a physical reference for the tfjs backends.

Prints one JSON object: per size n, the median of the timed runs and GFLOP/s = 2n^3 / t, plus the BLAS that
numpy used (via threadpoolctl when it is installed). OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when set, force an
older OpenBLAS kernel; to measure what the CPU can do, unset them for this command only:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 scripts/numpy_matmul_bench.py
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np


def blas_info():
    """The BLAS libraries loaded by numpy, as threadpoolctl reports them (kernel = 'architecture')."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"error": "threadpoolctl is not installed (pip install threadpoolctl)"}
    keys = ("internal_api", "version", "architecture", "threading_layer", "num_threads", "filepath")
    return [{k: lib.get(k) for k in keys} for lib in threadpool_info() if lib.get("user_api") == "blas"]


def time_matmul(n, repeats, warmup, rng):
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    for _ in range(warmup):
        np.matmul(a, b, out=out)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        runs.append(time.perf_counter() - start)
    # sanity check so a broken BLAS cannot report a fast time: compare one entry with a float64 dot product
    expected = float(np.dot(a[0].astype(np.float64), b[:, 0].astype(np.float64)))
    if abs(out[0, 0] - expected) > 1e-3 * (1 + abs(expected)):
        sys.exit(f"n={n}: matmul result {out[0, 0]} differs from the reference {expected}")
    median = statistics.median(runs)
    return {
        "n": n,
        "median_s": round(median, 6),
        "gflops": round(2 * n**3 / median / 1e9, 1),
        "runs_s": [round(t, 6) for t in runs],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048], help="matrix sizes n (n x n)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per size (the median is reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs per size")
    args = parser.parse_args()
    if args.repeats < 1 or any(n < 1 for n in args.sizes):
        parser.error("--repeats and --sizes must be positive")

    rng = np.random.default_rng(0)
    results = [time_matmul(n, args.repeats, args.warmup, rng) for n in args.sizes]
    report = {
        "dtype": "float32",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu_count": os.cpu_count(),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),  # other processes on the machine skew the numbers
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
        "blas": blas_info(),
        "results": results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
