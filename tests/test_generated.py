"""Run what a learner runs in a baked project: its Makefile and its own test suite."""

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .conftest import bake, project_env, require, run_in

pytestmark = pytest.mark.slow

# A baked project's tests where the task option changes what happens.
WHAT_THE_TASK_CHANGES = [
    "tests/data", "tests/model", "tests/serve", "tests/monitor", "tests/contract/test_bundle.py",
    "tests/contract/test_onnx_inputs.py",
]  # fmt: skip
# Where the model option does: training, export, the bundle, serving it, the image's contents.
WHAT_THE_MODEL_CHANGES = [
    "tests/model", "tests/serve", "tests/contract/test_bundle.py", "tests/contract/test_onnx_inputs.py",
    "tests/container/test_build.py",
]  # fmt: skip


@dataclass(frozen=True)
class Suite:
    """A bake and the part of its own suite that the template runs."""

    context: dict
    marks: str  # a -m expression for the whole part; "slow" and "not slow" are added to it
    paths: tuple = ()
    with_slow: bool = True  # other models run their fast tests only

    def command(self, speed: str) -> list[str]:
        marks = f"{speed} and ({self.marks})" if self.marks else speed
        return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
                "-m", marks, *self.paths]  # fmt: skip


SUITES = {
    "classification-default": Suite({}, ""),
    # The machinery no task or model option changes (log files, HTTP limits, the registry's
    # repairs, collect, audit, deploy, containers, k8s) ran in the default bake: once is a
    # test, twice only minutes. The task changes data, model, serve and monitor: those again.
    "regression-linear": Suite(
        {"task": "regression", "model": "linear"},
        "not same_for_every_model",
        tuple(WHAT_THE_TASK_CHANGES),
    ),
    **{
        model: Suite(
            {
                "task": "regression" if model == "hist_gradient_boosting" else "classification",
                "model": model,
            },
            "not same_for_every_model",
            tuple(WHAT_THE_MODEL_CHANGES),
            with_slow=False,
        )
        for model in ("random_forest", "hist_gradient_boosting", "xgboost")
    },
}


class FastParts:
    """Every selected suite's fast part (no servers, no timing), all started at once: each
    is one process that keeps one core busy (OpenMP at one thread), so on CI's two cores
    they take about half the time they took one after another. The slow parts (real servers,
    timeouts measured) run one at a time, after every fast part has finished."""

    def __init__(self, projects: dict[str, Path]):
        self.projects = projects
        self.runs = {}
        for name, project in projects.items():
            output = (project.parent / "fast-part.log").open("w+")
            process = subprocess.Popen(
                SUITES[name].command("not slow"), cwd=project, env=project_env(project),
                stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
            self.runs[name] = (process, output)

    def result(self, name: str) -> tuple[int, str]:
        process, output = self.runs[name]
        returncode = process.wait(timeout=1800)
        output.seek(0)
        return returncode, output.read()

    def wait_for_all(self) -> None:
        for process, _ in self.runs.values():
            process.wait(timeout=1800)

    def stop(self) -> None:
        for process, output in self.runs.values():
            if process.poll() is None:
                process.kill()
            process.wait()
            output.close()


@pytest.fixture(scope="module")
def fast_parts(request, tmp_path_factory):
    """Only the suites this session selected: a test run alone bakes and runs its own."""
    selected = [
        item.callspec.params["suite"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_generated_test_suite_passes"
    ]
    projects = {name: bake(tmp_path_factory.mktemp(name), **SUITES[name].context)
                for name in dict.fromkeys(selected)}  # fmt: skip
    parts = FastParts(projects)
    yield parts
    parts.stop()


@pytest.mark.parametrize("suite", list(SUITES))
def test_generated_test_suite_passes(fast_parts, suite):
    returncode, said = fast_parts.result(suite)
    assert returncode == 0, said[-9000:]
    assert " passed" in said and " skipped" not in said
    if SUITES[suite].with_slow:
        fast_parts.wait_for_all()
        project = fast_parts.projects[suite]
        result = subprocess.run(
            SUITES[suite].command("slow"),
            cwd=project,
            env=project_env(project),
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
        assert " passed" in result.stdout and " skipped" not in result.stdout


def test_a_project_without_xgboost_refuses_model_xgboost_in_one_line(tmp_path):
    project = bake(tmp_path)  # model=hist_gradient_boosting: no xgboost_model.py, no packages
    for command in (["--model", "xgboost"], []):
        result = run_in(
            project,
            sys.executable,
            "-m",
            "churn_predictor.model.train",
            *command,
            env={} if command else {"MODEL": "xgboost"},
        )
        assert result.returncode == 2, result.stdout + result.stderr
        assert "generated without XGBoost (the template's model=xgboost option" in result.stderr
        assert "Traceback" not in result.stderr


def make(project, *targets: str, **variables: str):
    require(shutil.which("make") is not None, "make is not installed")
    assignments = [f"{key}={value}" for key, value in ({"PY": sys.executable} | variables).items()]
    return run_in(project, "make", *targets, *assignments)


def test_make_data_report_and_train(default_project):
    result = make(default_project, "data", "data-report", "train")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert (default_project / "data" / "raw" / "customers.csv").is_file()
    report = (default_project / "reports" / "data_report.md").read_text()
    assert "## Missing values" in report and "duplicates dropped" in report
    served = default_project / "models" / "churn-predictor"
    metadata = json.loads((served / "metadata.json").read_text())
    assert metadata["version"] == "1" and metadata["metrics"]["test_roc_auc"] > 0.7
    assert "Promoted v1 to @champion" in result.stdout
    assert (default_project / "mlflow.db").is_file()
    # The README: train again, the same seed gives the same score, a tie never promotes.
    again = make(default_project, "train")
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]
    assert "Not promoted" in again.stdout and "ties champion v1" in again.stdout
    assert json.loads((served / "metadata.json").read_text())["version"] == "1"


def unseen_csv(path) -> None:
    """A data set the template has never seen: other columns, messy names, its own target."""
    rng = np.random.default_rng(1)
    rows = 600
    frame = pd.DataFrame(
        {
            "Policy #": [f"P-{i:05d}" for i in range(rows)],
            "Driver Age (yrs)": rng.integers(18, 80, rows).astype(float),
            "Car Value €": rng.normal(20000, 6000, rows).round(),
            "Région": rng.choice(["Nord", "Sud", "Île-de-France"], rows),
        }
    )
    risk = 0.04 * (60 - frame["Driver Age (yrs)"]) + (frame["Région"] == "Île-de-France") * 1.2
    frame["Had Claim?"] = np.where(risk + rng.normal(0, 0.8, rows) > 0.8, "yes", "no")
    frame.loc[rng.random(rows) < 0.05, "Car Value €"] = np.nan
    frame.to_csv(path, index=False)


def test_train_on_your_own_csv(tmp_path):
    project = bake(tmp_path / "bake")
    assert make(project, "train").returncode == 0
    csv = tmp_path / "claims.csv"
    unseen_csv(csv)
    result = make(project, "train", DATA=str(csv), TARGET="Had Claim?")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    # Its own registered name and folder: it never replaces the sample's champion.
    (own,) = (project / "models").glob("claims-had-claim-*")
    metadata = json.loads((own / "metadata.json").read_text())
    assert metadata["name"] == own.name and metadata["version"] == "1"
    # `make serve` alone serves the sample's model: training says how to serve this one.
    assert f"Serve it: make serve MODEL_URI=models/{own.name}" in " ".join(result.stdout.split())
    sample = json.loads((project / "models" / "churn-predictor" / "metadata.json").read_text())
    assert sample["name"] == "churn-predictor" and sample["version"] == "1"
    schema = json.loads((own / "schema.json").read_text())
    assert [c["name"] for c in schema["features"]] == ["Driver Age (yrs)", "Car Value €", "Région"]
    assert schema["excluded"] == {
        "Policy #": "id: ID name and a different value on (nearly) every row"
    }


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_spreadsheet_export_trains_first_try(tmp_path, task):
    """The spreadsheet export through `make train` on the first try, with no settings.
    (The messy-data corpus itself runs in both tasks' whole suites, above.)"""
    project = bake(tmp_path / "bake", task=task)
    write = "from tests.data.corpus import spreadsheet_export as f; open('listings.csv', 'wb').write(f())"
    assert run_in(project, sys.executable, "-c", write).returncode == 0
    result = make(project, "train", DATA="listings.csv", TARGET="Monthly rent")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "Column decisions" in result.stdout and "Promoted v1 to @champion" in result.stdout
    report = (project / "reports" / "data_report.md").read_text()
    for column in ("Listing ID", "Listed on", "Neighbourhood", "Bedrooms", "Notes"):
        assert f"| {column} |" in report


def test_bad_csv_fails_with_the_fix_and_exit_code(tmp_path):
    project = bake(tmp_path / "bake")
    csv = tmp_path / "mine.csv"
    csv.write_text("a,b\n1,2\n3,4\n")
    result = make(project, "train", DATA=str(csv), TARGET="price")
    assert result.returncode != 0
    assert "Target column 'price' is not in" in result.stderr and "TARGET=" in result.stderr
