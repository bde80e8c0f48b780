import subprocess
import sys

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.bundle import read_json
from {{ cookiecutter.package_name }}.data.sample import TARGET
from {{ cookiecutter.package_name }}.model.train import BaselineNotBeaten, train

from ..conftest import make_settings


def test_trained_model_beats_the_baseline(trained):
    _, summary = trained
    metric, metrics = summary["metric"], summary["metrics"]
    assert metrics[f"cv_{metric}"] > metrics[f"baseline_cv_{metric}"]
    assert metrics[f"test_{metric}"] > metrics[f"baseline_test_{metric}"] + 0.1


def test_first_model_is_promoted_and_exported(trained):
    settings, summary = trained
    assert summary["promotion"].promoted
    for name in ("pipeline.skops", "schema.json", "input_example.json", "metadata.json"):
        assert (settings.champion_dir / name).is_file()
    metadata = read_json(settings.champion_dir, "metadata.json")
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
