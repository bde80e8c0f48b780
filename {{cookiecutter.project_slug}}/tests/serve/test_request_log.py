"""The request log and live drift, in a real uvicorn process writing real files.

Traffic like the training data raises no drift; a shifted copy (one numeric column
moved, one category's share changed) flags exactly those columns, in /metrics and in
`make monitor`; rotation keeps the log under LOG_MAX_MB; LOG_PREDICTIONS=false writes
nothing; LOG_SAMPLE_RATE samples; over LOG_MAX_ROWS_PER_S a uniform sample is logged and
the rest counted.
"""

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from {{ cookiecutter.package_name }}.contract.bundle import Bundle
from {{ cookiecutter.package_name }}.monitor.drift_demo import (
    default_columns,
    feature_rows,
    records,
    shifted,
)
from {{ cookiecutter.package_name }}.serve.internals import request_log
from {{ cookiecutter.package_name }}.serve.internals.request_log import RowBudget, sample_rows
from {{ cookiecutter.package_name }}.serve.settings import ServeSettings

from ..conftest import free_port, require, stop, wait_for
from .test_live import eventually, worker_pids

SOURCE = str(Path(__file__).resolve().parents[2] / "src")  # for subprocesses

PSI_LINE = re.compile(r'^model_drift_psi\{feature="(.+)"\} (\S+)$', re.MULTILINE)
ROWS = 600


@contextmanager
def service(bundle_dir: Path, log_dir: Path, **env: str):
    """`python -m <package>.serve` with these settings, stopped by PID (SIGTERM: clean)."""
    with (
        tempfile.TemporaryDirectory() as folder,
        running(bundle_dir, log_dir, Path(folder) / "output", umask=-1, **env) as (url, _),
    ):
        yield url


@contextmanager
def running(bundle_dir: Path, log_dir: Path, output: Path, umask: int = -1, **env: str):
    """The service, its output in a file (a pipe nobody reads would fill and block it):
    (url, process) for tests that look at its workers or what it prints."""
    port = free_port()
    environment = (
        os.environ
        | {
            "MODEL_URI": str(bundle_dir),
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "warning",
            "LOG_DIR": str(log_dir),
        }
        | env
    )
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "{{ cookiecutter.package_name }}.serve"],
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
            umask=umask,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/readyz", timeout=90, process=process)
        yield url, process
    finally:
        # uvicorn shuts down cleanly on SIGTERM (the log is flushed), then re-raises it.
        assert stop(process) in (0, -15), output.read_text()


def send(url: str, rows: list[dict], batch: int = 100) -> None:
    for start in range(0, len(rows), batch):
        body = json.dumps({"records": rows[start : start + batch]}).encode()
        request = urllib.request.Request(
            f"{url}/predict/batch", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200


def live_psi(url: str, rows: int) -> dict[str, float]:
    """The PSI gauges, once the window holds every row sent (refreshed twice a second)."""
    deadline = time.monotonic() + 20
    while True:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
            text = response.read().decode()
        window = re.search(r"^model_drift_window_rows (\S+)$", text, re.MULTILINE)
        if window and float(window.group(1)) >= rows or time.monotonic() > deadline:
            return {name: float(value) for name, value in PSI_LINE.findall(text)}
        time.sleep(0.3)


def monitor(bundle_dir: Path, log_dir: Path, cwd: Path, *args: str):
    env = os.environ | {
        "MODEL_URI": str(bundle_dir),
        "LOG_DIR": str(log_dir),
        "REPORTS_DIR": str(cwd / "reports"),
        "PYTHONPATH": os.pathsep.join(filter(None, [SOURCE, os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.monitor", "--local", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def drifted_in_report(cwd: Path) -> set[str]:
    report = (cwd / "reports" / "monitoring.md").read_text()
    drifted = re.search(r"^## Drifted: (.*)$", report, re.MULTILINE)
    assert drifted is not None, report
    line = drifted.group(1)
    return set() if line == "nothing" else set(line.split(", "))


def log_lines(log_dir: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(log_dir.glob("requests*.jsonl*"))
        for line in path.read_text().splitlines()
    ]


@pytest.mark.slow
def test_training_like_traffic_raises_no_drift(bundle_dir, tmp_path):
    bundle = Bundle.load(bundle_dir)
    logs = tmp_path / "logs"
    with service(bundle_dir, logs, DRIFT_WINDOW=str(ROWS)) as url:
        rows = records(feature_rows(bundle, ROWS, seed=101))
        send(url, rows)
        psi = live_psi(url, ROWS)
    assert set(psi) == {*bundle.schema.names, "prediction"}
    assert max(psi.values()) < 0.1, psi
    # Stopped cleanly: every row is in the log, with its time and model version.
    lines = log_lines(logs)
    assert len(lines) == len(rows)
    assert {line["model_version"] for line in lines} == {bundle.metadata.version}
    assert set(lines[0]["inputs"]) == set(bundle.schema.names)
    assert "prediction" in lines[0]["output"]
    result = monitor(bundle_dir, logs, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No drift." in result.stdout and drifted_in_report(tmp_path) == set()


@pytest.mark.slow
def test_shifted_traffic_flags_exactly_the_shifted_columns(bundle_dir, tmp_path):
    bundle = Bundle.load(bundle_dir)
    numeric, categorical = default_columns(bundle)
    frame = shifted(feature_rows(bundle, ROWS, seed=102), numeric, categorical, bundle, seed=102)
    logs = tmp_path / "logs"
    with service(bundle_dir, logs, DRIFT_WINDOW=str(ROWS)) as url:
        send(url, records(frame))
        psi = live_psi(url, ROWS)
    live = {name for name, value in psi.items() if value >= 0.2}
    # The prediction may move with its inputs; no other feature may.
    assert live - {"prediction"} == {numeric, categorical}, psi
    result = monitor(bundle_dir, logs, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert drifted_in_report(tmp_path) == live
    report = (tmp_path / "reports" / "monitoring.md").read_text()
    for name in live:
        assert f"### {name}" in report
    figures = tmp_path / "reports" / "figures" / "monitoring"
    assert (figures / "predictions-over-time.png").stat().st_size > 1000
    assert len(list(figures.glob("drift-*.png"))) == len(live)


def send_on_one_connection(url: str, rows: list[dict], batch: int = 100) -> None:
    """Every batch over one keep-alive connection: all reach the same worker."""
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    try:
        for start in range(0, len(rows), batch):
            body = json.dumps({"records": rows[start : start + batch]})
            connection.request("POST", "/predict/batch", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            assert response.status == 200
    finally:
        connection.close()


def window_rows_by_worker(metrics_dir: Path) -> dict[int, float]:
    """Each worker's own drift window size, from its file in PROMETHEUS_MULTIPROC_DIR."""
    found = {}
    for path in metrics_dir.glob("gauge_*.db"):
        for family in MultiProcessCollector.merge([str(path)]):
            if family.name == "model_drift_window_rows":
                found[int(path.stem.rsplit("_", 1)[1])] = family.samples[0].value
    return found


@pytest.mark.same_for_every_model
@pytest.mark.slow
def test_a_killed_workers_drift_leaves_the_metrics_with_it(bundle_dir, tmp_path):
    require(Path("/proc/self/task").is_dir(), "this test reads /proc (Linux)")
    bundle = Bundle.load(bundle_dir)
    numeric, categorical = default_columns(bundle)
    frame = shifted(feature_rows(bundle, ROWS, seed=108), numeric, categorical, bundle, seed=108)
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    settings = {
        "WORKERS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "DRIFT_WINDOW": str(ROWS),
    }
    with running(bundle_dir, tmp_path / "logs", tmp_path / "output", **settings) as (url, process):
        eventually(lambda: len(worker_pids(process.pid)) == 2)
        send_on_one_connection(url, records(frame))
        assert live_psi(url, ROWS)[numeric] >= 0.2
        drifted = [pid for pid, rows in window_rows_by_worker(metrics_dir).items() if rows]
        assert len(drifted) == 1, "one worker saw all the traffic"
        os.kill(drifted[0], signal.SIGKILL)  # no shutdown code runs in the worker
        eventually(lambda: drifted[0] not in worker_pids(process.pid))
        eventually(lambda: len(worker_pids(process.pid)) == 2)
        # The living workers have seen nothing: no PSI, an empty window.
        eventually(lambda: metric(url, "model_drift_window_rows") == 0)
        assert live_psi(url, 0) == {}


@pytest.mark.slow
@pytest.mark.same_for_every_model
def test_rotation_keeps_the_log_under_its_limit(bundle_dir, tmp_path):
    bundle = Bundle.load(bundle_dir)
    logs, limit_mb = tmp_path / "logs", 0.05
    rows = records(feature_rows(bundle, 1500, seed=103))
    with service(bundle_dir, logs, LOG_MAX_MB=str(limit_mb)) as url:
        send(url, rows)
    files = sorted(logs.glob("requests*.jsonl*"))
    written = sum(len(json.dumps(row)) for row in rows)
    assert written > 3 * limit_mb * 1024 * 1024, "enough traffic to rotate several times"
    assert "requests.jsonl.1" in {f.name for f in files} and len(files) <= 5
    assert sum(f.stat().st_size for f in files) <= limit_mb * 1024 * 1024


@pytest.mark.same_for_every_model
@pytest.mark.slow
def test_log_predictions_false_writes_nothing_but_drift_stays_live(bundle_dir, tmp_path):
    bundle = Bundle.load(bundle_dir)
    logs = tmp_path / "logs"
    with service(bundle_dir, logs, LOG_PREDICTIONS="false") as url:
        send(url, records(feature_rows(bundle, 200, seed=104)))
        assert set(live_psi(url, 200)) == {*bundle.schema.names, "prediction"}
    assert not logs.exists() or not any(logs.iterdir())


@pytest.mark.slow
@pytest.mark.same_for_every_model
def test_sample_rate_logs_a_share_of_requests(bundle_dir, tmp_path):
    bundle = Bundle.load(bundle_dir)
    logs = tmp_path / "logs"
    with service(bundle_dir, logs, LOG_SAMPLE_RATE="0.5") as url:
        send(url, records(feature_rows(bundle, 300, seed=105)), batch=1)
    # Binomial(300, 0.5): outside 90..210 has a probability below 1e-12.
    assert 90 <= len(log_lines(logs)) <= 210


@pytest.mark.slow
@pytest.mark.same_for_every_model
def test_a_log_folder_it_cannot_write_never_stops_the_service(bundle_dir, tmp_path):
    bundle = Bundle.load(bundle_dir)
    (tmp_path / "a-file").write_text("")
    unwritable = tmp_path / "a-file" / "logs"  # under a file: not writable, even by root
    with service(bundle_dir, unwritable) as url:
        send(url, records(feature_rows(bundle, 50, seed=106)))
        assert set(live_psi(url, 50)) == {*bundle.schema.names, "prediction"}  # drift stays


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    value = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert value is not None, f"no {name} in /metrics"
    return float(value[1])


@pytest.mark.slow
@pytest.mark.same_for_every_model
def test_a_burst_over_the_row_budget_is_sampled_across_it_and_counted(bundle_dir, tmp_path):
    bundle = Bundle.load(bundle_dir)
    logs, budget = tmp_path / "logs", 25  # saves up two seconds' worth: 50 rows
    rows = records(feature_rows(bundle, 600, seed=107))  # and the generator's duplicates
    with service(bundle_dir, logs, LOG_MAX_ROWS_PER_S=str(budget)) as url:
        send(url, rows, batch=len(rows))  # one request: one drain sees all its rows
        # Both stay 0 until the thread has drained the queue and refreshed the gauges.
        window = "model_drift_window_rows"
        deadline = time.monotonic() + 20
        while not metric(url, window) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert metric(url, window) == 50
        assert metric(url, "request_log_skipped_rows_total") == len(rows) - 50
    lines = log_lines(logs)
    assert len(lines) == 50
    # Picked across the whole batch, not its first rows (all 50 among the first 100 of
    # 600 by chance: below 1e-40).
    sent = {json.dumps(row, sort_keys=True): index for index, row in enumerate(rows)}
    positions = [sent[json.dumps(line["inputs"], sort_keys=True)] for line in lines]
    assert max(positions) >= 100


@pytest.mark.same_for_every_model
def test_the_row_budget_refills_at_its_rate_and_saves_up_two_seconds(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(request_log.time, "monotonic", lambda: clock[0])
    budget = RowBudget(per_second=10)
    assert budget.take(1000) == 20  # starts with two seconds' worth
    assert budget.take(5) == 0
    clock[0] += 0.5
    assert budget.take(1000) == 5
    clock[0] += 60  # a quiet minute saves up no more than two seconds' worth
    assert budget.take(15) == 15 and budget.take(1000) == 5


@pytest.mark.same_for_every_model
def test_sampling_picks_rows_not_requests():
    """A batch of 90 rows and ten single rows: a batch row is as likely as a single one."""
    pending = [(0.0, [("batch", i) for i in range(90)], [{}] * 90)]
    pending += [(0.0, [("single", i)], [{}]) for i in range(10)]
    everything = list(sample_rows(pending, 100))
    assert [row for _, row, _ in everything] == [row for _, rows, _ in pending for row in rows]
    from_batch = 0
    for _ in range(200):
        picked = [row for _, row, _ in sample_rows(pending, 10)]
        assert len(set(picked)) == 10  # never the same row twice
        from_batch += sum(kind == "batch" for kind, _ in picked)
    # 2,000 picks, 90% from the batch: 1,800 expected (sd ~13); by request it would be ~180.
    assert 1_700 <= from_batch <= 1_900


@pytest.mark.same_for_every_model
def test_a_failed_drain_never_ends_the_log(bundle_dir, tmp_path, monkeypatch):
    """A drain that raises once: its rows are lost, the thread lives on and logs the next."""
    loaded = Bundle.load(bundle_dir)
    settings = ServeSettings(_env_file=None, model_uri=str(bundle_dir), log_dir=tmp_path)
    log = request_log.RequestLog(settings, loaded)
    real_write, failures = log._write, []

    def write_once_failing(lines):
        if not failures:
            failures.append(len(lines))
            raise OSError(28, "No space left on device")
        real_write(lines)

    monkeypatch.setattr(log, "_write", write_once_failing)
    row = tuple(loaded.example[0].get(name) for name in loaded.schema.names)
    log.start()
    try:
        log.record([row], [{"prediction": "first"}])
        deadline = time.monotonic() + 10
        while not failures and time.monotonic() < deadline:
            time.sleep(0.05)
        assert failures == [1] and log.thread.is_alive()
        log.record([row], [{"prediction": "second"}])
    finally:
        log.stop()
    assert [line["output"]["prediction"] for line in log_lines(tmp_path)] == ["second"]
