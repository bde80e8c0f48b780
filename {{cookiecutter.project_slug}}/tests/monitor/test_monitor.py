"""`make monitor` on real log files the service's own writer made: corrupt lines and lines
of the wrong shape are skipped and counted, bad input or settings exit 2 with one clear
line, a crash exits 3 (never 1, "drift"), memory follows MONITOR_ROWS, not the log's size."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.contract.bundle import REFERENCE_FILE, Bundle
from {{ cookiecutter.package_name }}.monitor.drift_demo import feature_rows, records
from {{ cookiecutter.package_name }}.serve.internals.request_log import RequestLog
from {{ cookiecutter.package_name }}.serve.predictor import Predictor, as_rows
from {{ cookiecutter.package_name }}.serve.settings import ServeSettings

from ..conftest import copy_of

SOURCE = str(Path(__file__).resolve().parents[2] / "src")  # for subprocesses


def write_log(bundle_dir: Path, folder: Path, rows: int, seed: int = 201) -> Path:
    """A request log written by the service's RequestLog (thread, rotation and all)."""
    bundle = Bundle.load(bundle_dir)
    settings = ServeSettings(_env_file=None, model_uri=str(bundle_dir), log_dir=folder)
    inputs = records(feature_rows(bundle, rows, seed))
    answers = Predictor(bundle).predict(inputs)
    log = RequestLog(settings, bundle)
    log.start()
    log.record(as_rows(bundle.schema, inputs), answers)  # rows as the service validated them
    log.stop()
    return folder / "requests.jsonl"


def monitor(
    cwd: Path, bundle_dir: Path, log_dir: Path, *args: str, launcher: tuple = (), **env: str
):
    environment = (
        os.environ
        | {
            "MODEL_URI": str(bundle_dir),
            "LOG_DIR": str(log_dir),
            "REPORTS_DIR": str(cwd / "reports"),
            "PYTHONPATH": os.pathsep.join(filter(None, [SOURCE, os.environ.get("PYTHONPATH")])),
        }
        | env
    )
    return subprocess.run(
        [*launcher, sys.executable, "-m", "{{ cookiecutter.package_name }}.monitor", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def append(log: Path, *lines: bytes) -> None:
    with log.open("ab") as file:
        file.writelines(line + b"\n" for line in lines)


def line_like(log: Path, **changes) -> bytes:
    """The log's first line with some fields replaced: everything else as the service wrote."""
    line = json.loads(log.read_bytes().splitlines()[0])
    return json.dumps(line | changes).encode()


def test_corrupt_lines_are_skipped_and_counted(bundle_dir, tmp_path):
    log = write_log(bundle_dir, tmp_path / "logs", rows=300)
    append(
        log,
        b"not json at all",
        b'{"time": "2026-01-01T00:00:00+00:00", "inputs": {"a": 1}, "outp',  # cut short
        b"\xff\xfe invalid utf-8",
        b'["a", "list"]',
        b'{"time": "yesterday", "inputs": {}, "output": {}}',
    )
    result = monitor(tmp_path, bundle_dir, log.parent, "--local")
    assert result.returncode == 0, result.stdout + result.stderr
    report = (tmp_path / "reports" / "monitoring.md").read_text()
    for said in (
        "5 lines skipped: 2 not JSON",
        "1 not UTF-8",
        "1 not a JSON object",
        "1 `time` not an ISO date and time with its zone",
    ):
        assert said in result.stdout and said in report, said
    assert "Traceback" not in result.stderr


def test_lines_of_the_wrong_shape_are_skipped_and_counted_never_a_crash(bundle_dir, tmp_path):
    """Valid JSON the service never writes: each used to crash the monitor (TypeError,
    RecursionError) with exit 1, which reads as "drift found"."""
    log = write_log(bundle_dir, tmp_path / "logs", rows=300)
    written = len(log.read_bytes().splitlines())
    output = json.loads(log.read_bytes().splitlines()[0])["output"]
    append(
        log,
        line_like(log, output=output | {"probabilities": "yes"}),
        line_like(log, output=output | {"probabilities": ["no", "yes"]}),
        line_like(log, output={"prediction": ["no"]}),
        line_like(log, inputs={"age": {"years": 40}}),
        line_like(log, inputs=["age", 40]),
        line_like(log, time="2026-01-01T00:00:00"),  # no zone: not the service's clock
        b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    )
    result = monitor(tmp_path, bundle_dir, log.parent, "--local")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    report = (tmp_path / "reports" / "monitoring.md").read_text()
    for said in (
        "7 lines skipped",
        "2 `output.probabilities` not an object of numbers",
        "2 `inputs` not an object of text, numbers, true/false or null",
        "1 `output.prediction` not text, a number, true/false or null",
        "1 `time` not an ISO date and time with its zone",
        "1 nested too deeply",
    ):
        assert said in result.stdout and said in report, said
    assert f"{written} readable rows" in report  # every line the service wrote, and no other


@pytest.mark.parametrize(
    "breakage, expected",
    [
        ("no log", "No request log at"),
        ("empty folder", "holds no requests*.jsonl file"),
        ("too few rows", "too few to tell drift from noise"),
        ("no reference", "has no reference.json"),
        ("no bundle", "No model bundle"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(bundle_dir, tmp_path, breakage, expected):
    logs, bundle = tmp_path / "logs", bundle_dir
    if breakage == "empty folder":
        logs.mkdir()
    if breakage in ("too few rows", "no reference", "no bundle"):
        write_log(bundle_dir, logs, rows=20)
    if breakage == "no reference":
        bundle = copy_of(bundle_dir, tmp_path)
        (bundle / REFERENCE_FILE).unlink()
    if breakage == "no bundle":
        bundle = tmp_path / "nowhere"
    result = monitor(tmp_path, bundle, logs, "--local")
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr


def test_without_a_deploy_the_local_log_is_read(bundle_dir, tmp_path):
    log = write_log(bundle_dir, tmp_path / "logs", rows=200)
    result = monitor(tmp_path, bundle_dir, log.parent, DEPLOY_SSH_HOST="")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(local)" in (tmp_path / "reports" / "monitoring.md").read_text()


def test_thresholds_come_from_settings(bundle_dir, tmp_path):
    """The same log: drift with a hair-trigger PSI threshold, none with the default."""
    log = write_log(bundle_dir, tmp_path / "logs", rows=300)
    assert monitor(tmp_path, bundle_dir, log.parent, "--local").returncode == 0
    strict = monitor(
        tmp_path,
        bundle_dir,
        log.parent,
        "--local",
        MONITOR_PSI_THRESHOLD="0.000001",
        MONITOR_P_VALUE="0.999999",
    )
    assert strict.returncode == 1, strict.stdout + strict.stderr


@pytest.mark.parametrize(
    "setting, value, expected",
    [
        ("MONITOR_ROWS", "1", "MONITOR_ROWS: Input should be greater than or equal to 10"),
        ("MONITOR_ROWS", "abc", "MONITOR_ROWS: Input should be a valid integer"),
        ("MONITOR_ROWS", "50", "MONITOR_ROWS (50) is below MONITOR_MIN_ROWS (100)"),
        ("MONITOR_P_VALUE", "2", "MONITOR_P_VALUE: Input should be less than 1"),
        ("REPORTS_DIR", "a file", "set REPORTS_DIR to a folder you can write"),
    ],
)
def test_a_bad_setting_exits_2_with_one_line(bundle_dir, tmp_path, setting, value, expected):
    log = write_log(bundle_dir, tmp_path / "logs", rows=200)
    if value == "a file":
        value = str(tmp_path / "reports.txt")
        Path(value).write_text("a file where the reports folder should be")
    result = monitor(tmp_path, bundle_dir, log.parent, "--local", **{setting: value})
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_failure_that_is_not_drift_exits_3_never_1(bundle_dir, tmp_path):
    """A bundle whose reference.json has a numeric column without bin edges: the monitor
    crashes. Cron and CI must not read that as "drift found" (1) or "bad input" (2)."""
    log = write_log(bundle_dir, tmp_path / "logs", rows=200)
    bundle = copy_of(bundle_dir, tmp_path)
    reference = json.loads((bundle / REFERENCE_FILE).read_text())
    numeric = next(f for f in reference["features"].values() if f["kind"] == "numeric")
    numeric["edges"] = []
    (bundle / REFERENCE_FILE).write_text(json.dumps(reference))
    result = monitor(tmp_path, bundle, log.parent, "--local")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Monitor failed (IndexError" in result.stderr and "Traceback" in result.stderr
    assert "this is not drift and not bad input; exit 3" in result.stderr


# Run a command and write its peak resident memory (KB on Linux, bytes on macOS) to a file.
# Measured from this small launcher, not from pytest: a child forked from a big process
# starts with that process's peak, which the kernel keeps across exec.
PEAK_OF = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
    "sys.exit(code)"
)


def peak_memory_mb(cwd: Path, bundle_dir: Path, log_dir: Path, **env: str) -> float:
    """The monitor's peak resident memory, from the kernel (getrusage of the process)."""
    peak = cwd / "peak.txt"
    launcher = (sys.executable, "-c", PEAK_OF, str(peak))
    result = monitor(cwd, bundle_dir, log_dir, "--local", launcher=launcher, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    return int(peak.read_text()) / (1024 * 1024 if sys.platform == "darwin" else 1024)


@pytest.mark.same_for_every_model
@pytest.mark.slow
def test_memory_follows_monitor_rows_not_the_log_size(bundle_dir, tmp_path):
    """The same rows compared from a 2,000-row log and from a 40 MB one (five files, as
    rotation leaves them): the big log costs no more memory. Reading it whole cost ~7x its
    size (1.2 GB for 170 MB)."""
    small = write_log(bundle_dir, tmp_path / "small", rows=2000)
    lines = small.read_bytes()
    big = tmp_path / "big"
    big.mkdir()
    for name in (
        "requests.jsonl.4",
        "requests.jsonl.3",
        "requests.jsonl.2",
        "requests.jsonl.1",
        "requests.jsonl",
    ):
        (big / name).write_bytes(lines * (8 * 1024 * 1024 // len(lines)))
    rows = {"MONITOR_ROWS": "2000"}
    baseline = peak_memory_mb(tmp_path, bundle_dir, small.parent, **rows)
    reading_big = peak_memory_mb(tmp_path, bundle_dir, big, **rows)
    assert reading_big - baseline < 40, (
        f"{baseline:.0f} MB for 2,000 rows, {reading_big:.0f} MB for 40 MB"
    )
