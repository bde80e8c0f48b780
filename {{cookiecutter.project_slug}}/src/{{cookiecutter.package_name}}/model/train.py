"""`make train`: clean the data, train and evaluate the pipeline, track it in MLflow,
register it, and export the champion for serving.

    python -m {{ cookiecutter.package_name }}.model.train --data data/raw/file.csv --target column
"""

import os
import re
import subprocess
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import mlflow
import typer
from mlflow.tracking import MlflowClient
from rich.console import Console
from rich.table import Table
from sklearn.model_selection import train_test_split

from .. import __version__
from ..bundle import save_bundle
from ..config import ModelKind, Settings, Task
from ..data.load import DataError
from ..data.prepare import Prepared, load_and_prepare
from ..data.report import decisions_table, write_report
from .evaluate import PRIMARY_METRIC, cross_validated, held_out
from .export import to_onnx_bundle
from .pipeline import make_baseline, make_pipeline
from .plots import evaluation_plots
from .registry import log_model, promote_if_better

console = Console()
# Errors go to stderr, unwrapped, so scripts and logs get the whole message on one line.
errors = Console(stderr=True, soft_wrap=True)
app = typer.Typer(add_completion=False, help=__doc__)
PACKAGE_DIR = Path(__file__).resolve().parents[1]
MAX_TABLE_ROWS = 40  # column decisions shown in the terminal; the report has them all


class BaselineNotBeaten(RuntimeError):
    """The model is no better than always guessing the same answer."""


@contextmanager
def step(title: str):
    start = time.perf_counter()
    with console.status(f"{title}..."):
        yield
    console.print(f"[green]✓[/] {title} [dim]({time.perf_counter() - start:.1f}s)[/]")


def registered_name(settings: Settings, data_path: str, prepared: Prepared) -> str:
    """A name per data set, target and columns, so different schemas never compete."""
    if settings.model_name:
        return settings.model_name
    stem = Path(data_path.split("?")[0]).stem
    raw = f"{stem}-{prepared.schema['target']}-{prepared.schema['fingerprint'][:8]}"
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
    """Run the whole training job; return a summary. Raises DataError or BaselineNotBeaten."""
    with step(f"Loaded {settings.data_path}"):
        raw, prepared = load_and_prepare(settings)
    schema, task = prepared.schema, prepared.schema["task"]
    cleaning = prepared.cleaning
    console.print(
        f"  {cleaning.rows_in:,} rows in, {cleaning.duplicates_dropped} duplicates and "
        f"{cleaning.missing_target_dropped} unlabelled rows dropped; {len(schema['features'])} features, "
        f"task: [bold]{task}[/]; left out: {', '.join(cleaning.excluded) or 'nothing'}"
    )
    print_decisions(prepared)

    X_train, X_test, y_train, y_test = train_test_split(
        prepared.features,
        prepared.target,
        test_size=settings.test_size,
        random_state=settings.seed,
        stratify=prepared.target if task == "classification" else None,
    )
    metric = PRIMARY_METRIC[task]
    pipeline = make_pipeline(schema, settings.model, settings.seed)
    with step(f"Cross-validated {settings.model} and a baseline ({settings.cv_folds} folds)"):
        cv = cross_validated(pipeline, X_train, y_train, task, settings.cv_folds, settings.seed)
        baseline_cv = cross_validated(
            make_baseline(task), X_train, y_train, task, settings.cv_folds, settings.seed
        )
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

    run_dir = Path(tempfile.mkdtemp(prefix="train-"))
    figures = settings.reports_dir / "figures"
    with step("Wrote plots and the data report"):
        plots = evaluation_plots(pipeline, X_test, y_test, task, figures, settings.seed)
        report = write_report(raw, prepared, settings.reports_dir)
    with step("Exported to ONNX for fast serving"):
        onnx_model, onnx_scope = to_onnx_bundle(pipeline, schema, X_test.head(200))
    console.print(f"  ONNX: {onnx_scope or 'not convertible; serving will use scikit-learn'}")

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_experiment(settings.experiment_name)
    name = registered_name(settings, settings.data_path, prepared)
    metrics = cv | test | {f"baseline_{k}": v for k, v in (baseline_cv | baseline_test).items()}
    with step(f"Logged the run to MLflow and registered '{name}'"), mlflow.start_run() as run:
        mlflow.log_params(
            {
                "model": settings.model,
                "task": task,
                "seed": settings.seed,
                "cv_folds": settings.cv_folds,
                "test_size": settings.test_size,
                "data_path": settings.data_path,
                "target": schema["target"],
                "rows_used": cleaning.rows_out,
                "features": len(schema["features"]),
                "onnx": onnx_scope or "none",
            }
        )
        mlflow.log_metrics(metrics)
        mlflow.log_input(
            mlflow.data.from_pandas(raw, source=settings.data_path, targets=schema["target"]),
            context="training",
        )
        for path in plots:
            mlflow.log_artifact(str(path), "plots")
        mlflow.log_artifacts(str(report.parent), "data_report")
        mlflow.log_dict(schema, "schema.json")
        info = log_model(pipeline, X_train, name, PACKAGE_DIR)
        version = str(info.registered_model_version)
        promotion = promote_if_better(
            MlflowClient(),
            name,
            version,
            test[f"test_{metric}"],
            metric,
            settings.promotion_floor,
            schema["fingerprint"],
        )
        mlflow.set_tags({"promoted": str(promotion.promoted), "promotion": promotion.reason})
        metadata = {
            "name": name,
            "version": version,
            "run_id": run.info.run_id,
            "metrics": metrics,
            "primary_metric": metric,
            "model": settings.model,
            "onnx": onnx_scope,
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "code_version": git_commit(),
            "package_version": __version__,
        }
        example = (
            X_test.head(1).astype(object).where(X_test.head(1).notna(), None).to_dict("records")
        )
        staged = save_bundle(run_dir / "bundle", pipeline, schema, example, metadata, onnx_model)
        mlflow.log_artifacts(str(staged), "bundle")

    if promotion.promoted:
        save_bundle(settings.champion_dir, pipeline, schema, example, metadata, onnx_model)
    return {
        "name": name,
        "version": version,
        "run_id": run.info.run_id,
        "task": task,
        "metric": metric,
        "metrics": metrics,
        "promotion": promotion,
        "schema": schema,
        "onnx": onnx_scope,
    }


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
    else:
        console.print(f"[yellow]Not promoted[/]: {promotion.reason}. @champion stays as it was.")


@app.command()
def main(
    data: Annotated[str | None, typer.Option(help="CSV file or s3://bucket/key.csv")] = None,
    target: Annotated[str | None, typer.Option(help="Column to predict")] = None,
    model: Annotated[ModelKind | None, typer.Option(help="Model to train")] = None,
    task: Annotated[Task | None, typer.Option(help="Override the inferred task")] = None,
) -> None:
    overrides = {"data_path": data, "target": target, "model": model, "task": task}
    settings = Settings(**{key: value for key, value in overrides.items() if value is not None})
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")  # MLflow probes git; stay quiet without it
    try:
        result = train(settings)
    except DataError as error:
        errors.print(f"[red]Data error:[/] {error}")
        raise typer.Exit(2) from error
    except BaselineNotBeaten as error:
        errors.print(f"[red]Training failed:[/] {error}")
        raise typer.Exit(1) from error
    print_summary(result)


if __name__ == "__main__":
    app()
