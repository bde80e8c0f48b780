"""bench/targets.py: a server the benchmark starts is stopped with every process it spawned.

LitServe, BentoML, `mlflow models serve` and uvicorn with WORKERS > 1 serve from child
processes; a signal to the parent alone left them running after `make bench-peers`. A fake
server here spawns a child the same way: after stop(), neither may run.
"""

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import require

pytestmark = pytest.mark.same_for_every_model

BENCH = Path(__file__).parents[1] / "bench"
# A server that spawns a worker (a child that outlives a signal to its parent alone),
# writes the worker's pid to argv[2], then answers 200 on 127.0.0.1:argv[1]. With argv[3]
# "stubborn", both ignore SIGTERM, as a stuck server would.
FAKE_SERVER = """
import http.server, signal, subprocess, sys

stubborn = sys.argv[3] == "stubborn"
ignore = "signal.signal(signal.SIGTERM, signal.SIG_IGN); " if stubborn else ""
worker = subprocess.Popen([sys.executable, "-c", f"import signal, time; {ignore}time.sleep(600)"])
with open(sys.argv[2], "w") as written:
    written.write(str(worker.pid))
if stubborn:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Ready).serve_forever()
"""


@pytest.fixture
def targets(monkeypatch):
    require(Path("/proc/self/stat").is_file(), "this test reads /proc (Linux)")
    monkeypatch.syspath_prepend(str(BENCH))  # targets.py imports its neighbour load.py
    spec = importlib.util.spec_from_file_location("bench_targets", BENCH / "targets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def running(pid: int) -> bool:
    """Whether the process runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def worker_of(pid_file: Path, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while not (pid_file.is_file() and pid_file.read_text()):
        assert time.monotonic() < deadline, "the fake server never wrote its worker's pid"
        time.sleep(0.02)
    return int(pid_file.read_text())


def kill(*pids: int) -> None:
    """What a failed test left running: gone before the next test."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def fake_server(tmp_path: Path, port: int, kind: str) -> list[str]:
    script = tmp_path / "server.py"
    script.write_text(FAKE_SERVER)
    return [sys.executable, str(script), str(port), str(tmp_path / "worker.pid"), kind]


def test_stop_ends_the_server_and_the_worker_it_spawned(targets, tmp_path):
    port = targets.free_port()
    base = f"http://127.0.0.1:{port}"
    command = fake_server(tmp_path, port, "plain")
    target = targets.start_process("fake", command, os.environ, base, (base, b"{}"), None)
    worker = worker_of(tmp_path / "worker.pid")
    try:
        assert running(target.pid) and running(worker)
        target.stop()
        assert not running(target.pid)
        assert not running(worker), "the server's worker outlived stop()"
    finally:
        kill(target.pid, worker)
        target.output.unlink()  # the server's output, in the temporary folder


def test_a_server_that_ignores_sigterm_is_killed_with_its_worker(targets, tmp_path):
    port = targets.free_port()
    command = fake_server(tmp_path, port, "stubborn")
    # As start_process starts it: a session, and so a process group, of its own.
    process = subprocess.Popen(command, start_new_session=True)
    try:
        targets.wait_ready(f"http://127.0.0.1:{port}", lambda: process.poll() is None)
        worker = worker_of(tmp_path / "worker.pid")
        started = time.monotonic()
        targets.stop_group(process, timeout=1)
        assert time.monotonic() - started < 10  # SIGKILL after the timeout, no longer wait
        assert process.returncode == -signal.SIGKILL
        assert not running(worker), "the stubborn worker outlived stop_group()"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
