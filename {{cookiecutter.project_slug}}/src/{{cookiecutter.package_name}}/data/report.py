"""`make data-report`: what is dirty in the data, and what cleaning does about it.

Writes reports/data_report.md with PNG plots beside it. Training writes and
logs the same report with every MLflow run.
"""

from pathlib import Path

import matplotlib
import typer

matplotlib.use("Agg")  # draw to files; no screen needed
import matplotlib.pyplot as plt
import pandas as pd

from .. import cli
from .prepare import Prepared

# Beyond 3 inter-quartile ranges from the middle half: a gross outlier, not just a large value.
OUTLIER_IQR_FACTOR = 3.0
CLIP_QUANTILES = (0.01, 0.99)  # the pipeline's QuantileClipper defaults
MAX_BARS = 30  # a chart shows the 30 columns with the most missing values


def cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def decisions_table(prepared: Prepared) -> pd.DataFrame:
    """The column decisions table: column -> kind -> why -> what was done (data/decisions.py)."""
    schema = prepared.schema
    done = "rows without a value dropped"
    if prepared.cleaning.target_merged:
        done += "; " + spellings(prepared.cleaning.target_merged)
    rows = [(schema.target, "target", schema.task_reason or schema.task, done)]
    rows += [
        (d.column, d.kind if d.used else f"{d.kind} (left out)", d.why, d.done)
        for d in prepared.cleaning.decisions
    ]
    return pd.DataFrame(rows, columns=["column", "kind", "why", "what was done"])


def spellings(merged: dict) -> str:
    return "; ".join(
        f"{' / '.join(repr(v) for v in variants)} -> {name!r}" for name, variants in merged.items()
    )


def read_as(csv: dict) -> str:
    """How the file was read: the separators, the encoding and how sure its detection is."""
    if not csv:
        return ""
    read = (
        f"Read as {csv['encoding']}, {csv['delimiter']}-separated, decimal point '{csv['decimal']}'"
    )
    sure = csv.get("encoding_confidence")
    return read + (f"; encoding {sure} ({csv['encoding_why']})." if sure else ".")


def groups_section(prepared: Prepared) -> str:
    cleaning = prepared.cleaning
    if not cleaning.group_column:
        return "- none: no column groups rows (GROUP_COLUMN names one)"
    assert prepared.groups is not None  # prepare() gives each row its group with the column
    groups = prepared.groups.nunique()
    line = f"- `{cleaning.group_column}`: {groups:,} groups, each kept on one side of every split"
    if cleaning.group_sides:
        sides = cleaning.group_sides
        line += f"; {sides['train']:,} in the training split, {sides['test']:,} in the test split"
    return line


def merged_spellings(prepared: Prepared) -> str:
    lines = [
        f"- `{column.name}`: "
        + "; ".join(
            f"{' / '.join(repr(v) for v in variants)} -> {name!r}"
            for name, variants in column.merged.items()
        )
        for column in prepared.schema.features
        if column.merged
    ]
    return "\n".join(lines) or "- none: every category had one spelling"


def missing_values(raw: pd.DataFrame, prepared: Prepared) -> pd.DataFrame:
    kinds = {c.name: c.kind for c in prepared.schema.features}
    handling = {
        "numeric": "median + was-missing flag",
        "categorical": 'filled with "missing"',
        "date": "median of the date features",
    }
    missing = raw.isna().sum()

    def after_cleaning(column: str) -> str:
        if column == prepared.schema.target and missing[column]:
            return "rows dropped"
        excluded = prepared.cleaning.excluded.get(column)
        return excluded or (handling[kinds[column]] if missing[column] else "-")

    return pd.DataFrame(
        {
            "column": raw.columns,
            "missing": missing.values,
            "share": [f"{100 * v:.1f}%" for v in missing.values / len(raw)],
            "after cleaning": [after_cleaning(c) for c in raw.columns],
        }
    )


def outliers(prepared: Prepared) -> pd.DataFrame:
    rows = []
    for column in (c.name for c in prepared.schema.features if c.kind == "numeric"):
        values = prepared.features[column].dropna()
        q1, q3 = values.quantile([0.25, 0.75])
        spread = OUTLIER_IQR_FACTOR * (q3 - q1)
        gross = ((values < q1 - spread) | (values > q3 + spread)).sum()
        low, high = values.quantile(list(CLIP_QUANTILES))
        rows.append(
            {
                "column": column,
                "min": f"{values.min():,.2f}",
                "max": f"{values.max():,.2f}",
                "gross outliers": int(gross),
                "clipped to (1%-99%)": f"[{low:,.2f}, {high:,.2f}]",
            }
        )
    return pd.DataFrame(rows)


def target_section(prepared: Prepared, figures: Path) -> str:
    y = prepared.target
    figure, axis = plt.subplots(figsize=(5, 3))
    if prepared.schema.task == "classification":
        counts = y.value_counts()
        counts.plot.bar(ax=axis)
        axis.set_title("Target classes")
        shares = ", ".join(
            f"{label!s}: {count:,} ({100 * count / len(y):.1f}%)" for label, count in counts.items()
        )
        text = f"Classes after cleaning: {shares}."
        if counts.min() / counts.max() < 0.5:
            text += " The classes are imbalanced: accuracy alone would flatter a model; watch F1 and ROC-AUC."
    else:
        y.plot.hist(bins=40, ax=axis)
        axis.set_title("Target distribution")
        text = f"Target after cleaning: mean {y.mean():,.2f}, median {y.median():,.2f}, min {y.min():,.2f}, max {y.max():,.2f}."
    figure.tight_layout()
    figure.savefig(figures / "target.png", dpi=100)
    plt.close(figure)
    return text + "\n\n![target](figures/target.png)"


def write_report(raw: pd.DataFrame, prepared: Prepared, folder: Path) -> Path:
    folder = Path(folder)
    figures = folder / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    missing = missing_values(raw, prepared)
    outlier_table = outliers(prepared)

    figure, axis = plt.subplots(figsize=(6, 0.3 * min(len(missing), MAX_BARS) + 1.5))
    missing.set_index("column")["missing"].sort_values().tail(MAX_BARS).plot.barh(ax=axis)
    axis.set_title("Missing values per column (raw data)")
    figure.tight_layout()
    figure.savefig(figures / "missing_values.png", dpi=100)
    plt.close(figure)

    cleaning = prepared.cleaning
    csv = cleaning.csv
    sections = [
        "# Data report",
        f"Target: `{prepared.schema.target}` ({prepared.schema.task}).",
        "## Rows",
        f"- rows in the file: {cleaning.rows_in:,}\n- exact duplicates dropped: {cleaning.duplicates_dropped:,}\n"
        f"- rows without a target dropped: {cleaning.missing_target_dropped:,}\n- rows used: {cleaning.rows_out:,}",
        "## Column decisions",
        f"{read_as(csv)} Every rule is explained in `data/decisions.py`; schema.json keeps these "
        "decisions, and the saved pipeline applies them to every request.",
        markdown_table(decisions_table(prepared)),
        "### Merged spellings of categories",
        merged_spellings(prepared),
        "### Merged spellings of the target",
        f"- `{prepared.schema.target}`: {spellings(cleaning.target_merged)}"
        if cleaning.target_merged
        else "- none: every class had one spelling",
        "### Groups",
        groups_section(prepared),
        "## Missing values",
        "Imputation happens inside the model pipeline, learned on the training split only.",
        markdown_table(missing),
        "![missing values](figures/missing_values.png)",
        "## Outliers (numeric columns)",
        "Gross outliers lie more than 3 IQRs outside the middle half. The pipeline clips every "
        "numeric column to its 1st-99th percentile range, learned on the training split.",
        markdown_table(outlier_table) if len(outlier_table) else "No numeric columns.",
        "## Target",
        target_section(prepared, figures),
    ]
    path = folder / "data_report.md"
    path.write_text("\n\n".join(sections) + "\n")
    return path


app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0])


@app.command()
def main() -> None:
    from ..config import load_settings
    from .prepare import load_and_prepare

    # A bad setting or data set: one line and exit 2, as `make train` says it (cli.run).
    settings = load_settings()
    raw, prepared = load_and_prepare(settings)
    print(f"Wrote {write_report(raw, prepared, settings.reports_dir)}")


if __name__ == "__main__":
    cli.run(app)
