"""Benchmark: wall time and peak memory of `make train`, on the sample and on large files.

    sample   the sample data set, median of --runs (target: <= 15 s on 2 cores)
    long     200,000 rows x 20 messy columns (target: < 120 s on 2 cores)
    wide     10,000 columns x 300 rows: refused up front (MAX_COLUMNS), in seconds

Runs the real command line in a subprocess, so interpreter start-up and imports
count too, with MLflow and outputs in a temporary folder (your registry is left alone).
Peak memory is the largest resident size of the training process (and the workers it
waited for), from the operating system's own accounting.

    python bench/bench_train.py [--runs 3] [--skip-large] [--long-rows 200000]

--long-rows below 200,000 checks that the long file's path runs (the template's test uses
20,000 to save a minute and a half of CI); its time is then no measure of the target.
"""

import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer

PACKAGE = "{{ cookiecutter.package_name }}"
TARGETS = {"sample": 15.0, "long": 120.0, "wide": 30.0}


def long_file(path: Path, rows: int = 200_000, seed: int = 0) -> str:
    """20 columns of the usual mess: numbers as text, spellings, a date, an ID, gaps."""
    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(rows, 12))
    frame = pd.DataFrame(numbers.round(3), columns=[f"x{i}" for i in range(12)])
    frame["id"] = rng.permutation(rows)
    frame["listed"] = (
        pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, rows), "D")
    ).strftime("%Y-%m-%d")
    for i, size in enumerate((3, 5, 8, 12, 30)):
        frame[f"c{i}"] = rng.choice([f"Level {j}" for j in range(size)] + [" level 0 "], rows)
    frame["amount"] = [f"${v:,.2f}" for v in rng.uniform(100, 90_000, rows)]
    frame.loc[rng.random(rows) < 0.05, "x0"] = np.nan
    frame["target"] = (
        numbers[:, :4].sum(axis=1) + (frame["c0"] == "Level 1") + rng.normal(0, 0.5, rows)
    )
    frame.to_csv(path, index=False)
    return "target"


def wide_file(path: Path, rows: int = 300, columns: int = 10_000, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        rng.normal(size=(rows, columns)).round(3), columns=[f"f{i}" for i in range(columns)]
    )
    frame["target"] = frame["f0"] * 2 + rng.normal(0, 0.1, rows)
    frame.to_csv(path, index=False)
    return "target"


def timed_train(env: dict, data: Path, target: str | None) -> tuple[float, float, int, str]:
    """(seconds, peak MiB, exit code, output) of one `train` run."""
    command = [sys.executable, "-m", f"{PACKAGE}.model.train", "--data", str(data)]
    command += ["--target", target] if target else []
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, process.returncode, output


def report(name: str, seconds: float, peak: float, code: int, note: str = "", judged=True) -> None:
    verdict = "meets" if seconds <= TARGETS[name] else "MISSES"
    judgement = f"{verdict} the {TARGETS[name]:.0f} s target" if judged else "not judged"
    print(
        f"{name:>6}: {seconds:6.1f} s, peak memory {peak:,.0f} MiB, exit {code} ({judgement}){note}"
    )


def command(
    runs: Annotated[int, typer.Option(help="make train runs on the sample (median)")] = 3,
    skip_large: Annotated[bool, typer.Option("--skip-large", help="only the sample")] = False,
    long_rows: Annotated[int, typer.Option(help="rows of the long file")] = 200_000,
) -> None:
    """Time `make train` on the sample, a long file and a wide one, against their targets."""
    raise typer.Exit(main(runs, skip_large, long_rows))


def main(runs: int, skip_large: bool, long_rows: int) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-train-") as folder:
        data = Path(folder) / "sample.csv"
        subprocess.run(
            [sys.executable, "-m", f"{PACKAGE}.data.sample", "--output", str(data)], check=True
        )
        env = os.environ | {
            "MLFLOW_TRACKING_URI": f"sqlite:///{folder}/mlflow.db",
            "MODELS_DIR": f"{folder}/models",
            "REPORTS_DIR": f"{folder}/reports",
        }
        runs = [timed_train(env, data, None) for _ in range(runs)]
        if any(code != 0 for _, _, code, _ in runs):
            print(next(out for _, _, code, out in runs if code), file=sys.stderr)
            return 1
        times = [seconds for seconds, *_ in runs]
        median, peak = statistics.median(times), max(p for _, p, _, _ in runs)
        verdict = "meets" if median <= TARGETS["sample"] else "MISSES"
        print(
            f"make train: median {median:.1f} s over {len(times)} runs on {os.cpu_count()} cores, "
            f"peak memory {peak:,.0f} MiB ({verdict} the {TARGETS['sample']:.0f} s target)"
        )
        if skip_large:
            return 0
        for name, make in (
            ("long", functools.partial(long_file, rows=long_rows)),
            ("wide", wide_file),
        ):
            path = Path(folder) / f"{name}.csv"
            seconds, peak, code, output = timed_train(env, path, make(path))
            expected = 0 if name == "long" else 2  # the wide file is refused up front
            if code != expected:
                print(output[-3000:], file=sys.stderr)
                return 1
            said = output.strip().splitlines()[-1:] or [""]  # the error is the last line
            note = "; refused: " + said[0].removeprefix("error: ")[:120] if code else ""
            full_size = name != "long" or long_rows == 200_000
            if not full_size:
                note = f": {long_rows:,} rows, the target is for 200,000"
            report(name, seconds, peak, code, note, judged=full_size)
    return 0


if __name__ == "__main__":
    typer.run(command)
