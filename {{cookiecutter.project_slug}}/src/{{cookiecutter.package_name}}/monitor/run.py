"""The monitor's steps: find the log, read it, compare, report, print."""

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..config import load
from ..contract.bundle import Bundle, BundleError
from ..contract.drift_rules import prediction_value
from ..serve.internals.model_source import resolve_bundle
from ..serve.settings import ServeSettings
from .compare import ColumnDrift, compare
from .errors import MonitorError
from .evidently_report import evidently_report
from .read_log import LogRows, read_log
from .report import write_report
from .settings import MonitorSettings

console = Console()


def reference_bundle(serve: ServeSettings) -> Bundle:
    try:
        bundle = Bundle.load(resolve_bundle(serve.model_uri, serve.mlflow_tracking_uri))
    except BundleError as error:
        raise MonitorError(str(error)) from None
    if bundle.reference is None:
        raise MonitorError(
            f"{bundle.directory} has no reference.json (exported before monitoring existed): "
            "retrain with `make train`."
        )
    return bundle


def log_folder(serve: ServeSettings, settings: MonitorSettings, local: bool) -> tuple[Path, str]:
    """The deployed host's log when this project deploys and something is deployed."""
    if not local:
        try:
            from .fetch import fetch_deployed_log  # absent in a project without deploy code
        except ImportError:
            pass
        else:
            fetched = fetch_deployed_log(settings.fetched_dir, console)
            if fetched is not None:
                return fetched
    return Path(serve.log_dir), f"{serve.log_dir}/ (local)"


def print_table(results: list[ColumnDrift]) -> None:
    table = Table(title="Drift: live vs training")
    for column in ("column", "PSI", "p-value", "out of range / unseen", "drifted"):
        table.add_column(column, justify="left" if column == "column" else "right")
    for r in results:
        flag = "[red]yes[/]" if r.drifted else "no"
        table.add_row(r.name, f"{r.psi:.3f}", f"{r.p_value:.2g}", str(r.unexpected), flag)
    console.print(table)


def save_report(results, rows: LogRows, bundle: Bundle, settings: MonitorSettings, source: str):
    task, classes = bundle.schema.task, bundle.schema.classes
    predictions = [prediction_value(task, classes, row.output) for row in rows.over_time]
    model = f"{bundle.metadata.name} v{bundle.metadata.version}"
    try:
        return write_report(results, rows, model, settings, source, predictions)
    except OSError as error:
        raise MonitorError(
            f"Cannot write the report in {settings.reports_dir}/ ({error.strerror}): set "
            "REPORTS_DIR to a folder you can write."
        ) from None


def monitor(local: bool = False) -> bool:
    """Write the report; True when something drifted. Raises MonitorError on bad input."""
    serve, settings = load(ServeSettings), load(MonitorSettings)
    bundle = reference_bundle(serve)
    folder, source = log_folder(serve, settings, local)
    rows = read_log(folder, keep=settings.rows)
    skipped = rows.skipped_text()
    if len(rows.newest) < settings.min_rows:
        raise MonitorError(
            f"{source} has {rows.read} readable rows{f' ({skipped})' if skipped else ''}: "
            f"too few to tell drift from noise (MONITOR_MIN_ROWS={settings.min_rows}). "
            "Send more traffic, or lower MONITOR_MIN_ROWS."
        )
    task, classes = bundle.schema.task, bundle.schema.classes
    assert bundle.reference is not None  # reference_bundle() refuses a bundle without one
    results = compare(bundle.reference, rows.inputs, rows.outputs, task, classes, settings)
    written = save_report(results, rows, bundle, settings, source)
    print_table(results)
    if skipped:
        console.print(f"[yellow]{escape(skipped)}[/] in {escape(source)}", soft_wrap=True)
    drifted = [r.name for r in results if r.drifted]
    console.print(
        f"[red]Drift:[/] {', '.join(drifted)}." if drifted else "[green]No drift.[/]",
        f"Report: {written}",
    )
    extra = evidently_report(rows, bundle.schema.names, settings.reports_dir)
    if extra is not None:
        console.print(f"Evidently's report: {extra}")
    return bool(drifted)
