"""From a raw table to features, target and schema: the cleaning that happens before the pipeline.

Only row-level decisions live here (drop duplicates, drop rows without a
label, leave out ID and date columns). Everything learned from the data
(imputation, clipping, encoding) lives inside the model pipeline instead, so
that serving applies exactly what training did.
"""

from dataclasses import dataclass

import pandas as pd

from .load import DataError
from .schema import Cleaning, apply_schema, build_schema, check_target, classify_columns, infer_task


@dataclass
class Prepared:
    features: pd.DataFrame
    target: pd.Series
    schema: dict
    cleaning: Cleaning


def prepare(
    frame: pd.DataFrame,
    target: str,
    *,
    source: str = "the data",
    task: str | None = None,
    categorical: list[str] | None = None,
    numeric: list[str] | None = None,
    drop: list[str] | None = None,
    cv_folds: int = 5,
) -> Prepared:
    check_target(frame, target, source)
    cleaning = Cleaning(rows_in=len(frame))

    labelled = frame.dropna(subset=[target])
    cleaning.missing_target_dropped = len(frame) - len(labelled)
    deduplicated = labelled.drop_duplicates()
    cleaning.duplicates_dropped = len(labelled) - len(deduplicated)

    numeric_columns, categorical_columns, cleaning.excluded = classify_columns(
        deduplicated, target, categorical or [], numeric or [], drop or []
    )
    task = task or infer_task(deduplicated[target])
    y = deduplicated[target]
    if task == "classification":
        y = y.astype(object) if not pd.api.types.is_numeric_dtype(y) else y.astype("int64")
        check_classes(y, target, cv_folds)
    else:
        if not pd.api.types.is_numeric_dtype(y):
            raise DataError(
                f"Target {target!r} holds text, so it cannot be a regression target. "
                "Set TASK=classification, or choose a numeric target."
            )
        y = y.astype("float64")
    if len(y) < 2 * cv_folds:
        raise DataError(
            f"Only {len(y)} usable rows after cleaning: too few for {cv_folds}-fold cross-validation "
            "and a test split. Add rows, or lower CV_FOLDS."
        )

    ordered = numeric_columns + categorical_columns
    draft = {"features": [{"name": n, "kind": "numeric"} for n in numeric_columns]}
    draft["features"] += [{"name": n, "kind": "categorical"} for n in categorical_columns]
    features = apply_schema(deduplicated[ordered], draft)
    schema = build_schema(
        features, y, numeric_columns, categorical_columns, task, cleaning.excluded
    )
    return Prepared(features.reset_index(drop=True), y.reset_index(drop=True), schema, cleaning)


def check_classes(y: pd.Series, target: str, cv_folds: int) -> None:
    counts = y.value_counts()
    if len(counts) < 2:
        raise DataError(
            f"Target {target!r} has a single class ({counts.index[0]!r}): there is nothing to tell "
            "apart. Collect examples of the other class(es)."
        )
    if counts.min() < cv_folds:
        raise DataError(
            f"Class {counts.idxmin()!r} of target {target!r} has only {counts.min()} rows, fewer than "
            f"the {cv_folds} cross-validation folds. Collect more, or lower CV_FOLDS."
        )


def load_and_prepare(settings) -> tuple[pd.DataFrame, Prepared]:
    """Read the CSV that the settings name and prepare it as they say. Returns (raw, prepared)."""
    from .load import read_csv

    raw = read_csv(settings.data_path)
    prepared = prepare(
        raw,
        settings.target,
        source=settings.data_path,
        task=settings.task,
        categorical=settings.categorical_columns,
        numeric=settings.numeric_columns,
        drop=settings.drop_columns,
        cv_folds=settings.cv_folds,
    )
    return raw, prepared
