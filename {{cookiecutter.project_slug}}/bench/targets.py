"""What bench_serve.py measures: servers it starts, stops, and asks for their memory.

bare ASGI   bench/bare_asgi.py on uvicorn: the floor of this stack, no model
coldstart   this project's service (`python -m {{ cookiecutter.package_name }}.serve`) with the
            settings the image and the deploys use (AS_DEPLOYED); variants are labelled
image       the same service inside the built image (--image)
mlflow      `mlflow models serve` on the same registered model version
peers       BentoML and LitServe on the same bundle (--peers: bench/peer_*.py, run by the
            Python of a separate virtual environment, build/bench-venv)
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from load import free_port, wait_ready

PACKAGE = "{{ cookiecutter.package_name }}"
# What the Dockerfile and k8s/ leave at their defaults: LOG_LEVEL=info (uvicorn's access log
# on), the request log and metrics on, one worker. Measured as such unless labelled otherwise.
AS_DEPLOYED = {"LOG_LEVEL": "info", "LOG_PREDICTIONS": "true", "WORKERS": "1"}


@dataclass
class Target:
    name: str
    single: tuple[str, bytes]  # url and body of a one-record request
    batch: tuple[str, bytes] | None  # the same for a batch, where the target has one
    stop: object  # () -> None
    memory_mb: object = field(default=lambda: None)  # () -> MB per worker, or None
    cold_start_s: float | None = None
    headers: dict = field(default_factory=dict)  # sent with every request (the API key)
    settings: dict = field(default_factory=dict)  # what it ran with, for the report
    pid: int | None = None
    output: Path | None = None  # where its stdout and stderr went


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker_memory_mb(pid: int) -> float | None:
    """Resident memory of one worker: the process itself, or the mean of its worker children."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        sizes = [rss_mb(int(child)) for child in children] or [rss_mb(pid)]
    except OSError:  # not Linux: no /proc to read
        return None
    return max(sizes) if len(sizes) < 2 else sum(sizes) / len(sizes)


def worker_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds used so far by each worker (the process itself, or its children)."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        found = {}
        for worker in [int(child) for child in children] or [pid]:
            fields = Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()
            found[worker] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        return found
    except OSError:  # not Linux, or a worker just replaced
        return {}


def group_alive(group: int) -> bool:
    """Whether a process of this process group still runs (a zombie, dead but not yet
    reaped by whoever adopted it, does not count)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of the group runs as another user: it runs
        return True
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: killpg's answer is all there is
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it just went
            continue
        if int(fields[2]) == group and fields[0] != "Z":  # pgrp; state
            return True
    return False


def stop_group(process: subprocess.Popen, timeout: float = 30) -> None:
    """Stop a server started in a session of its own (start_process) with every process it
    spawned: its workers (uvicorn's, LitServe's, BentoML's) are children that outlive a
    signal to the parent alone. SIGTERM to the whole group, `timeout` seconds to exit
    cleanly (the service writes its last access lines then), SIGKILL to whatever is left."""
    group = process.pid  # start_new_session: the server leads a group of its own
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)
    while group_alive(group) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    process.wait()
    # Killed children were adopted by init (or a subreaper), which reaps them: wait for it.
    deadline = time.monotonic() + 5
    while group_alive(group) and time.monotonic() < deadline:
        time.sleep(0.05)


def start_process(name, command, env, ready_url, single, batch) -> Target:
    started = time.monotonic()
    # A real file, as a container's log driver reads it: the service writes its access log.
    output = Path(tempfile.mkstemp(prefix="bench-", suffix=".log")[1])
    with output.open("w") as sink:
        # A session (and process group) of its own, so that stop() reaches every process the
        # server spawns, and a Ctrl-C meant for the benchmark reaches it through stop() alone.
        process = subprocess.Popen(
            command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop() -> None:
        stop_group(process)

    try:
        wait_ready(ready_url, lambda: process.poll() is None)
    except BaseException:  # a Ctrl-C while it starts too: it is in a session of its own
        stop()
        raise
    target = Target(name, single, batch, stop, lambda: worker_memory_mb(process.pid))
    target.cold_start_s = time.monotonic() - started
    target.pid, target.output = process.pid, output
    return target


def bare_asgi(env: dict, record: dict) -> Target:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(Path(__file__).parent),
        "bare_asgi:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--lifespan",
        "off",
    ]
    return start_process("bare ASGI", command, env, base, (base, json.dumps(record).encode()), None)


def api_key_header() -> dict:
    """The X-API-Key header, where the settings (.env or the environment) set API_KEY."""
    from {{ cookiecutter.package_name }}.serve.settings import ServeSettings

    key = ServeSettings().api_key
    return {"X-API-Key": key.get_secret_value()} if key is not None else {}


def service(
    env: dict, bundle: Path, record: dict, batch: dict, name: str = "coldstart", **settings
) -> Target:
    """The service as deployed (AS_DEPLOYED), or with `settings` changed (a labelled variant)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Your environment may change them (LOG_PREDICTIONS=false make bench: what watching
    # costs); the report prints what each target ran with.
    chosen = AS_DEPLOYED | {name: env[name] for name in AS_DEPLOYED if name in env} | settings
    # The request log into a folder of its own: benchmark rows are not traffic to monitor.
    log_dir = tempfile.mkdtemp(prefix="bench-requests-")
    started = time.monotonic()
    env = env | chosen | {"MODEL_URI": str(bundle), "PORT": str(port), "LOG_DIR": log_dir}
    target = start_process(
        name,
        [sys.executable, "-m", f"{PACKAGE}.serve"],
        env,
        f"{base}/readyz",
        (f"{base}/predict", json.dumps(record).encode()),
        (f"{base}/predict/batch", json.dumps(batch).encode()),
    )
    target.headers, target.settings = api_key_header(), chosen
    wait_for_workers(base, int(chosen["WORKERS"]))
    target.cold_start_s = time.monotonic() - started
    return target


def wait_for_workers(base: str, workers: int, timeout: float = 180) -> None:
    """/readyz answers once one worker is ready: wait until /metrics shows every worker's
    model_info, so that none is measured while it still loads."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            text = response.read().decode()
        if sum(line.startswith("model_info{") for line in text.splitlines()) >= workers:
            return
        time.sleep(0.5)
    raise TimeoutError(f"{base}: fewer than {workers} workers ready after {timeout:g} s")


def mlflow_serve(env: dict, metadata: dict, workers: int, record: dict, batch: dict) -> Target:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    model_uri = f"models:/{metadata['name']}/{metadata['version']}"
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    tracking = os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
    env = env | {"MLFLOW_TRACKING_URI": tracking}
    records = {"dataframe_records": batch["records"]}
    return start_process(
        "mlflow models serve",
        command,
        env,
        f"{base}/ping",
        (f"{base}/invocations", json.dumps({"dataframe_records": [record]}).encode()),
        (f"{base}/invocations", json.dumps(records).encode()),
    )


def image(tag: str, workers: int, record: dict, batch: dict) -> Target:
    """The built image, run as `make docker-run` runs it (read-only, 127.0.0.1 only)."""
    import docker

    client = docker.from_env()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    container = client.containers.run(
        tag,
        detach=True,
        ports={"8000/tcp": ("127.0.0.1", port)},
        read_only=True,
        tmpfs={"/tmp": "size=64m"},
        environment={"WORKERS": str(workers)},
    )

    def stop() -> None:
        container.remove(force=True)

    def memory_mb() -> float:
        stats = container.stats(stream=False)["memory_stats"]
        # The page cache (files read once) is not the service's own memory.
        cache = stats.get("stats", {}).get("inactive_file", 0)
        return (stats["usage"] - cache) / 1e6 / workers

    try:
        wait_ready(f"{base}/readyz", lambda: (container.reload(), container.status)[1] != "exited")
    except BaseException:
        stop()
        raise
    target = Target(
        "image",
        (f"{base}/predict", json.dumps(record).encode()),
        (f"{base}/predict/batch", json.dumps(batch).encode()),
        stop,
        memory_mb,
    )
    target.cold_start_s = time.monotonic() - started
    return target


def peer(name: str, command: list, python: Path, bundle: Path, record: dict, batch: dict):
    """A peer (bench/peer_*.py) run by the benchmark's own venv; `command` after the Python,
    with {port} for the port. It answers POST /predict {"records": [...]}."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    here = Path(__file__).parent
    env = {
        "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": f"{here}{os.pathsep}{Path.cwd() / 'src'}",
        "PEER_BUNDLE": str(bundle.resolve()),
        # Nothing leaves this machine: no usage tracking, no update checks.
        "BENTOML_DO_NOT_TRACK": "True",
        "BENTOML_HOME": tempfile.mkdtemp(prefix="bench-bentoml-"),
        "DO_NOT_TRACK": "1",
    }
    command = [str(python), *(part.format(port=port) for part in command)]
    ready = f"{base}/readyz" if "bentoml" in command else f"{base}/health"  # their own checks
    records = {"records": [record]}
    target = start_process(
        name,
        command,
        env,
        ready,
        (f"{base}/predict", json.dumps(records).encode()),
        (f"{base}/predict", json.dumps(batch).encode()),
    )
    return target


def peer_commands(bench: Path) -> list[tuple[str, list]]:
    """BentoML (the pipeline, the ONNX graph, and the ONNX graph tuned) and LitServe (ONNX):
    (name, the command after the Python)."""
    serve = ["-m", "bentoml", "serve", "--host", "127.0.0.1", "--port", "{port}"]
    return [
        ("BentoML pipeline", [*serve, "peer_bentoml:PipelineService"]),
        ("BentoML ONNX", [*serve, "peer_bentoml:OnnxService"]),
        ("BentoML ONNX tuned", [*serve, "peer_bentoml:TunedOnnxService"]),
        ("LitServe ONNX", [str(bench / "peer_litserve.py"), "{port}"]),
    ]
