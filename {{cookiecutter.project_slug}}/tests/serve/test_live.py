"""A real uvicorn process: start, wait for /readyz, predict, load it, fuzz it, stop it cleanly."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from ..conftest import free_port, read_json, wait_for

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
