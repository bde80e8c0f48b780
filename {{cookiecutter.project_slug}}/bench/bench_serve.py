"""Benchmark: this service against its own stack's floor and the servers a user would pick.

Measured side by side, in alternating rounds (each round visits every server in a
rotated order, so a noisy neighbour hits them all alike); medians are reported:

  floor      the bare ASGI app (bench/bare_asgi.py: parse JSON, answer JSON) on uvicorn,
             plus one in-process prediction: 1 / (bare request + Predictor, one row)
  coldstart  this service as deployed (targets.AS_DEPLOYED: the image's and k8s/'s
             defaults, LOG_LEVEL=info with the access log, request log and metrics on, one
             worker): POST /predict at 1 and 16 connections, /predict/batch (100 rows)
  variants   labelled: "tuned" (LOG_LEVEL=warning: no access log), WORKERS=2 (16 connections)
  mlflow     `mlflow models serve` on the same registered model version, same requests
  peers      with --peers: BentoML (pipeline, ONNX, ONNX tuned) and LitServe (ONNX) on the
             same bundle, run by --peers-python (a separate venv: `make bench-peers`)
  image      with --image TAG: the service inside the built image (cold start, memory)

Every target's answers are checked equal to ours before anything is timed. Also:
Predictor's cost per row against onnxruntime's `run` alone, cold start to /readyz,
memory per worker, how the 2 workers shared the load (CPU seconds each), and that the
access log has a line for every request counted. Prints a summary and writes
reports/bench.json. Load comes from wrk (Debian: apt-get install wrk); without it a
Python client is used and the report says so. Everything runs on 127.0.0.1, bounded in time.

    python bench/bench_serve.py [--duration 5] [--rounds 3] [--quick] [--image TAG] [--peers]
"""

import json
import os
import signal
import statistics
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated

import targets
import typer
from answers import check_answers
from load import WRK_MISSING, has_wrk, load
from report import print_report, summarize

BATCH_ROWS = 100
BATCH_CONNECTIONS = 4
TUNED = "coldstart tuned (LOG_LEVEL=warning)"
TWO_WORKERS = "coldstart WORKERS=2"
PROJECT = "{{ cookiecutter.project_slug }}"
DEFAULT_BUNDLE = Path("models") / PROJECT
IMAGE = f"e.g. {PROJECT}:latest"


def in_process(bundle: Path, quick: bool) -> dict:
    """Predictor on one and 100 rows, against onnxruntime's `run` alone on the same inputs."""
    from {{ cookiecutter.package_name }}.contract.bundle import Bundle
    from {{ cookiecutter.package_name }}.contract.onnx_inputs import as_rows
    from {{ cookiecutter.package_name }}.serve.predictor import Predictor

    predictor = Predictor(Bundle.load(bundle))
    row = as_rows(predictor.schema, predictor.example)
    results = {"mode": predictor.mode}
    for rows in (1, BATCH_ROWS):
        batch = row * rows
        calls = {
            f"predictor_{rows}_us": partial(predictor.predict_rows, batch),
        }
        if predictor.onnx is not None:
            scorer, feed = predictor.onnx, predictor.onnx.feed(batch)
            calls[f"onnxruntime_run_{rows}_us"] = partial(scorer.session.run, scorer.outputs, feed)
        repeat = (100 if rows == 1 else 10) if quick else (500 if rows == 1 else 50)
        results |= best_times(calls, repeat)
    return results


def best_times(calls: dict, repeat: int, rounds: int = 15) -> dict:
    """Microseconds per call of each, the best of `rounds` interleaved runs of `repeat` calls:
    interleaving and the minimum keep a noisy neighbour from favouring one of them."""
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            for _ in range(repeat):
                call()
            best[name] = min(best[name], (time.perf_counter() - started) / repeat * 1e6)
    return best


def points_of(target) -> dict:
    """Which requests to send to a target: name -> (url, body, connections)."""
    points = {f"predict_c{c}": (*target.single, c) for c in (1, 16)}
    if target.batch is not None:
        points["batch_100"] = (*target.batch, BATCH_CONNECTIONS)
    if target.name == TWO_WORKERS:  # the point it is there for: is the second core used?
        points = {"predict_c16": points["predict_c16"]}
    return points


def run_rounds(servers: list, args) -> tuple[dict, dict]:
    """The measurements, and the CPU seconds each worker of each server used meanwhile."""
    measured = {server.name: {} for server in servers}
    for server in servers:  # warm-up: first requests, caches, lazy imports
        for url, body, _ in points_of(server).values():
            load(url, body, 4, 1, server.headers)
    before = {server.name: targets.worker_cpu_s(server.pid) for server in servers if server.pid}
    for round_number in range(args.rounds):
        shift = round_number % len(servers)
        for server in servers[shift:] + servers[:shift]:
            for point, (url, body, connections) in points_of(server).items():
                result = load(url, body, connections, args.duration, server.headers)
                measured[server.name].setdefault(point, []).append(result)
        print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
    cpu = {}
    for server in servers:
        if server.pid:
            after = targets.worker_cpu_s(server.pid)
            start = before.get(server.name, {})
            cpu[server.name] = {pid: after[pid] - start.get(pid, 0) for pid in after}
    return measured, cpu


def start_servers(args, metadata: dict, record: dict) -> list:
    batch = {"records": [record] * BATCH_ROWS}
    env = os.environ | {
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(Path.cwd() / "src"),
        # `mlflow models serve` starts the `uvicorn` command: find the one beside this Python.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    servers = [targets.bare_asgi(env, record)]
    try:
        servers.append(targets.service(env, args.bundle, record, batch))
        # Labelled variants: what the defaults cost, and what a second worker adds.
        servers.append(targets.service(env, args.bundle, record, batch, TUNED, LOG_LEVEL="warning"))
        servers.append(targets.service(env, args.bundle, record, batch, TWO_WORKERS, WORKERS="2"))
        if args.image:
            servers.append(targets.image(args.image, args.workers, record, batch))
        if not args.skip_mlflow:
            servers.append(targets.mlflow_serve(env, metadata, args.workers, record, batch))
        if args.peers:
            for name, command in targets.peer_commands(Path(__file__).parent):
                servers.append(
                    targets.peer(name, command, args.peers_python, args.bundle, record, batch)
                )
    except BaseException:  # a Ctrl-C too: the servers run in sessions of their own
        for server in servers:
            server.stop()
        raise
    return servers


def requests_counted(server) -> float | None:
    """What the service's /metrics counted: every request, every worker."""
    import urllib.request

    base = server.single[0].rsplit("/", 1)[0]
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            text = response.read().decode()
    except OSError:
        return None
    lines = [line for line in text.splitlines() if line.startswith("http_requests_total{")]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


def access_lines(server) -> int:
    """Lines the service's access log wrote (read after it stopped, so all are there)."""
    with server.output.open(errors="replace") as written:
        return sum(" uvicorn.access: " in line for line in written)


@dataclass(frozen=True)
class Options:
    """What `make bench` asked for (the command line below, typed)."""

    duration: float
    rounds: int
    workers: int
    bundle: Path
    image: str | None
    skip_mlflow: bool
    peers: bool
    peers_python: Path
    output: Path
    quick: bool


def command(
    duration: Annotated[float, typer.Option(help="seconds per measurement")] = 5,
    rounds: Annotated[int, typer.Option(help="alternating rounds (medians)")] = 3,
    quick: Annotated[bool, typer.Option("--quick", help="1 s per point, one round")] = False,
    workers: Annotated[int, typer.Option(help="workers of the image and mlflow")] = 1,
    bundle: Annotated[Path, typer.Option(help="the model bundle to serve")] = DEFAULT_BUNDLE,
    image: Annotated[str | None, typer.Option(help=f"also measure this image ({IMAGE})")] = None,
    skip_mlflow: Annotated[
        bool, typer.Option("--skip-mlflow", help="leave out mlflow models serve")
    ] = False,
    peers: Annotated[bool, typer.Option("--peers", help="also BentoML and LitServe")] = False,
    peers_python: Annotated[
        Path, typer.Option(help="the venv Python with bentoml and litserve (make bench-peers)")
    ] = Path("build/bench-venv/bin/python"),
    output: Annotated[Path, typer.Option(help="where the JSON report goes")] = Path(
        "reports/bench.json"
    ),
) -> None:
    """Benchmark the service against its stack's floor and the servers a user would pick."""
    if quick:
        duration, rounds = 1, 1
    options = Options(
        duration, rounds, workers, bundle, image, skip_mlflow, peers, peers_python, output, quick
    )
    raise typer.Exit(main(options))


def main(args: Options) -> int:
    # Stopped (a timeout, a CI runner): stop the servers too, as after a Ctrl-C. Each runs in a
    # session of its own (targets.start_process), so no signal to this one reaches them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    sys.path.insert(0, str(Path.cwd() / "src"))  # this project's package, as `make` runs it
    if not (args.bundle / "metadata.json").is_file():
        print(f"No model bundle at {args.bundle}: run `make train` first.", file=sys.stderr)
        return 1
    if not has_wrk():
        print(f"NOTE: {WRK_MISSING}", file=sys.stderr)
    metadata = json.loads((args.bundle / "metadata.json").read_text())
    record = json.loads((args.bundle / "input_example.json").read_text())[0]
    load_before = os.getloadavg()
    if args.peers and not args.peers_python.is_file():
        print(f"No {args.peers_python}: run `make bench-peers`, which makes it.", file=sys.stderr)
        return 1
    servers = start_servers(args, metadata, record)
    try:
        checked = check_answers(servers)
        measured, cpu = run_rounds(servers, args)
        memory = {server.name: server.memory_mb() for server in servers}
        counted = requests_counted(servers[1])
    finally:
        for server in servers:
            server.stop()
    logged = {"requests_counted": counted, "access_lines": access_lines(servers[1])}
    samples = [in_process(args.bundle, args.quick) for _ in range(args.rounds)]
    local = {key: statistics.median(s[key] for s in samples) for key in samples[0] if key != "mode"}
    local["mode"] = samples[0]["mode"]
    report = summarize(args, metadata, servers, measured, memory, local)
    report |= {"answers_checked": checked, "worker_cpu_s": cpu, "access_log": logged}
    report["machine"] |= {"load_average_before": load_before, "load_average_after": os.getloadavg()}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    print(f"\nWrote {args.output}")
    return 0


if __name__ == "__main__":
    typer.run(command)
