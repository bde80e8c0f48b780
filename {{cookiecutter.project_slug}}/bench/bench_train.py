"""Benchmark: wall time of `make train` on the sample data (target: <= 15 s on 2 cores).

Runs the real command line in a subprocess, so interpreter start-up and imports
count too, with MLflow and outputs in a temporary folder (your registry is left alone).

    python bench/bench_train.py [--runs 3]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGE = "{{ cookiecutter.package_name }}"
TARGET_SECONDS = 15.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-train-") as folder:
        data = Path(folder) / "sample.csv"
        subprocess.run(
            [sys.executable, "-m", f"{PACKAGE}.data.sample", "--output", str(data)], check=True
        )
        env = os.environ | {
            "DATA_PATH": str(data),
            "MLFLOW_TRACKING_URI": f"sqlite:///{folder}/mlflow.db",
            "MODELS_DIR": f"{folder}/models",
            "REPORTS_DIR": f"{folder}/reports",
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        }
        times = []
        for run in range(1, args.runs + 1):
            start = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", f"{PACKAGE}.model.train"],
                env=env,
                capture_output=True,
                text=True,
            )
            times.append(time.perf_counter() - start)
            if result.returncode != 0:
                print(result.stdout, result.stderr, file=sys.stderr)
                return 1
            print(
                f"run {run}: {times[-1]:.1f} s{' (creates the MLflow database)' if run == 1 else ''}"
            )
    median = statistics.median(times)
    verdict = "meets" if median <= TARGET_SECONDS else "MISSES"
    print(f"\nmake train: median {median:.1f} s over {len(times)} runs on {os.cpu_count()} cores "
          f"({verdict} the {TARGET_SECONDS:.0f} s target)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
