"""What bench_serve.py measures: servers it starts, stops, and asks for their memory.

bare ASGI   bench/bare_asgi.py on uvicorn: the floor of this stack, no model
coldstart   this project's service (`python -m {{ cookiecutter.package_name }}.serve`)
image       the same service inside the built image (--image)
mlflow      `mlflow models serve` on the same registered model version
"""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from load import free_port, wait_ready

PACKAGE = "{{ cookiecutter.package_name }}"


@dataclass
class Target:
    name: str
    single: tuple[str, bytes]  # url and body of a one-record request
    batch: tuple[str, bytes] | None  # the same for a batch, where the target has one
    stop: object  # () -> None
    memory_mb: object = field(default=lambda: None)  # () -> MB per worker, or None
    cold_start_s: float | None = None
    headers: dict = field(default_factory=dict)  # sent with every request (the API key)


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


def start_process(name, command, env, ready_url, single, batch) -> Target:
    started = time.monotonic()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()

    try:
        wait_ready(ready_url, lambda: process.poll() is None)
    except Exception:
        stop()
        raise
    target = Target(name, single, batch, stop, lambda: worker_memory_mb(process.pid))
    target.cold_start_s = time.monotonic() - started
    return target


def bare_asgi(env: dict, record: dict) -> Target:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).parent), "bare_asgi:app",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
        "--lifespan", "off",
    ]  # fmt: skip
    return start_process("bare ASGI", command, env, base, (base, json.dumps(record).encode()), None)


def api_key_header() -> dict:
    """The X-API-Key header, where the settings (.env or the environment) set API_KEY."""
    from {{ cookiecutter.package_name }}.serve.settings import ServeSettings

    key = ServeSettings().api_key
    return {"X-API-Key": key.get_secret_value()} if key is not None else {}


def service(env: dict, bundle: Path, workers: int, record: dict, batch: dict) -> Target:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = env | {
        "MODEL_URI": str(bundle),
        "PORT": str(port),
        "WORKERS": str(workers),
        "LOG_LEVEL": "warning",
    }
    target = start_process(
        "coldstart", [sys.executable, "-m", f"{PACKAGE}.serve"], env, f"{base}/readyz",
        (f"{base}/predict", json.dumps(record).encode()),
        (f"{base}/predict/batch", json.dumps(batch).encode()),
    )  # fmt: skip
    target.headers = api_key_header()
    return target


def mlflow_serve(env: dict, metadata: dict, workers: int, record: dict, batch: dict) -> Target:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    model_uri = f"models:/{metadata['name']}/{metadata['version']}"
    command = [
        sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager",
        "local", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    tracking = os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
    env = env | {"MLFLOW_TRACKING_URI": tracking}
    records = {"dataframe_records": batch["records"]}
    return start_process(
        "mlflow models serve", command, env, f"{base}/ping",
        (f"{base}/invocations", json.dumps({"dataframe_records": [record]}).encode()),
        (f"{base}/invocations", json.dumps(records).encode()),
    )  # fmt: skip


def image(tag: str, workers: int, record: dict, batch: dict) -> Target:
    """The built image, run as `make docker-run` runs it (read-only, 127.0.0.1 only)."""
    import docker

    client = docker.from_env()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    container = client.containers.run(
        tag, detach=True, ports={"8000/tcp": ("127.0.0.1", port)}, read_only=True,
        tmpfs={"/tmp": "size=64m"}, environment={"WORKERS": str(workers), "LOG_LEVEL": "warning"},
    )  # fmt: skip

    def stop() -> None:
        container.remove(force=True)

    def memory_mb() -> float:
        stats = container.stats(stream=False)["memory_stats"]
        # The page cache (files read once) is not the service's own memory.
        cache = stats.get("stats", {}).get("inactive_file", 0)
        return (stats["usage"] - cache) / 1e6 / workers

    try:
        wait_ready(f"{base}/readyz", lambda: (container.reload(), container.status)[1] != "exited")
    except Exception:
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
