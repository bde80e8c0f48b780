"""Logging on a real uvicorn process: what the service says at each LOG_LEVEL, its access log
(one complete line per request, none lost at shutdown), and two workers counted as one."""

import json
import logging
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from {{ cookiecutter.package_name }}.serve.internals import access_log

from ..conftest import free_port, read_json, stop, wait_for

pytestmark = pytest.mark.slow

ACCESS_LINE = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} INFO uvicorn\.access: 127\.0\.0\.1:\d+ - "
    r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/1\.1" (?P<status>\d{3})'
)
PACKAGE = access_log.__name__.split(".")[0]
STRONG_KEY = "k3y-Th4t-Is-L0ng-En0ugh-" + "x" * 8


@contextmanager
def service(bundle_dir: Path, folder: Path, **env: str):
    """`python -m <package>.serve` with its stdout and stderr in files; stopped (SIGTERM) at
    the end of the block, so the files are whole when it returns."""
    port = free_port()
    out, err = folder / "stdout.txt", folder / "stderr.txt"
    environment = {k: v for k, v in os.environ.items() if k not in ("LOG_LEVEL", "API_KEY")}
    environment |= {"MODEL_URI": str(bundle_dir), "PORT": str(port)} | env
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "{{ cookiecutter.package_name }}.serve"],
            env=environment,
            stdout=stdout,
            stderr=stderr,
        )
        try:
            wait_for(f"http://127.0.0.1:{port}/readyz", timeout=90, process=process)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(process)


def status_of(url: str, body: dict | None = None, key: str | None = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} | ({"X-API-Key": key} if key else {})
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=10):
            return 200
    except urllib.error.HTTPError as error:
        return error.code


def mode_of(url: str) -> str:
    """How the service says it predicts (/readyz): onnx:pipeline, onnx:preprocessing, sklearn."""
    with urllib.request.urlopen(f"{url}/readyz", timeout=10) as response:
        return json.load(response)["mode"]


def test_the_service_says_what_it_serves_and_why_at_the_default_level(bundle_dir, tmp_path):
    with service(bundle_dir, tmp_path) as url:
        mode = mode_of(url)
    said = (tmp_path / "stderr.txt").read_text()
    metadata = read_json(bundle_dir, "metadata.json")
    serving = re.search(
        rf" INFO {PACKAGE}\.serve\.app: Serving {re.escape(metadata['name'])} "
        rf"v{metadata['version']} \({re.escape(mode)}: (?P<why>[^)]+)\) from {re.escape(str(bundle_dir))}",
        said,
    )
    assert serving, said
    if mode.startswith("onnx"):  # the usual case: the graph was checked where it loaded
        assert serving["why"] == "the ONNX graph agrees with scikit-learn on the input example"
    assert " DEBUG " not in said


@pytest.mark.same_for_every_model
def test_log_level_debug_shows_the_settings_but_never_the_api_key(bundle_dir, tmp_path):
    example = read_json(bundle_dir, "input_example.json")[0]
    with service(bundle_dir, tmp_path, LOG_LEVEL="debug", API_KEY=STRONG_KEY) as url:
        assert status_of(f"{url}/predict", example, STRONG_KEY) == 200
    said = (tmp_path / "stderr.txt").read_text()
    assert re.search(r" DEBUG \S+serve\.main: Settings: .*'log_level': 'debug'", said)
    assert f" DEBUG {PACKAGE}.serve.predictor: ONNX (pipeline) and scikit-learn agree" in said
    assert (
        f" DEBUG {PACKAGE}.serve.internals.request_log: Request log: 1 rows came, 1 logged" in said
    )
    assert STRONG_KEY not in said + (tmp_path / "stdout.txt").read_text()


@pytest.mark.same_for_every_model
def test_log_level_warning_says_no_info_and_writes_no_access_lines(bundle_dir, tmp_path):
    example = read_json(bundle_dir, "input_example.json")[0]
    with service(bundle_dir, tmp_path, LOG_LEVEL="warning") as url:
        assert status_of(f"{url}/predict", example) == 200
    assert " INFO " not in (tmp_path / "stderr.txt").read_text()
    assert (tmp_path / "stdout.txt").read_text().count("uvicorn.access") == 0


@pytest.mark.same_for_every_model
def test_every_request_gets_one_complete_access_line_even_the_last_before_shutdown(
    bundle_dir, tmp_path
):
    """16 clients, three kinds of answer; the service is stopped right after the last one:
    every line is there, whole and readable, with its status."""
    example = read_json(bundle_dir, "input_example.json")[0]
    kinds = [("/predict", example, 200), ("/predict", {"nope": 1}, 422), ("/nowhere", None, 404)]
    with service(bundle_dir, tmp_path) as url, ThreadPoolExecutor(16) as pool:
        statuses = list(
            pool.map(lambda i: status_of(url + kinds[i % 3][0], kinds[i % 3][1]), range(600))
        )
    assert statuses == [kinds[i % 3][2] for i in range(600)]
    lines = (tmp_path / "stdout.txt").read_text().splitlines()
    assert all(ACCESS_LINE.fullmatch(line) for line in lines), lines[:3]
    found = Counter(
        (m["path"], int(m["status"]))
        for m in map(ACCESS_LINE.fullmatch, lines)
        if m["path"] != "/readyz"
    )
    assert found == {("/predict", 200): 200, ("/predict", 422): 200, ("/nowhere", 404): 200}


def metric(text: str, name: str) -> float:
    """The sum of every series of `name` whose line ends the sample (labels as given)."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def metrics_of(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        return response.read().decode()


@pytest.mark.same_for_every_model
def test_two_workers_both_serve_and_the_metrics_add_up(bundle_dir, tmp_path):
    example = read_json(bundle_dir, "input_example.json")[0]
    folder = tmp_path / "requests"
    env = {"WORKERS": "2", "TMPDIR": str(tmp_path), "LOG_DIR": str(folder)}
    with service(bundle_dir, tmp_path, **env) as url:
        # /readyz answers once one worker is ready: wait for the second one's model_info.
        deadline = time.monotonic() + 90
        while metric(metrics_of(url), "model_info{") < 2:
            assert time.monotonic() < deadline, "the second worker never became ready"
            time.sleep(0.5)
        # A new connection per request (urllib): each one goes to whichever worker accepts it.
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: status_of(f"{url}/predict", example), range(300)))
        # A request is counted just after its answer is sent: the last ones may lag a little.
        counted = 'http_requests_total{endpoint="/predict",method="POST",status="200"}'
        deadline = time.monotonic() + 10
        while metric(metrics := metrics_of(url), counted) < 300 and time.monotonic() < deadline:
            time.sleep(0.2)
    assert statuses == [200] * 300
    assert metric(metrics, 'predictions_total{endpoint="/predict"}') == 300
    assert metric(metrics, counted) == 300
    # Each worker writes its own request log: both have rows, 300 in all (written at exit).
    rows = [len(path.read_text().splitlines()) for path in folder.glob("requests-*.jsonl")]
    assert len(rows) == 2 and min(rows) > 0 and sum(rows) == 300, rows


@pytest.mark.same_for_every_model
def test_lines_beyond_the_queue_limit_are_dropped_counted_and_said(tmp_path, monkeypatch):
    """An output nobody reads must not grow the queue for ever: what is over the limit is
    dropped, counted in /metrics and said in the log; what was queued is written whole."""
    monkeypatch.setattr(access_log, "QUEUE_LIMIT", 5)
    monkeypatch.setattr(access_log, "DRAIN_EVERY_S", 3600)  # the thread never gets to drain
    logger = logging.getLogger("test.access")
    logger.setLevel(logging.INFO)
    written = tmp_path / "access.log"
    handler = logging.FileHandler(written)
    logger.addHandler(handler)
    before = REGISTRY.get_sample_value("access_log_dropped_lines_total") or 0
    deferred = access_log.DeferredAccessLog(logger)
    try:
        for number in range(8):
            deferred.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", f"/{number}", "1.1", 200)
        deferred.stop()
    finally:
        logger.removeHandler(handler)
        handler.close()
    lines = written.read_text().splitlines()
    assert [line.split('"')[1] for line in lines[:5]] == [f"GET /{n} HTTP/1.1" for n in range(5)]
    assert len(lines) == 6
    assert " WARNING test.access: 3 lines dropped: the log's output could not keep up" in lines[5]
    assert REGISTRY.get_sample_value("access_log_dropped_lines_total") == before + 3
