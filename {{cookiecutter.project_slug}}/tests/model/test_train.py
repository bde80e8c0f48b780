import os
import subprocess
import sys

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

from ..conftest import make_settings, read_json


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
        ("NUMERIC_COLUMNS=Area", "NUMERIC_COLUMNS='[\"Area\"]'"),
        ("PROMOTION_FLOOR=nan", "PROMOTION_FLOOR"),  # NaN: no score would ever beat it
    ],
)
def test_a_bad_setting_in_env_is_one_line_and_exit_2(tmp_path, line, named):
    (tmp_path / ".env").write_text(line + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.model.train"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.startswith("Setting error:")
    assert named in result.stderr and len(result.stderr.strip().splitlines()) == 1


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
    other_settings = make_settings(tmp_path, data_path=str(tmp_path / "other.csv"), model_name="")

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
    assert settings_from_command_line(data_path="other.csv", target="y").model_name == ""
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
