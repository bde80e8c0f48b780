"""A real uvicorn process: start, wait for /readyz, predict, load it, fuzz it, stop it cleanly."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from ..conftest import free_port, read_json, require, wait_for

pytestmark = pytest.mark.slow


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.load(response)


def test_predict_over_http(live_service, bundle_dir):
    url, _ = live_service
    status, answer = post(f"{url}/predict", read_json(bundle_dir, "input_example.json")[0])
    assert (
        status == 200
        and answer["model_version"] == read_json(bundle_dir, "metadata.json")["version"]
    )


def test_make_predict_client(live_service):
    url, _ = live_service
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.serve.client", "--url", url],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert '"prediction"' in result.stdout


def test_concurrent_load_has_no_errors(live_service, bundle_dir):
    """16 clients for ~3 seconds, bounded in count and time; every answer must be a 200."""
    url, _ = live_service
    example = read_json(bundle_dir, "input_example.json")[0]
    deadline = time.monotonic() + 3

    def client() -> list[int]:
        statuses = []
        while time.monotonic() < deadline and len(statuses) < 2000:
            statuses.append(post(f"{url}/predict", example)[0])
        return statuses

    with ThreadPoolExecutor(16) as pool:
        statuses = [s for result in pool.map(lambda _: client(), range(16)) for s in result]
    assert len(statuses) > 50
    assert set(statuses) == {200}


def test_fuzzed_requests_never_cause_a_server_error(live_service):
    """schemathesis generates requests from the live /openapi.json; none may get a 5xx."""
    url, _ = live_service
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/predict", "/predict/batch", "/readyz"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def no_server_error(case):
            case.call_and_validate(checks=[not_a_server_error])

        no_server_error()


def test_sigterm_stops_the_service_cleanly(bundle_dir):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.serve"],
        env=os.environ | {"MODEL_URI": str(bundle_dir), "PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/readyz", timeout=60, process=process)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
    output = process.stdout.read()
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status reports it.
    assert code in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    metadata = read_json(bundle_dir, "metadata.json")
    assert f"Serving {metadata['name']} v{metadata['version']} from {bundle_dir}" in output


def worker_pids(parent: int) -> set[int]:
    """uvicorn's worker processes: the parent's children started by multiprocessing's spawn."""
    found = set()
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"spawn_main" in cmdline:
            found.add(int(child))
    return found


def model_info_pids(url: str) -> set[int]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        int(re.search(r'pid="(\d+)"', line).group(1))
        for line in text.splitlines()
        if line.startswith("model_info{")
    }


def eventually(check, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.5)


def test_several_workers_forget_a_dead_one_and_clean_up(bundle_dir, tmp_path):
    require(Path("/proc/self/task").is_dir(), "this test reads /proc (Linux)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.serve"],
        env=os.environ
        | {
            "MODEL_URI": str(bundle_dir),
            "PORT": str(port),
            "WORKERS": "2",
            "TMPDIR": str(tmp_path),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(f"{url}/readyz", timeout=90, process=process)
        eventually(lambda: len(worker_pids(process.pid)) == 2)
        eventually(lambda: model_info_pids(url) == worker_pids(process.pid))
        assert len(list(tmp_path.glob("prometheus-*"))) == 1
        killed = min(worker_pids(process.pid))
        os.kill(killed, signal.SIGKILL)  # no shutdown code runs in the worker
        # uvicorn starts a new worker; the dead one's model_info series must go.
        eventually(
            lambda: killed not in worker_pids(process.pid) and len(worker_pids(process.pid)) == 2
        )
        eventually(lambda: model_info_pids(url) == worker_pids(process.pid))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert list(tmp_path.glob("prometheus-*")) == []
