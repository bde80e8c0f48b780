"""A real uvicorn process: start, wait for /readyz, predict, load it, fuzz it, stop it cleanly."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from ..conftest import free_port, read_json, require, stop, wait_for
from .conftest import service

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


SERVICE_KEY = "the-service-key-3c9d2e71"


@pytest.fixture(scope="module")
def keyed_service(bundle_dir):
    """The real uvicorn with an API_KEY, as a deployed release runs."""
    with service(bundle_dir, API_KEY=SERVICE_KEY) as url:
        yield url


@pytest.mark.parametrize(
    "sent, said",
    [
        ("", "none was sent: set API_KEY in .env"),
        ("another-key-0123456789", "is not the one it runs with"),
        (SERVICE_KEY, None),
    ],
    ids=["no key", "another key", "its key"],
)
@pytest.mark.same_for_every_model
def test_make_predict_says_which_key_a_401_wants(keyed_service, tmp_path, sent, said):
    """A 401 says what to set: no key sent, or not the service's (one API_KEY everywhere)."""
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.serve.client", "--url", keyed_service],
        env=os.environ | {"API_KEY": sent},
        cwd=tmp_path,  # no .env here: the key is `sent`
        capture_output=True,
        text=True,
        timeout=30,
    )
    if said is None:
        assert result.returncode == 0 and '"prediction"' in result.stdout, result.stderr
        return
    assert result.returncode == 1 and "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert message.startswith("error: The service answered 401") and said in message
    assert SERVICE_KEY not in message and (not sent or sent not in message)


def test_concurrent_load_has_no_errors(live_service, bundle_dir):
    """16 clients for ~3 seconds, bounded in count and time; every answer must be a 200."""
    url, _ = live_service
    example = read_json(bundle_dir, "input_example.json")[0]
    deadline = time.monotonic() + 3

    def client() -> list[int]:
        statuses: list[int] = []
        while time.monotonic() < deadline and len(statuses) < 2000:
            statuses.append(post(f"{url}/predict", example)[0])
        return statuses

    with ThreadPoolExecutor(16) as pool:
        statuses = [s for result in pool.map(lambda _: client(), range(16)) for s in result]
    assert len(statuses) > 50
    assert set(statuses) == {200}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzzed_requests_get_the_answers_the_schema_promises(live_service, mode):
    """schemathesis generates requests from the live /openapi.json, valid ones and ones that
    break it, and runs all its checks: no 5xx, valid data accepted, invalid data refused,
    answers (their content types and status codes too) as documented."""
    url, _ = live_service
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/predict", "/predict/batch", "/readyz", "/metrics"}
    if mode == GenerationMode.NEGATIVE:  # a GET without parameters cannot be sent wrong
        operations = [op for op in operations if op.method.upper() == "POST"]
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def as_documented(case):
            case.call_and_validate()

        as_documented()


@pytest.mark.same_for_every_model
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
    pids = set()
    for line in text.splitlines():
        if line.startswith("model_info{"):
            pid = re.search(r'pid="(\d+)"', line)
            assert pid is not None, line
            pids.add(int(pid.group(1)))
    return pids


def eventually(check, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.5)


@pytest.mark.same_for_every_model
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


# Short limits, so that waiting for them stays quick (keep-alive shorter than the header
# deadline, so that each test sees the limit it is about).
STRICT = {
    "HEADER_TIMEOUT_S": "2",
    "BODY_TIMEOUT_S": "1",
    "KEEP_ALIVE_TIMEOUT_S": "0.5",
    "LIMIT_CONCURRENCY": "4",
}


@pytest.fixture(scope="module")
def strict_service(bundle_dir):
    """The real uvicorn with short header, body and keep-alive deadlines, 4 connections at most."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.serve"],
        env=os.environ | {"MODEL_URI": str(bundle_dir), "PORT": str(port)} | STRICT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/readyz", timeout=60, process=process)
        yield port
    finally:
        stop(process)


def answer_and_close(port: int, sent: bytes) -> bytes:
    """What the service sends back until it closes the connection (within 15 s, or fail)."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as connection:
        connection.sendall(sent)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except TimeoutError:
            pytest.fail(f"the connection was still open after 15 s; received {received!r}")
    return received


def request_head(content_type: str, length: int, path: str = "/predict") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


@pytest.mark.same_for_every_model
def test_a_connection_that_sends_nothing_is_closed(strict_service):
    assert answer_and_close(strict_service, b"") == b""


@pytest.mark.same_for_every_model
def test_headers_that_never_end_get_a_408_and_the_connection_closed(strict_service):
    answer = answer_and_close(strict_service, b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nCont")
    assert answer.startswith(b"HTTP/1.1 408 ") and b"HEADER_TIMEOUT_S" in answer


@pytest.mark.same_for_every_model
def test_headers_larger_than_64_kib_get_a_431_and_the_connection_closed(strict_service):
    """uvicorn with httptools sets no limit: all of them would be held in memory."""
    padding = b"X-Padding: " + b"a" * 1000 + b"\r\n"
    answer = answer_and_close(strict_service, b"GET /livez HTTP/1.1\r\n" + padding * 70)
    assert answer.startswith(b"HTTP/1.1 431 ")


@pytest.mark.parametrize("size", [66 * 1024, 70_000], ids=["just-over", "one-long-header"])
@pytest.mark.same_for_every_model
def test_whole_headers_just_over_64_kib_in_one_write_get_a_431(strict_service, size):
    """The write that completes the headers counts too (it once went unchecked: ~128 KiB)."""
    header = b"X-Padding: " + b"a" * size + b"\r\n"
    answer = answer_and_close(strict_service, b"GET /livez HTTP/1.1\r\n" + header + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 ")


@pytest.mark.same_for_every_model
def test_a_large_body_in_the_same_write_as_small_headers_is_no_431(strict_service):
    body = b"[" + b" " * 100_000 + b"]"
    answer = answer_and_close(strict_service, request_head("application/json", len(body)) + body)
    assert not answer.startswith(b"HTTP/1.1 431 ") and answer.startswith(b"HTTP/1.1 4")


@pytest.mark.parametrize("content_type", ["application/json", "application/problem+json"])
@pytest.mark.same_for_every_model
def test_a_body_shorter_than_its_length_gets_a_408_in_both_lanes(
    strict_service, bundle_dir, content_type
):
    """application/json takes the fast lane, another JSON type the usual one: one answer."""
    body = json.dumps(read_json(bundle_dir, "input_example.json")[0]).encode()
    answer = answer_and_close(strict_service, request_head(content_type, len(body)) + body[:10])
    head, _, detail = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and b"connection: close" in head.lower()
    assert json.loads(detail) == {
        "detail": "The request body did not arrive within 1 s (BODY_TIMEOUT_S). Send it whole."
    }


@pytest.mark.same_for_every_model
def test_an_idle_keep_alive_connection_is_closed_before_the_header_deadline(strict_service):
    with socket.create_connection(("127.0.0.1", strict_service), timeout=15) as connection:
        connection.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answered, started = b"", time.monotonic()
        while chunk := connection.recv(65536):
            answered += chunk
        closed_after = time.monotonic() - started
    assert answered.startswith(b"HTTP/1.1 200 ") and b'"alive"' in answered
    # KEEP_ALIVE_TIMEOUT_S (0.5 s) closed it, not HEADER_TIMEOUT_S (2 s).
    assert closed_after < 1.8


@pytest.mark.same_for_every_model
def test_a_413_from_content_length_comes_at_once_and_says_it_closes(strict_service):
    """Before any of the 50 MB it announced is sent: the answer, then the end of it."""
    answer = answer_and_close(strict_service, request_head("application/json", 50_000_000))
    assert answer.startswith(b"HTTP/1.1 413 ") and b"connection: close" in answer.lower()


@pytest.mark.same_for_every_model
def test_a_413_from_content_length_hangs_up_rather_than_read_the_body(strict_service):
    """A client that streams its 50 MB at once: the service stops reading and closes."""
    announced, sent = 50_000_000, 0
    with socket.create_connection(("127.0.0.1", strict_service), timeout=15) as connection:
        connection.sendall(request_head("application/json", announced, "/predict/batch"))
        try:
            while sent < announced:
                connection.sendall(b"x" * 65536)
                sent += 65536
        except TimeoutError:  # still open, only not reading: not what is promised
            pytest.fail(f"the connection stalled open after {sent} bytes")
        except OSError:  # broken pipe, or reset: the service hung up
            pass
    assert sent < announced


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.same_for_every_model
def test_beyond_limit_concurrency_the_service_answers_503(strict_service):
    url = f"http://127.0.0.1:{strict_service}/livez"
    held = [socket.create_connection(("127.0.0.1", strict_service)) for _ in range(4)]
    try:
        assert status_of(url) == 503
    finally:
        for connection in held:
            connection.close()
    eventually(lambda: status_of(url) == 200, timeout=10)
