"""From a raw table to features, target and schema: the cleaning that happens before the pipeline.

Only row-level work lives here (drop rows without a label, drop duplicates) and
the column decisions (decisions.py). Everything learned from the data
(imputation, clipping, encoding) lives inside the model pipeline instead, so
that serving applies exactly what training did.
"""

from dataclasses import dataclass, replace

import pandas as pd

from ..contract.bundle import Schema
from ..contract.values import category_text
from .decisions import (
    Options,
    check_named_columns,
    check_target,
    check_width,
    decide_columns,
    decide_target,
)
from .load import DataError
from .schema import Cleaning, build_schema


@dataclass
class Prepared:
    features: pd.DataFrame
    target: pd.Series
    schema: Schema
    cleaning: Cleaning
    # Which entity (a storm, a customer) each row belongs to, when a column is decided
    # `group`: every split keeps a group's rows on one side (model/evaluate.py).
    groups: pd.Series | None = None


def prepare(
    frame: pd.DataFrame,
    target: str,
    *,
    source: str = "the data",
    task: str | None = None,
    options: Options | None = None,
    cv_folds: int = 5,
    **overrides,
) -> Prepared:
    """`overrides` are Options fields, e.g. prepare(frame, "label", drop=["notes"])."""
    options = options or Options(**overrides)
    check_target(frame, target, source)
    check_named_columns(frame, options, source)
    check_width(frame, target, options, source)
    cleaning = Cleaning(rows_in=len(frame), csv=frame.attrs.get("csv", {}))
    options = replace(options, decimal=cleaning.csv.get("decimal", options.decimal))

    y, task, cleaning.task_reason, cleaning.target_merged = decide_target(
        frame[target], target, task, options.decimal
    )
    labelled = frame[y.notna()].assign(**{target: y[y.notna()]})
    cleaning.missing_target_dropped = len(frame) - len(labelled)
    deduplicated = labelled.drop_duplicates()
    cleaning.duplicates_dropped = len(labelled) - len(deduplicated)
    check_enough_rows(len(deduplicated), cv_folds)  # before columns are judged on too few

    cleaning.decisions, features = decide_columns(deduplicated, target, options)
    cleaning.excluded = {d.column: f"{d.kind}: {d.why}" for d in cleaning.decisions if not d.used}
    y = deduplicated[target]
    y = y.astype("int64") if task == "classification" and y.dtype == "Int64" else y
    y = y.astype("float64") if task == "regression" else y
    if task == "classification":
        check_classes(y, target, cv_folds)
    groups = group_of_each_row(deduplicated, cleaning, cv_folds)
    schema = build_schema(features, y, task, cleaning, options.min_category_count)
    return Prepared(
        features.reset_index(drop=True), y.reset_index(drop=True), schema, cleaning, groups
    )


def check_enough_rows(rows: int, cv_folds: int) -> None:
    if rows < 2 * cv_folds:
        raise DataError(
            f"Only {rows} usable row{'' if rows == 1 else 's'} after cleaning: too few for "
            f"{cv_folds}-fold cross-validation and a test split. Add rows, or lower CV_FOLDS."
        )


def group_of_each_row(rows: pd.DataFrame, cleaning: Cleaning, cv_folds: int) -> pd.Series | None:
    """The group column's values as text; a row without one is a group of its own."""
    column = next((d.column for d in cleaning.decisions if d.kind == "group"), None)
    if column is None:
        return None
    values = rows[column].reset_index(drop=True)
    groups = values.map(lambda v: None if pd.isna(v) else category_text(v).strip())
    groups = groups.where(groups.notna(), [f"row {i} (no group)" for i in range(len(groups))])
    cleaning.group_column = column
    if groups.nunique() < cv_folds + 1:
        raise DataError(
            f"Group column {column!r} has {groups.nunique()} groups: too few to keep each "
            f"group on one side of a test split and {cv_folds} cross-validation folds. Lower "
            "CV_FOLDS, or set GROUP_COLUMN=none if its rows are not related."
        )
    return groups.astype(object)


def label(value):
    """A class as the file wrote it: 1176, not numpy's np.int64(1176)."""
    return value.item() if hasattr(value, "item") else value


def check_classes(y: pd.Series, target: str, cv_folds: int) -> None:
    counts = y.value_counts()
    if len(counts) < 2:
        raise DataError(
            f"Target {target!r} has a single class ({label(counts.index[0])!r}): there is nothing to tell "
            "apart. Collect examples of the other class(es)."
        )
    if counts.min() < cv_folds:
        raise DataError(
            f"Class {label(counts.idxmin())!r} of target {target!r} has only {counts.min()} "
            f"row{'' if counts.min() == 1 else 's'}, fewer than "
            f"the {cv_folds} cross-validation folds. Collect more, or lower CV_FOLDS."
        )


def options_from(settings) -> Options:
    return Options(
        categorical=settings.categorical_columns,
        numeric=settings.numeric_columns,
        drop=settings.drop_columns,
        features=settings.feature_columns,
        normalise_categories=settings.normalise_categories,
        max_categories=settings.max_categories,
        dates=settings.date_columns,
        max_columns=settings.max_columns,
        min_category_count=settings.min_category_count,
        group=group_setting(settings.group_column),
    )


def group_setting(value: str | None) -> str | None:
    """GROUP_COLUMN: a column name; "none" (any case) turns detection off; unset detects."""
    if value and value.strip().casefold() == "none":
        return "none"
    return value or None


def load_and_prepare(settings) -> tuple[pd.DataFrame, Prepared]:
    """Read the CSV that the settings name and prepare it as they say. Returns (raw, prepared)."""
    from .load import read_csv

    raw = read_csv(settings.data_path, encoding=settings.csv_encoding)
    prepared = prepare(
        raw,
        settings.target,
        source=settings.data_path,
        task=settings.task,
        options=options_from(settings),
        cv_folds=settings.cv_folds,
    )
    return raw, prepared
