"""The model card: every section, the run's own numbers, every column decision, the learner's
answers where they gave them and a marked prompt where they did not."""

import os
import subprocess
import sys
from dataclasses import replace

import mlflow
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import SettingsProblem
from {{ cookiecutter.package_name }}.contract.bundle import CARD_FILE
from {{ cookiecutter.package_name }}.data.sample import TARGET
from {{ cookiecutter.package_name }}.model.card import NOTES, SECTIONS, CardFacts, model_card, read_notes


def test_the_card_has_every_section_and_the_runs_own_numbers(trained, bundle_dir):
    settings, summary = trained
    card = (bundle_dir / CARD_FILE).read_text()
    assert card == (settings.reports_dir / "model_card.md").read_text()
    assert card.startswith(f"# Model card: {summary['name']} v{summary['version']}")
    assert [line[3:] for line in card.splitlines() if line.startswith("## ")] == list(SECTIONS)
    metrics = summary["metrics"]
    for key, value in metrics.items():
        if key.startswith(("test_", "baseline_test_")):
            assert f"| {value:.4f} |" in card or f"| {value:.4f}" in card, key
    metric = summary["metric"]
    spread = f"{metrics[f'cv_{metric}']:.4f} ± {metrics[f'cv_{metric}_std']:.4f}"
    assert spread in card and metrics[f"cv_{metric}_std"] > 0
    for decision in summary["schema"].model_dump()["decisions"]:
        assert f"| {decision['column']} |" in card, decision["column"]
    assert summary["run_id"] in card
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    assert mlflow.artifacts.load_text(f"runs:/{summary['run_id']}/model_card.md") == card


def test_what_the_data_cannot_say_is_a_marked_prompt_until_the_learner_says_it(trained):
    settings, summary = trained
    card = (settings.reports_dir / "model_card.md").read_text()
    for key in NOTES:
        assert f"✎ To fill in (model_card.yaml, `{key}`)" in card


def a_card(notes: dict) -> str:
    decisions = pd.DataFrame(
        [("y", "target", "two classes", "-"), ("id", "id (left out)", "unique", "-")],
        columns=["column", "kind", "why", "what was done"],
    )
    metrics = {"cv_roc_auc": 0.8, "cv_roc_auc_std": 0.02, "test_roc_auc": 0.81}
    facts = CardFacts(
        target="y",
        task="classification",
        model="linear",
        data_path="d.csv",
        rows_in=100,
        rows_used=90,
        duplicates_dropped=10,
        missing_target_dropped=0,
        decisions=decisions,
        train_rows=72,
        test_rows=18,
        folds=3,
        metric="roc_auc",
        metrics=metrics | {"baseline_test_roc_auc": 0.5},
        class_counts={"no": 87, "yes": 3},
    )
    return model_card(replace(facts, notes=notes))


def test_the_learners_answers_replace_the_prompts_and_limits_are_found(tmp_path):
    notes_file = tmp_path / "model_card.yaml"
    notes_file.write_text("intended_use: Ranking customers to call first.\nnot_for: Pricing.\n")
    card = a_card(read_notes(notes_file))
    assert "Intended use: Ranking customers to call first." in card
    assert "Not for: Pricing." in card and "`not_for`" not in card
    assert "✎ To fill in (model_card.yaml, `contact`)" in card
    assert "Class `yes` has only 3 rows (3.3 percent)" in card
    assert "Left out, so the model knows nothing of them: `id`." in card


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("intended_use: [unclosed", "not valid YAML"),
        ("purpose: x\n", "keys the model card"),
        ("not_for: [a, b]\n", "not_for must be text"),
        ("intended_use:\n  x: 1\n", "intended_use must be text"),
        ("contact: 12\n", "contact must be text"),
        ("- a list\n", "must be keys with text answers"),
        ("intended_use: &a [*a]\n", "intended_use must be text"),
    ],
)
def test_a_broken_notes_file_is_a_setting_error(tmp_path, content, problem):
    (tmp_path / "model_card.yaml").write_text(content)
    with pytest.raises(SettingsProblem, match=problem):
        read_notes(tmp_path / "model_card.yaml")


def test_a_broken_notes_file_stops_make_train_first_in_one_line(tmp_path, sample_frame):
    sample_frame.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "model_card.yaml").write_text("intended_use: [unclosed")
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.model.train"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        env=os.environ
        | {"DATA_PATH": "data.csv", "TARGET": TARGET, "MODEL_NAME": "card-test"}
        | {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"},
    )
    assert result.returncode == 2, result.stderr[-2000:]
    said = result.stderr.strip().splitlines()[-1]
    assert said.startswith("error:") and "model_card.yaml is not valid YAML" in said
    assert "Traceback" not in result.stderr and "Cross-validated" not in result.stdout
