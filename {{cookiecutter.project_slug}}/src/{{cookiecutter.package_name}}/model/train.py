"""`make train`: clean the data, train and evaluate the pipeline, track it in MLflow,
register it, and export the champion for serving.

    python -m {{ cookiecutter.package_name }}.model.train --data data/raw/file.csv --target column
"""

import logging
import os
import re
import shutil
import subprocess
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import mlflow
import typer
from mlflow.data import pandas_dataset
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import __version__, cli
from ..config import PROJECT_MODEL_NAME, Settings, load_settings
from ..contract.bundle import (
    Metadata,
    Schema,
    publish,
    staging_folder,
    trusted_types_of,
    write_bundle,
)
from ..data.prepare import Prepared, load_and_prepare
from ..data.report import decisions_table, read_as, write_report
from .card import CardFacts, model_card, read_notes
from .errors import BaselineNotBeaten, ModelsFolderError, TrackingStoreError
from .evaluate import PRIMARY_METRIC, cross_validated, held_out, hold_out_split
from .onnx.export import to_onnx_bundle
from .pipeline import device_of, make_baseline, make_pipeline
from .plots import evaluation_plots
from .reference import build_reference, served_answers
from .registry import (
    champion_lock,
    check_tracking_store,
    log_model,
    promote_if_better,
    repair_export,
    restore_champion,
    tracking_problem,
)

console = Console()
app = typer.Typer(add_completion=False, help=__doc__)
PACKAGE_DIR = Path(__file__).resolve().parents[1]
MAX_TABLE_ROWS = 40  # column decisions shown in the terminal; the report has them all


# Off a terminal (a log file, CI, `make train | tee`), how often a long step says it still runs.
HEARTBEAT_S = 30.0


@contextmanager
def step(title: str):
    start = time.perf_counter()
    if console.is_terminal:
        with console.status(f"{title}..."):
            yield
    else:
        # No spinner in a log: say the step started, then that it still runs, so minutes of
        # cross-validation on a large file never look like a hang.
        console.print(f"… {title}: running")
        with heartbeat(title, start):
            yield
    console.print(f"[green]✓[/] {title} [dim]({time.perf_counter() - start:.1f}s)[/]")


@contextmanager
def heartbeat(title: str, start: float):
    stopped = threading.Event()

    def beat() -> None:
        while not stopped.wait(HEARTBEAT_S):
            console.print(f"… {title}: still running ({time.perf_counter() - start:.0f}s)")

    thread = threading.Thread(target=beat, name="train-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join()


def registered_name(settings: Settings, data_path: str, schema: Schema) -> str:
    """The project's name for its own data set; for another one, a name per data set, target
    and columns, so a model with other columns never competes with (or replaces) this one."""
    if settings.model_name:
        return settings.model_name
    stem = Path(data_path.split("?")[0]).stem
    raw = f"{stem}-{schema.target}-{schema.fingerprint[:8]}"
    return re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")


def git_commit() -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return result.stdout.strip() or "unknown"


def train(settings: Settings) -> dict:
    """Run the whole training job; return a summary. Raises DataError or a TrainingError."""
    # First the cheap checks that can fail: minutes of training must not end in "read-only".
    check_tracking_store(settings.mlflow_tracking_uri, settings.experiment_name)
    check_models_folder(settings.models_dir)
    notes = read_notes(settings.model_card_notes)
    with step(f"Loaded {settings.data_path}"):
        raw, prepared = load_and_prepare(settings)
    schema = prepared.schema
    cleaning = prepared.cleaning
    console.print(
        f"  {cleaning.rows_in:,} rows in, {cleaning.duplicates_dropped} duplicates and "
        f"{cleaning.missing_target_dropped} unlabelled rows dropped; {len(schema.features)} features, "
        f"task: [bold]{schema.task}[/]; left out: {', '.join(cleaning.excluded) or 'nothing'}"
    )
    console.print(f"  {escape(read_as(cleaning.csv))}")  # the encoding guess and how sure it is
    print_decisions(prepared)

    split = hold_out_split(
        prepared.features,
        prepared.target,
        schema.task,
        settings.test_size,
        settings.seed,
        prepared.groups,
    )
    X_train, X_test, y_train, y_test = split
    groups = count_group_sides(prepared, split)
    fitted = fit_and_evaluate(
        settings, schema, schema.task, X_train, X_test, y_train, y_test, groups=groups
    )
    figures = settings.reports_dir / "figures"
    with step("Wrote plots and the data report"):
        plots = evaluation_plots(
            fitted.pipeline, X_test, y_test, schema.task, figures, settings.seed
        )
        report = write_report(raw, prepared, settings.reports_dir)
    with step("Exported to ONNX for fast serving"):
        onnx_model, onnx_scope, onnx_notes = to_onnx_bundle(
            fitted.pipeline, schema, X_test.head(200)
        )
    console.print(f"  ONNX: {onnx_scope or 'not convertible; serving will use scikit-learn'}")
    for note in onnx_notes:  # never silent: the model then serves from scikit-learn
        console.print(f"  [yellow]ONNX: {escape(note)}; scikit-learn serves that part[/]")
    facts = card_facts(settings, prepared, schema, fitted, split, notes, plots, onnx_scope)
    name = registered_name(settings, settings.data_path, schema)
    try:
        return track_and_publish(
            settings, name, raw, schema, fitted, X_test, facts, report, onnx_model, onnx_scope
        )
    except MlflowException as error:
        raise TrackingStoreError(tracking_problem(settings.mlflow_tracking_uri, error)) from None


def count_group_sides(prepared: Prepared, split):
    """The training split's groups (for its folds), counted on each side for the report."""
    if prepared.groups is None:
        return None
    train_groups = prepared.groups.loc[split[0].index]
    sides = {"train": train_groups.nunique(), "test": prepared.groups.loc[split[1].index].nunique()}
    prepared.cleaning.group_sides = sides
    console.print(
        f"  groups ({prepared.cleaning.group_column}): {sides['train']:,} in the training split, "
        f"{sides['test']:,} in the test split, none on both sides"
    )
    return train_groups.to_numpy()


def check_models_folder(models_dir: Path) -> None:
    """Can the champion be exported to models/? A real write, as for the tracking store."""
    try:
        probe = staging_folder(models_dir)
        (probe / "probe").write_text("")
        shutil.rmtree(probe)
    except OSError as error:
        raise ModelsFolderError(
            f"The models folder {models_dir} cannot be written ({error.strerror or error}): "
            "nothing would be exported for serving. Make it writable by you, or set "
            "MODELS_DIR to a folder you can write to."
        ) from None


def card_facts(settings, prepared, schema: Schema, fitted, split, notes, plots, onnx_scope):
    """What the model card says about the data, the split and the scores (model/card.py)."""
    cleaning = prepared.cleaning
    counts = prepared.target.value_counts().sort_index() if schema.task == "classification" else []
    return CardFacts(
        target=schema.target,
        task=schema.task,
        model=settings.model,
        data_path=settings.data_path,
        rows_in=cleaning.rows_in,
        rows_used=cleaning.rows_out,
        duplicates_dropped=cleaning.duplicates_dropped,
        missing_target_dropped=cleaning.missing_target_dropped,
        decisions=decisions_table(prepared),
        train_rows=len(split[0]),
        test_rows=len(split[1]),
        folds=settings.cv_folds,
        metric=fitted.metric,
        metrics=fitted.metrics,
        class_counts={str(label): int(count) for label, count in dict(counts).items()},
        date_spans=[(f.name, f.earliest, f.latest) for f in schema.features if f.kind == "date"],
        notes=notes,
        plots=plots,
        onnx=onnx_scope,
        group_column=cleaning.group_column,
        group_sides=cleaning.group_sides,
    )


@dataclass
class Fitted:
    pipeline: Any
    metric: str
    metrics: dict
    rows_used: int
    X_train: Any = None  # the training split, for the monitoring reference


def fit_and_evaluate(
    settings: Settings, schema: Schema, task: str, X_train, X_test, y_train, y_test, groups=None
):
    """Cross-validate against a baseline (the gate to pass), then fit and score on the test split.
    `groups`: the training rows' groups, kept apart by the folds."""
    metric = PRIMARY_METRIC[task]
    pipeline = make_pipeline(schema, settings.model, settings.seed)
    device, why = device_of(pipeline)
    console.print(f"  device: {device} ({escape(why)})")
    folds, seed = settings.cv_folds, settings.seed
    with step(f"Cross-validated {settings.model} and a baseline ({settings.cv_folds} folds)"):
        cv = cross_validated(pipeline, X_train, y_train, task, folds, seed, groups)
        baseline_cv = cross_validated(
            make_baseline(task), X_train, y_train, task, folds, seed, groups
        )
    # The same signed numbers the table shows: an R² below zero stays below zero.
    if cv[f"cv_{metric}"] < baseline_cv[f"cv_{metric}"] + settings.baseline_margin:
        raise BaselineNotBeaten(
            f"The model's cross-validated {metric} ({cv[f'cv_{metric}']:.4f}) does not beat the "
            f"baseline's ({baseline_cv[f'cv_{metric}']:.4f}) by {settings.baseline_margin}: it learned "
            "nothing useful. Check the target column, add informative features, or try another MODEL."
        )
    with step("Fitted on the training split and scored on the test split"):
        pipeline.fit(X_train, y_train)
        test = held_out(pipeline, X_test, y_test, task)
        baseline_test = held_out(make_baseline(task).fit(X_train, y_train), X_test, y_test, task)
    metrics = cv | test | {f"baseline_{k}": v for k, v in (baseline_cv | baseline_test).items()}
    return Fitted(pipeline, metric, metrics, len(X_train) + len(X_test), X_train)


def track_and_publish(
    settings,
    name,
    raw,
    schema: Schema,
    fitted: Fitted,
    X_test,
    facts: CardFacts,
    report,
    onnx_model,
    onnx_scope,
) -> dict:
    """Log the run, register the version; under the lock: gate, move the alias, export."""
    with step(f"Logged the run to MLflow and registered '{name}'"), mlflow.start_run() as run:
        log_run(settings, raw, schema, fitted, facts.plots, report, onnx_scope)
        info = log_model(fitted.pipeline, X_test, name, PACKAGE_DIR)
        version = str(info.registered_model_version)
        metadata = Metadata(
            name=name,
            version=version,
            run_id=run.info.run_id,
            metrics=fitted.metrics,
            primary_metric=fitted.metric,
            model=settings.model,
            onnx=onnx_scope,
            trusted_types=trusted_types_of(fitted.pipeline),
            trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
            code_version=git_commit(),
            package_version=__version__,
        )
        head = X_test.head(1)
        example = head.astype(object).where(head.notna(), None).to_dict("records")
        reference = build_reference(
            schema, fitted.X_train, served_answers(fitted.pipeline, X_test, schema)
        )
        card = write_card(settings, facts, metadata)
        staging = staging_folder(settings.models_dir)
        try:
            staged = staging / "bundle"
            write_bundle(
                staged, fitted.pipeline, schema, example, metadata, onnx_model, reference, card
            )
            mlflow.log_artifacts(str(staged), "bundle")
            promotion = gate_and_export(settings, name, version, fitted, schema, staged, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        mlflow.set_tags({"promoted": str(promotion.promoted), "promotion": promotion.reason})
    return {
        "name": name,
        "version": version,
        "run_id": run.info.run_id,
        "task": schema.task,
        "metric": fitted.metric,
        "metrics": fitted.metrics,
        "promotion": promotion,
        "schema": schema,
        "onnx": onnx_scope,
        "bundle_dir": settings.bundle_dir(name),
    }


def write_card(settings, facts: CardFacts, metadata: Metadata) -> str:
    """The model card for this version, in reports/ (and, returned, for the bundle)."""
    card = model_card(
        replace(
            facts,
            plots=[path.name for path in facts.plots],
            name=metadata.name,
            version=metadata.version,
            run_id=metadata.run_id,
            trained_at=metadata.trained_at,
            code_version=metadata.code_version,
        )
    )
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    (settings.reports_dir / "model_card.md").write_text(card, encoding="utf-8")
    mlflow.log_text(card, "model_card.md")
    return card


def gate_and_export(settings, name, version, fitted: Fitted, schema: Schema, staged, staging):
    """Under the lock: repair an interrupted export, compare, move the alias, export.

    No other `make train` runs in between. The alias moves first; if the export then fails
    the alias is moved back, and if the process is killed in between, the next run's
    repair_export finishes the export from MLflow.
    """
    link = settings.bundle_dir(name)
    with champion_lock(settings.models_dir, name):
        repaired = repair_export(MlflowClient(), name, link, staging / "champion")
        if repaired:
            console.print(f"[yellow]{escape(repaired)}[/]", soft_wrap=True)
        promotion = promote_if_better(
            MlflowClient(),
            name,
            version,
            fitted.metrics[f"test_{fitted.metric}"],
            fitted.metric,
            settings.promotion_floor,
            schema.fingerprint,
        )
        if promotion.promoted:
            try:
                publish(staged, link)
            except BaseException:
                restore_champion(MlflowClient(), name, promotion.previous_version)
                raise
    return promotion


def log_run(settings, raw, schema: Schema, fitted: Fitted, plots, report, onnx_scope) -> None:
    device, why = device_of(fitted.pipeline)
    mlflow.log_params(
        {
            "model": settings.model,
            "task": schema.task,
            "seed": settings.seed,
            "cv_folds": settings.cv_folds,
            "test_size": settings.test_size,
            "data_path": settings.data_path,
            "target": schema.target,
            "rows_used": fitted.rows_used,
            "features": len(schema.features),
            "onnx": onnx_scope or "none",
            "device": device,
        }
    )
    mlflow.set_tag("coldstart.device", f"{device} ({why})")
    mlflow.log_metrics(fitted.metrics)
    with warnings.catch_warnings():
        # MLflow's own notes about itself on every run ("the source can be interpreted in
        # multiple ways", pandas 4's keyword-only arguments): nothing a learner can act on.
        warnings.simplefilter("ignore")
        dataset = pandas_dataset.from_pandas(raw, source=settings.data_path, targets=schema.target)
    mlflow.log_input(dataset, context="training")
    for path in plots:
        mlflow.log_artifact(str(path), "plots")
    mlflow.log_artifacts(str(report.parent), "data_report")
    mlflow.log_dict(schema.model_dump(mode="json"), "schema.json")


def print_decisions(prepared: Prepared) -> None:
    """The column decisions table (data/decisions.py), also in reports/data_report.md."""
    table = Table(title="Column decisions", title_justify="left")
    frame = decisions_table(prepared)
    for column in frame.columns:
        table.add_column(column, overflow="fold")
    for row in frame.head(MAX_TABLE_ROWS).itertuples(index=False):
        table.add_row(*(str(value) for value in row))
    console.print(table)
    if len(frame) > MAX_TABLE_ROWS:
        console.print(f"  ... and {len(frame) - MAX_TABLE_ROWS:,} more columns in the data report")


def print_summary(result: dict) -> None:
    metrics = result["metrics"]
    table = Table(title=f"{result['name']} v{result['version']}")
    table.add_column("metric")
    for column in ("cross-validated", "test", "baseline (test)"):
        table.add_column(column, justify="right")
    names = sorted({key.split("_", 1)[1] for key in metrics if key.startswith("test_")})
    for metric in names:
        table.add_row(
            metric + (" *" if metric == result["metric"] else ""),
            f"{metrics.get(f'cv_{metric}', float('nan')):.4f}",
            f"{metrics[f'test_{metric}']:.4f}",
            f"{metrics[f'baseline_test_{metric}']:.4f}",
        )
    console.print(table)
    promotion = result["promotion"]
    if promotion.promoted:
        console.print(f"[green]Promoted[/] v{promotion.version} to @champion: {promotion.reason}.")
        console.print(f"Exported to {result['bundle_dir']}/")
        if result["name"] != PROJECT_MODEL_NAME:  # `make serve` alone serves the project's own
            console.print(f"Serve it: make serve MODEL_URI={result['bundle_dir']}")
    elif promotion.previous_version is None:
        console.print(
            f"[yellow]Not promoted[/]: {promotion.reason}. There is no champion yet, so nothing "
            f"was exported to {result['bundle_dir']}/ and there is nothing to serve."
        )
    else:
        console.print(
            f"[yellow]Not promoted[/]: {promotion.reason}. "
            f"@champion stays v{promotion.previous_version}."
        )


def settings_from_command_line(**overrides) -> Settings:
    """Settings from .env and the environment, with the command line on top.

    DATA/TARGET on the command line mean another data set than the project's own: it
    gets a registered name (and models/ folder) of its own unless MODEL_NAME is set.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    settings = load_settings(**given)
    other_data = "data_path" in given or "target" in given
    if other_data and settings.model_name == PROJECT_MODEL_NAME:
        return settings.model_copy(update={"model_name": None})  # settings are frozen
    return settings


@app.command()
def main(
    data: Annotated[str | None, typer.Option(help="CSV file or s3://bucket/key.csv")] = None,
    target: Annotated[str | None, typer.Option(help="Column to predict")] = None,
    # Plain text, checked by the settings: a bad MODEL= is the same one line from make, .env
    # or the environment (typer's own check would print a usage box instead).
    model: Annotated[str | None, typer.Option(help="Model to train (MODEL)")] = None,
    task: Annotated[str | None, typer.Option(help="Override the inferred task (TASK)")] = None,
) -> None:
    # A bad setting or data set: exit 2; a TrainingError: exit 1 (cli.run says it in one line).
    settings = settings_from_command_line(data_path=data, target=target, model=model, task=task)
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")  # MLflow probes git; stay quiet without it
    # Every MLflow error becomes one message below; its store logs a full traceback first.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    print_summary(train(settings))


if __name__ == "__main__":
    cli.run(app)
