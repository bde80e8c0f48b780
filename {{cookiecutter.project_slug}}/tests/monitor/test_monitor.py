"""`make monitor` on real log files the service's own writer made: corrupt lines are skipped
and counted, bad input exits 2 with one clear line, thresholds come from settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.bundle import REFERENCE_FILE, Bundle
from {{ cookiecutter.package_name }}.monitor.drift_demo import feature_rows, records
from {{ cookiecutter.package_name }}.serve.predictor import Predictor, as_rows
from {{ cookiecutter.package_name }}.serve.request_log import RequestLog
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


def monitor(cwd: Path, bundle_dir: Path, log_dir: Path, *args: str, **env: str):
    environment = os.environ | {
        "MODEL_URI": str(bundle_dir), "LOG_DIR": str(log_dir),
        "MONITOR_REPORTS_DIR": str(cwd / "reports"),
        "PYTHONPATH": os.pathsep.join(filter(None, [SOURCE, os.environ.get("PYTHONPATH")])),
    } | env  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.monitor", *args],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_corrupt_lines_are_skipped_and_counted(bundle_dir, tmp_path):
    log = write_log(bundle_dir, tmp_path / "logs", rows=300)
    with log.open("ab") as file:
        file.write(b"not json at all\n")
        file.write(b'{"time": "2026-01-01T00:00:00", "inputs": {"a": 1}, "outp\n')  # cut short
        file.write(b"\xff\xfe invalid utf-8\n")
        file.write(b'["a", "list"]\n')
        file.write(b'{"time": "yesterday", "inputs": {}, "output": {}}\n')
    result = monitor(tmp_path, bundle_dir, log.parent, "--local")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 unreadable line(s) skipped" in result.stdout
    assert "5 unreadable line(s) skipped" in (tmp_path / "reports" / "monitoring.md").read_text()
    assert "Traceback" not in result.stderr


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
        tmp_path, bundle_dir, log.parent, "--local",
        MONITOR_PSI_THRESHOLD="0.000001", MONITOR_P_VALUE="0.999999",
    )  # fmt: skip
    assert strict.returncode == 1, strict.stdout + strict.stderr
