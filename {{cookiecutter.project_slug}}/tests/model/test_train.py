import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from {{ cookiecutter.package_name }}.config import PROJECT_MODEL_NAME
from {{ cookiecutter.package_name }}.data.sample import TARGET
from {{ cookiecutter.package_name }}.model import train as train_module
from {{ cookiecutter.package_name }}.model.registry import check_tracking_store
from {{ cookiecutter.package_name }}.model.train import (
    BaselineNotBeaten,
    settings_from_command_line,
    train,
)
from {{ cookiecutter.package_name }}.serve.settings import ServeSettings

from ..conftest import make_settings, read_json, require, require_tool

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_trained_model_beats_the_baseline(trained):
    _, summary = trained
    metric, metrics = summary["metric"], summary["metrics"]
    assert metrics[f"cv_{metric}"] > metrics[f"baseline_cv_{metric}"]
    assert metrics[f"test_{metric}"] > metrics[f"baseline_test_{metric}"] + 0.1


def test_first_model_is_promoted_and_exported(trained):
    settings, summary = trained
    assert summary["promotion"].promoted
    # The project's own data set: its folder is what `make serve` uses by default.
    assert summary["name"] == PROJECT_MODEL_NAME
    assert ServeSettings(_env_file=None).model_uri == f"models/{PROJECT_MODEL_NAME}"
    folder = settings.bundle_dir(summary["name"])
    for name in ("pipeline.skops", "schema.json", "input_example.json", "metadata.json"):
        assert (folder / name).is_file()
    metadata = read_json(folder, "metadata.json")
    assert metadata["name"] == summary["name"] and metadata["version"] == summary["version"]
    assert (settings.reports_dir / "data_report.md").is_file()


@pytest.mark.slow
def test_same_seed_same_model(tmp_path, sample_frame):
    results = []
    for run in ("a", "b"):
        folder = tmp_path / run
        folder.mkdir()
        sample_frame.to_csv(folder / "data.csv", index=False)
        results.append(train(make_settings(folder)))
    first, second = (r["metrics"] for r in results)
    assert first == pytest.approx(second)
    assert results[0]["name"] == results[1]["name"]


def test_model_that_learns_nothing_fails_loudly(tmp_path, sample_frame):
    noise = sample_frame.copy()
    # Shuffled labels: no column says anything about the target any more.
    noise[TARGET] = np.random.default_rng(0).permutation(noise[TARGET].to_numpy())
    noise.to_csv(tmp_path / "data.csv", index=False)
    # A margin well above the fold-to-fold noise of a score on ~1,300 shuffled rows.
    with pytest.raises(BaselineNotBeaten, match="does not beat the baseline"):
        train(make_settings(tmp_path, model="linear", baseline_margin=0.05))


def test_command_line_error_exits_non_zero_with_the_fix(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "{{ cookiecutter.package_name }}.model.train",
            "--data",
            str(tmp_path / "missing.csv"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "missing.csv' not found" in result.stderr


@pytest.mark.parametrize(
    "line, named",
    [
        ("CV_FOLDS=abc", "CV_FOLDS"),
        ("CV_FOLDS=1", "CV_FOLDS"),
        ("TASK=Regression", "TASK"),
        ("NUMERIC_COLUMNS=Area", "NUMERIC_COLUMNS (in .env) is not a JSON list: write it as"),
        ("PROMOTION_FLOOR=nan", "PROMOTION_FLOOR"),  # NaN: no score would ever beat it
    ],
)
def test_a_bad_setting_in_env_is_one_line_and_exit_2(tmp_path, line, named):
    (tmp_path / ".env").write_text(line + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.model.train"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.startswith("error:")
    assert named in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("option, named", [("--model", "MODEL"), ("--task", "TASK")])
def test_a_bad_model_or_task_on_the_command_line_is_the_same_one_line(tmp_path, option, named):
    """`make train MODEL=nope` passes --model: the settings' one line, not typer's usage box."""
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.model.train", option, "nope"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {named}: ") and "Usage" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.slow
def test_retrain_ties_and_another_data_set_never_replaces_the_served_model(
    tmp_path, sample_frame, monkeypatch
):
    sample_frame.to_csv(tmp_path / "data.csv", index=False)
    settings = make_settings(tmp_path)
    first = train(settings)
    served = settings.bundle_dir(PROJECT_MODEL_NAME)
    exported = served.resolve()

    # The same data and seed again: the same score, and a tie never promotes.
    again = train(settings)
    assert not again["promotion"].promoted and "ties champion v1" in again["promotion"].reason
    assert served.resolve() == exported

    # Another data set (here: one column fewer) gets a registered name and folder of its own.
    other = sample_frame.drop(columns=[sample_frame.columns[1]])
    other.to_csv(tmp_path / "other.csv", index=False)
    other_settings = make_settings(tmp_path, data_path=str(tmp_path / "other.csv"), model_name=None)

    # An export that fails after the gate said yes: the alias moves back, nothing half-written.
    def disk_full(*args):
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(train_module, "publish", disk_full)
        with pytest.raises(OSError, match="disk full"):
            train(other_settings)
    client = MlflowClient(tracking_uri=settings.mlflow_tracking_uri)
    (failed,) = [m for m in client.search_registered_models() if m.name != PROJECT_MODEL_NAME]
    assert not failed.aliases and not settings.bundle_dir(failed.name).exists()

    elsewhere = train(other_settings)
    assert elsewhere["promotion"].promoted and elsewhere["name"] != first["name"]
    assert settings.bundle_dir(elsewhere["name"]).is_dir()
    assert served.resolve() == exported
    assert read_json(served, "metadata.json")["version"] == first["version"] == "1"


def test_data_on_the_command_line_is_another_data_set(monkeypatch):
    monkeypatch.delenv("MODEL_NAME", raising=False)
    assert settings_from_command_line().model_name == PROJECT_MODEL_NAME
    assert settings_from_command_line(data_path="other.csv", target="y").model_name is None
    monkeypatch.setenv("MODEL_NAME", "mine")
    assert settings_from_command_line(data_path="other.csv").model_name == "mine"


def unusable_store(folder, case: str) -> str:
    """Stores that refuse even root (tests run as root, so chmod would not stop them)."""
    if case == "read-only":
        database = folder / "mlflow.db"
        check_tracking_store(f"sqlite:///{database}", "demo")  # a real store, then opened read-only
        return f"sqlite:///file:{database}?mode=ro&uri=true"
    # A path whose parent is a regular file: nobody can create anything under it.
    (folder / "not-a-folder").write_text("")
    return f"sqlite:///{folder / 'not-a-folder' / 'mlflow.db'}"


@pytest.mark.parametrize("case", ["read-only", "unreachable"])
@pytest.mark.same_for_every_model
def test_an_unusable_tracking_store_fails_first_in_one_line(tmp_path, sample_frame, case):
    sample_frame.to_csv(tmp_path / "data.csv", index=False)
    uri = unusable_store(tmp_path, case)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "{{ cookiecutter.package_name }}.model.train",
            "--data",
            "data.csv",
            "--target",
            TARGET,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=os.environ | {"MLFLOW_TRACKING_URI": uri, "MODEL_NAME": PROJECT_MODEL_NAME},
        timeout=300,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and uri in result.stderr
    assert "MLFLOW_TRACKING_URI" in result.stderr
    assert "Cross-validated" not in result.stdout  # it stopped before the work
    assert not (tmp_path / "models").exists()


@pytest.mark.slow
def test_a_first_model_below_the_floor_says_nothing_is_served(tmp_path, sample_frame, capsys):
    sample_frame.to_csv(tmp_path / "data.csv", index=False)
    settings = make_settings(tmp_path, promotion_floor=0.999)
    result = train(settings)
    train_module.print_summary(result)
    said = " ".join(capsys.readouterr().out.split())  # the terminal wraps long lines
    assert "Not promoted" in said and "There is no champion yet" in said
    assert "stays" not in said
    assert not settings.bundle_dir(result["name"]).exists()


def _waited_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.mark.slow
@pytest.mark.same_for_every_model
def test_an_export_killed_after_the_alias_moved_is_repaired_by_the_next_run(
    tmp_path, sample_frame, capsys
):
    """The audit's kill -9 between moving @champion and exporting: the alias on v2, models/
    on v1, a half-copied folder. The next run, under the lock, re-exports the champion."""
    sample_frame.to_csv(tmp_path / "data.csv", index=False)
    settings = make_settings(tmp_path)
    train(settings)
    train(settings)  # v2: ties, not promoted; the state a killed promotion of v2 leaves:
    client = MlflowClient(tracking_uri=settings.mlflow_tracking_uri)
    client.set_registered_model_alias(PROJECT_MODEL_NAME, "champion", "2")
    versions = settings.models_dir / ".bundles"
    half = versions / f".staging-{_waited_pid()}-{PROJECT_MODEL_NAME}-v2-0badc0de"
    half.mkdir()
    (half / "pipeline.skops").write_bytes(b"PK half a file")
    served = settings.bundle_dir(PROJECT_MODEL_NAME)
    assert read_json(served, "metadata.json")["version"] == "1"
    capsys.readouterr()

    third = train(settings)
    said = " ".join(capsys.readouterr().out.split())
    assert f"Repaired {served}: it held v1 while @champion is v2" in said
    assert read_json(served, "metadata.json")["version"] == "2"
    assert "ties champion v2" in third["promotion"].reason
    assert not half.exists() and not list(versions.glob(".staging-*"))


@pytest.mark.slow
@pytest.mark.same_for_every_model
def test_a_failed_export_leaves_no_staging_folder_anywhere(tmp_path, sample_frame, monkeypatch):
    sample_frame.to_csv(tmp_path / "data.csv", index=False)
    settings = make_settings(tmp_path)
    before = set(Path(tempfile.gettempdir()).glob("train-*"))

    def disk_full(*args):
        raise OSError("disk full")

    monkeypatch.setattr(train_module, "publish", disk_full)
    with pytest.raises(OSError, match="disk full"):
        train(settings)
    assert set(Path(tempfile.gettempdir()).glob("train-*")) == before
    assert list((settings.models_dir / ".bundles").iterdir()) == []


def models_folder_nobody_can_write(folder: Path, case: str) -> tuple[list[str], Path]:
    """(a command prefix, the models folder) that refuse even root: a read-only mount in a
    mount namespace of the command's own, or a path whose parent is a regular file."""
    if case == "not-a-folder":
        (folder / "not-a-folder").write_text("")
        return [], folder / "not-a-folder" / "models"
    models = folder / "models"
    models.mkdir()
    require_tool("unshare")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    require(probe.returncode == 0, "`unshare -m` (a private mount namespace) is not allowed here")
    mount = f'mount --bind {models} {models} && mount -o remount,bind,ro {models} && exec "$@"'
    return ["unshare", "-m", "sh", "-c", mount, "sh"], models


@pytest.mark.parametrize("case", ["read-only", "not-a-folder"])
@pytest.mark.same_for_every_model
def test_an_unwritable_models_folder_fails_first_in_one_line(tmp_path, sample_frame, case):
    sample_frame.to_csv(tmp_path / "data.csv", index=False)
    prefix, models = models_folder_nobody_can_write(tmp_path, case)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "{{ cookiecutter.package_name }}.model.train"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        env=os.environ
        | {"DATA_PATH": "data.csv", "TARGET": TARGET, "MODELS_DIR": str(models)}
        | {"MLFLOW_TRACKING_URI": store, "MODEL_NAME": PROJECT_MODEL_NAME},
    )
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    said = result.stderr.strip().splitlines()[-1]  # MLflow may log a line of its own first
    assert said.startswith("error: The models folder")
    assert str(models) in said and "MODELS_DIR" in said
    assert "Cross-validated" not in result.stdout  # it stopped before the work
    assert MlflowClient(tracking_uri=store).search_registered_models() == []  # no orphan


@pytest.mark.slow
@pytest.mark.same_for_every_model
def test_off_a_terminal_each_step_says_it_started_and_that_it_still_runs(
    tmp_path, sample_frame, capsys, monkeypatch
):
    """`make train > log` on a million rows was silent for minutes during cross-validation."""
    sample_frame.to_csv(tmp_path / "data.csv", index=False)
    monkeypatch.setattr(train_module, "HEARTBEAT_S", 0.05)
    train(make_settings(tmp_path))
    lines = capsys.readouterr().out.splitlines()
    started = next(i for i, line in enumerate(lines) if "Cross-validated" in line)
    done = next(i for i, line in enumerate(lines) if line.startswith("✓ Cross-validated"))
    assert lines[started].endswith(": running") and started < done
    assert any("still running" in line for line in lines[started:done])


def test_make_train_leaves_openmp_free_to_use_every_core(tmp_path):
    """OMP_NUM_THREADS=1 is the service's setting (one thread per worker), not training's."""
    require_tool("make")
    fake_python = tmp_path / "python"
    fake_python.write_text('#!/bin/sh\necho "OMP_NUM_THREADS=${OMP_NUM_THREADS-unset}"\n')
    fake_python.chmod(0o755)
    # Not OMP_NUM_THREADS, nor a parent make's variables (`make test` runs this suite).
    inherited = {"OMP_NUM_THREADS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}
    env = {key: value for key, value in os.environ.items() if key not in inherited}
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", "train", f"PY={fake_python}", "DATA=data.csv"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OMP_NUM_THREADS=unset"


def test_training_on_storm_tracks_keeps_each_storm_on_one_side(tmp_path, recwarn):
    """Each storm's rows in one split: the report counts the groups on each side, and they
    add up to every storm (none counted twice). And no MLflow note about itself on the way."""
    from ..data.corpus import storm_tracks

    storm_tracks().to_csv(tmp_path / "data.csv", index=False)
    summary = train(make_settings(tmp_path, target="status", model="linear"))
    said = [str(warning.message) for warning in recwarn]
    assert not [text for text in said if "interpreted in multiple ways" in text], said
    assert summary["schema"].model_dump()["group"] == {"column": "name", "groups": 60}
    report = (tmp_path / "reports" / "data_report.md").read_text()
    sides = re.search(
        r"`name`: 60 groups.*; (\d+) in the training split, (\d+) in the test split", report
    )
    assert sides and int(sides[1]) + int(sides[2]) == 60 and int(sides[2]) > 0
    card = " ".join((tmp_path / "reports" / "model_card.md").read_text().split())
    assert f"every `name` on one side only ({sides[1]} to train, {sides[2]} to test)" in card
