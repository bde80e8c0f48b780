"""`make clean` removes what make can write again, keeps what a person made, and says which."""

import subprocess
from pathlib import Path

import pytest

from .conftest import require_tool

MAKEFILE = Path(__file__).resolve().parents[1] / "Makefile"
SAMPLE = "{{ 'data/raw/customers.csv' if cookiecutter.task == 'classification' else 'data/raw/used_cars.csv' }}"
REGENERABLE = [SAMPLE, "reports/data_report.md", "build/bundle/schema.json"]
PRECIOUS = [
    "mlflow.db",
    "mlruns/0/meta.yaml",
    "models/.bundles/x/schema.json",
    "logs/requests/r.jsonl",
]
YOURS = ["data/raw/my_own.csv", "data/collected/mine.csv"]


def clean(folder: Path, *variables: str) -> str:
    """`make clean` run on a folder laid out as a used project (not on this project itself)."""
    make = require_tool("make")
    for name in REGENERABLE + PRECIOUS + YOURS:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("something")
    result = subprocess.run(
        [make, "-s", "-f", str(MAKEFILE), "-C", str(folder), "clean", *variables],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def top(name: str) -> str:
    return name if name == SAMPLE else name.split("/")[0]


def test_make_clean_keeps_runs_models_logs_and_your_files_and_says_so(tmp_path):
    said = clean(tmp_path)
    for name in REGENERABLE:
        assert not (tmp_path / name).exists() and f"removed {top(name)}" in said
    for name in PRECIOUS:
        assert (tmp_path / name).exists() and f"kept {top(name)} " in said
    assert all((tmp_path / name).read_text() == "something" for name in YOURS)
    assert "FORCE=1" in said


@pytest.mark.parametrize("force", ["FORCE=1", "FORCE=yes"])
def test_make_clean_force_also_removes_runs_models_and_logs_never_your_files(tmp_path, force):
    said = clean(tmp_path, force)
    for name in REGENERABLE + PRECIOUS:
        assert not (tmp_path / name).exists() and f"removed {top(name)}" in said
    assert all((tmp_path / name).read_text() == "something" for name in YOURS)
    assert "kept" not in said


def test_force_0_is_not_force(tmp_path):
    clean(tmp_path, "FORCE=0")
    assert all((tmp_path / name).exists() for name in PRECIOUS)
