"""Measure the image's memory and CPU under load, to size the Deployment's requests and limits.

Runs the image as the manifest does (read-only, no capabilities, one worker), sends
concurrent predictions for a few seconds, and samples the Docker engine's stats:
memory is the container's working set (usage minus reclaimable page cache), CPU is
cores used between two samples. `make k8s-measure` prints the figures.
"""

import json
import socket
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..config import PROJECT
from ..container.images import BUNDLE
from .errors import KubeError

MIB = 1024 * 1024


@dataclass
class Usage:
    idle_memory_mib: float
    peak_memory_mib: float
    peak_cpu_cores: float
    requests_served: int


def working_set(stats: dict) -> float:
    memory = stats["memory_stats"]
    cache = memory.get("stats", {}).get("inactive_file", 0)
    return (memory.get("usage", 0) - cache) / MIB


def cpu_cores(previous: dict, current: dict) -> float:
    used = current["cpu_stats"]["cpu_usage"]["total_usage"]
    used -= previous["cpu_stats"]["cpu_usage"]["total_usage"]
    system = current["cpu_stats"]["system_cpu_usage"] - previous["cpu_stats"]["system_cpu_usage"]
    online = current["cpu_stats"].get("online_cpus", 1)
    return used / system * online if system > 0 else 0.0


def sample(container, stop: threading.Event, samples: list[dict]) -> None:
    for stats in container.stats(stream=True, decode=True):
        samples.append(stats)
        if stop.is_set():
            return


def load(url: str, example: dict, seconds: float, concurrency: int) -> int:
    body = json.dumps(example).encode()
    deadline = time.monotonic() + seconds

    def worker() -> int:
        served = 0
        while time.monotonic() < deadline:
            request = urllib.request.Request(
                f"{url}/predict", body, {"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=10):
                served += 1
        return served

    with ThreadPoolExecutor(concurrency) as pool:
        return sum(pool.map(lambda _: worker(), range(concurrency)))


def measure(container, url: str, bundle: Path, seconds: float = 10, concurrency: int = 8) -> Usage:
    """Container already running and ready: sample stats while it serves a burst of predictions."""
    idle = working_set(container.stats(stream=False))
    example = json.loads((bundle / "input_example.json").read_text())[0]
    samples: list[dict] = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample, args=(container, stop, samples), daemon=True)
    sampler.start()
    served = load(url, example, seconds, concurrency)
    stop.set()
    sampler.join(timeout=5)
    cores = [cpu_cores(a, b) for a, b in zip(samples, samples[1:], strict=False)]
    return Usage(
        idle_memory_mib=idle,
        peak_memory_mib=max(working_set(s) for s in samples),
        peak_cpu_cores=max(cores, default=0.0),
        requests_served=served,
    )


def wait_ready(url: str, container, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status == "exited":
            raise KubeError(f"The container exited:\n{container.logs().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise KubeError(f"/readyz did not answer within {timeout:.0f}s")


def measure_image(image: str | None = None) -> str:
    """Run the image as the Deployment does, load it, and print what to request."""
    import docker

    client = docker.from_env()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    container = client.containers.run(
        image or f"{PROJECT}:latest",
        detach=True,
        ports={"8000/tcp": ("127.0.0.1", port)},
        user="10001:10001",
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        tmpfs={"/tmp": "size=64m"},
        environment={"WORKERS": "1", "OMP_NUM_THREADS": "1", "HOST": "0.0.0.0"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, container)
        usage = measure(container, url, BUNDLE)  # the bundle the image carries
    finally:
        container.remove(force=True)
    return (
        f"idle memory {usage.idle_memory_mib:.0f} MiB, peak {usage.peak_memory_mib:.0f} MiB; "
        f"peak CPU {usage.peak_cpu_cores:.2f} cores ({usage.requests_served} predictions).\n"
        "Size k8s/base/deployment.yaml from these: memory request above the peak, limit about "
        "twice that; CPU request what one pod needs at normal load, limit one core (one worker)."
    )
