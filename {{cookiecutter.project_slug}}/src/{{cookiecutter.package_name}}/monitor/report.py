"""reports/monitoring.md: what drifted, why, and by how much; with its plots."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .compare import ColumnDrift
from .plots import predictions_over_time, reference_vs_live
from .read_log import LogRows
from .settings import MonitorSettings


def why(result: ColumnDrift) -> str:
    """The bin whose share moved most, in words."""
    moved = int(np.argmax(np.abs(result.observed - result.expected)))
    return (
        f"`{result.labels[moved]}` went from {100 * result.expected[moved]:.1f}% of rows in training "
        f"to {100 * result.observed[moved]:.1f}% live"
    )


def table(results: list[ColumnDrift]) -> list[str]:
    lines = [
        "| column | kind | PSI | p-value (chi²) | out of range / unseen | drifted |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.kind} | {r.psi:.3f} | {r.p_value:.2g} | {r.unexpected} "
            f"| {'**yes**' if r.drifted else 'no'} |"
        )
    return lines


def write_report(
    results: list[ColumnDrift],
    rows: LogRows,
    model: str,
    settings: MonitorSettings,
    source: str,
    predictions: list,
) -> Path:
    """`predictions`: what drift watches (drift_rules.prediction_value) of rows.over_time."""
    folder = settings.reports_dir
    figures = folder / "figures" / "monitoring"
    drifted = [r for r in results if r.drifted]
    versions = ", ".join(f"v{v} ({n:,} rows)" for v, n in sorted(rows.versions().items()))
    lines = [
        f"# Monitoring: {model}",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Log: {source} ({len(rows.files)} file(s), "
        f"{rows.read:,} readable rows); compared the last {len(rows.newest):,} with the "
        f"training reference. {rows.skipped_text() or 'No lines skipped'}. "
        f"Model versions in the compared rows: {versions}.",
        "",
        f"Rule: a column drifted when PSI >= {settings.psi_threshold} and the chi-squared "
        f"p-value < {settings.p_value} (MONITOR_PSI_THRESHOLD, MONITOR_P_VALUE).",
        "",
        *table(results),
        "",
        f"## Drifted: {', '.join(r.name for r in drifted) or 'nothing'}",
        "",
    ]
    for result in drifted:
        plot = reference_vs_live(result, figures)
        lines += [f"### {result.name}", "", f"PSI {result.psi:.2f}: {why(result)}.", ""]
        lines += [f"![{result.name}]({plot.relative_to(folder).as_posix()})", ""]
    times = [row.time for row in rows.over_time]
    plot = predictions_over_time(times, predictions, figures)
    lines += [
        "## Predictions over time",
        "",
        f"![predictions]({plot.relative_to(folder).as_posix()})",
    ]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "monitoring.md"
    path.write_text("\n".join(lines) + "\n")
    return path
