"""Load generators for bench_serve.py: wrk when installed, else a Python client (slower).

Each returns {"rps", "p50", "p99" (ms), "requests", "errors"} for `connections`
keep-alive connections sending the same POST body (and headers) for `duration` seconds.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.client import HTTPConnection

WRK_MISSING = (
    "wrk is not installed: using a Python client, which needs CPU of its own on this "
    "machine, so every figure is a lower bound. Install wrk (Debian/Ubuntu: apt-get install "
    "wrk; macOS: brew install wrk) for the real numbers."
)


def has_wrk() -> bool:
    return shutil.which("wrk") is not None


def load(url: str, body: bytes, connections: int, duration: float, headers: dict) -> dict:
    headers = {"Content-Type": "application/json"} | headers
    if has_wrk():
        return wrk_load(url, body, connections, duration, headers)
    return python_load(url, body, connections, duration, headers)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, alive, timeout: float = 180) -> float:
    """Poll `url` every 20 ms until it answers 200; seconds waited. `alive()` False: give up."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not alive():
            raise RuntimeError(f"the server for {url} exited before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s")


def wrk_load(url: str, body: bytes, connections: int, duration: float, headers: dict) -> dict:
    # A script, readable by this user only, rather than arguments: an API key stays off
    # the command line.
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body.decode())}\n')
        for name, value in headers.items():
            script.write(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}\n")
    try:
        output = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)

    def latency(percent: str) -> float:
        value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)", output, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": latency("50"),
        "p99": latency("99"),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "errors": (int(errors.group(1)) if errors else 0)
        + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
    }


def python_load(url: str, body: bytes, connections: int, duration: float, headers: dict) -> dict:
    """Keep-alive HTTP clients in threads: simple, but far slower than wrk (see WRK_MISSING)."""
    # The bare ASGI floor is asked at its root: a URL with no path means "/".
    host, port, path = re.match(r"http://([^:/]+):(\d+)(/.*)?$", url).groups()
    path = path or "/"
    deadline = time.monotonic() + duration
    latencies, errors = [], [0]

    def client() -> None:
        connection = HTTPConnection(host, int(port), timeout=30)
        while time.monotonic() < deadline:
            start = time.perf_counter()
            connection.request("POST", path, body, headers)
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
        "rps": len(latencies) / duration,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "requests": len(latencies),
        "errors": errors[0],
    }
