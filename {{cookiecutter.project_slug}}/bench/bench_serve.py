"""Benchmark: this service against `mlflow models serve`, on the same model and worker count.

Prints, from one run: in-process `pipeline.predict` for 1 and 100 rows (the
baseline), then p50/p99 latency and requests/s at concurrency 1 and 16 for both
services, ratios first. Load comes from wrk (Debian: apt-get install wrk) when
installed, else from a Python client, which adds its own overhead (marked).
Everything runs on 127.0.0.1, bounded in time.

    python bench/bench_serve.py [--duration 5] [--workers 1]
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.client import HTTPConnection
from pathlib import Path

PACKAGE = "{{ cookiecutter.package_name }}"
CONCURRENCY = (1, 16)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{' '.join(process.args[:4])} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout}s")


def in_process(bundle: Path) -> dict:
    sys.path.insert(0, str(Path.cwd() / "src"))
    from threadpoolctl import threadpool_limits

    from {{ cookiecutter.package_name }}.bundle import Bundle
    from {{ cookiecutter.package_name }}.serve.predictor import Predictor

    threadpool_limits(1)
    loaded = Bundle.load(bundle)
    pipeline = loaded.load_pipeline()
    frame = Predictor(loaded).frame(loaded.example)
    results = {}
    for rows in (1, 100):
        batch = frame.loc[frame.index.repeat(rows)].reset_index(drop=True)
        pipeline.predict(batch)
        timings = []
        for _ in range(30 if rows == 1 else 10):
            start = time.perf_counter()
            pipeline.predict(batch)
            timings.append(time.perf_counter() - start)
        results[rows] = statistics.median(timings) * 1000
    return results


def wrk_load(url: str, body: bytes, connections: int, duration: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body.decode())}\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script.name, url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    os.unlink(script.name)

    def latency(percent: str) -> float:
        value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)", output, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "p50": latency("50"),
        "p99": latency("99"),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "errors": int(errors.group(1)) if errors else 0,
    }


def python_load(url: str, body: bytes, connections: int, duration: int) -> dict:
    """Keep-alive HTTP clients in threads: simple, but slower than wrk (numbers marked)."""
    host, port, path = re.match(r"http://([^:]+):(\d+)(/.*)", url).groups()
    deadline = time.monotonic() + duration
    latencies, errors = [], [0]

    def client() -> None:
        connection = HTTPConnection(host, int(port), timeout=30)
        while time.monotonic() < deadline:
            start = time.perf_counter()
            connection.request("POST", path, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            latencies.append((time.perf_counter() - start) * 1000)
            errors[0] += response.status != 200

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    return {
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "rps": len(latencies) / duration,
        "errors": errors[0],
    }


def start(command: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def measure(
    name: str, command: list[str], env: dict, ready: str, url: str, body: bytes, args
) -> dict:
    process = start(command, env)
    try:
        wait_ready(ready, process)
        load = wrk_load if shutil.which("wrk") else python_load
        load(url, body, 4, 1)  # warm-up
        return {c: load(url, body, c, args.duration) for c in CONCURRENCY}
    finally:
        process.terminate()
        process.wait(timeout=30)
        print(f"measured {name}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--bundle", type=Path, default=Path("models/{{ cookiecutter.project_slug }}"))
    parser.add_argument("--skip-mlflow", action="store_true", help="measure only this service")
    args = parser.parse_args()
    if not (args.bundle / "metadata.json").is_file():
        print(f"No model bundle at {args.bundle}: run `make train` first.", file=sys.stderr)
        return 1
    metadata = json.loads((args.bundle / "metadata.json").read_text())
    example = json.loads((args.bundle / "input_example.json").read_text())[0]
    env = os.environ | {
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(Path.cwd() / "src"),
        # `mlflow models serve` starts the `uvicorn` command: find the one beside this Python.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }

    baseline = in_process(args.bundle)
    port = free_port()
    ours = measure(
        "coldstart",
        [sys.executable, "-m", f"{PACKAGE}.serve"],
        env
        | {
            "MODEL_URI": str(args.bundle),
            "PORT": str(port),
            "WORKERS": str(args.workers),
            "LOG_LEVEL": "warning",
        },
        f"http://127.0.0.1:{port}/readyz",
        f"http://127.0.0.1:{port}/predict",
        json.dumps(example).encode(),
        args,
    )
    theirs = None
    if not args.skip_mlflow:
        port = free_port()
        model_uri = f"models:/{metadata['name']}/{metadata['version']}"
        theirs = measure(
            "mlflow models serve",
            [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local",
             "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)],
            env | {"MLFLOW_TRACKING_URI": os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")},
            f"http://127.0.0.1:{port}/ping",
            f"http://127.0.0.1:{port}/invocations",
            json.dumps({"dataframe_records": [example]}).encode(),
            args,
        )  # fmt: skip
    report(metadata, baseline, ours, theirs, args)
    return 0


def report(metadata: dict, baseline: dict, ours: dict, theirs: dict | None, args) -> None:
    tool = "wrk" if shutil.which("wrk") else "Python client (higher overhead than wrk)"
    print(f"\n{metadata['name']} v{metadata['version']} ({metadata['model']}), {args.workers} worker(s), "
          f"{os.cpu_count()} cores, load: {tool}, {args.duration}s per point\n")  # fmt: skip
    print("Ratios")
    if theirs:
        for c in CONCURRENCY:
            print(
                f"  req/s at concurrency {c:>2}: {ours[c]['rps'] / theirs[c]['rps']:6.1f}x mlflow models serve"
            )
            print(
                f"  p50 at concurrency {c:>2}:    {theirs[c]['p50'] / ours[c]['p50']:6.1f}x lower than mlflow"
            )
    print(
        f"  single-row p50 / in-process pipeline.predict (1 row): {ours[1]['p50'] / baseline[1]:.2f}"
    )
    print("\nAbsolute")
    print(
        f"  in-process pipeline.predict: 1 row {baseline[1]:.2f} ms, 100 rows {baseline[100]:.2f} ms"
    )
    print(f"  {'service':<22}{'conc':>5}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'errors':>8}")
    for name, results in (("coldstart", ours), ("mlflow models serve", theirs)):
        for c, r in (results or {}).items():
            print(
                f"  {name:<22}{c:>5}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['rps']:>9.0f}{r['errors']:>8}"
            )


if __name__ == "__main__":
    sys.exit(main())
