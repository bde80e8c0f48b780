"""`make clean` removes what make can write again, keeps what a person made, and says which."""

import shutil
import subprocess
import sys
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


@pytest.fixture(scope="module")
def the_sample(tmp_path_factory) -> Path:
    """The file `make data` writes."""
    path = tmp_path_factory.mktemp("sample") / "sample.csv"
    command = [sys.executable, "-m", "{{ cookiecutter.package_name }}.data.sample", "--output"]
    subprocess.run([*command, str(path)], check=True, capture_output=True, timeout=120)
    return path


def clean(folder: Path, sample: Path, *variables: str) -> str:
    """`make clean` run on a folder laid out as a used project (not on this project itself)."""
    make = require_tool("make")
    for name in REGENERABLE + PRECIOUS + YOURS:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("something")
    if sample.is_file():
        shutil.copyfile(sample, folder / SAMPLE)
    command = [make, "-s", "-f", str(MAKEFILE), "-C", str(folder), f"PY={sys.executable}"]
    result = subprocess.run(
        [*command, "clean", *variables],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def top(name: str) -> str:
    return name if name == SAMPLE else name.split("/")[0]


def test_make_clean_keeps_runs_models_logs_and_your_files_and_says_so(tmp_path, the_sample):
    said = clean(tmp_path, the_sample)
    for name in REGENERABLE:
        assert not (tmp_path / name).exists() and f"removed {top(name)}" in said
    for name in PRECIOUS:
        assert (tmp_path / name).exists() and f"kept {top(name)} " in said
    assert all((tmp_path / name).read_text() == "something" for name in YOURS)
    assert "FORCE=1" in said


@pytest.mark.parametrize("force", ["FORCE=1", "FORCE=yes"])
def test_make_clean_force_also_removes_runs_models_and_logs_never_your_files(
    tmp_path, the_sample, force
):
    said = clean(tmp_path, the_sample, force)
    for name in REGENERABLE + PRECIOUS:
        assert not (tmp_path / name).exists() and f"removed {top(name)}" in said
    assert all((tmp_path / name).read_text() == "something" for name in YOURS)
    assert "kept" not in said


def test_force_0_is_not_force(tmp_path, the_sample):
    clean(tmp_path, the_sample, "FORCE=0")
    assert all((tmp_path / name).exists() for name in PRECIOUS)


@pytest.mark.parametrize("force", [[], ["FORCE=1"]], ids=["plain", "FORCE=1"])
def test_your_own_csv_saved_as_the_samples_name_is_kept_and_said(tmp_path, force):
    """A person who put their own file where the sample was: it is not make's to remove."""
    said = clean(tmp_path, tmp_path / "no sample", *force)  # SAMPLE holds "something"
    assert (tmp_path / SAMPLE).read_text() == "something"
    assert f"kept {SAMPLE} (not the sample make data writes" in said
