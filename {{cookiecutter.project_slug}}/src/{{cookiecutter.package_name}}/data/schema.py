"""Infer what each column is, check the data can be trained on, and enforce it.

The schema is saved beside the model (schema.json) and is the contract with
serving: the API accepts exactly these columns, with these types.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .load import DataError

# A target with at most this many distinct whole-number values is a class label.
MAX_CLASSES = 20
DATE_PATTERN = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2})?)?$|^\d{1,2}/\d{1,2}/\d{2,4}$"
)
ID_NAME_PATTERN = re.compile(r"(^|[\s_-])(id|uuid|key)$", re.IGNORECASE)


@dataclass
class Cleaning:
    """What `prepare` did to the raw rows: shown in the report and logged to MLflow."""

    rows_in: int = 0
    duplicates_dropped: int = 0
    missing_target_dropped: int = 0
    excluded: dict[str, str] = field(default_factory=dict)

    @property
    def rows_out(self) -> int:
        return self.rows_in - self.duplicates_dropped - self.missing_target_dropped


def is_date_like(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(200)
    return len(sample) > 0 and sample.str.match(DATE_PATTERN).mean() > 0.9


def has_id_name(name: str, values: pd.Series) -> bool:
    """Named like an ID ("customer_id", "Order Key") and nearly unique."""
    present = values.dropna()
    return (
        bool(ID_NAME_PATTERN.search(name.strip()))
        and len(present) > 0
        and present.nunique() > 0.9 * len(present)
    )


def is_unique_text(values: pd.Series) -> bool:
    """Text with a different value on every row: names, codes, free text. Nothing to generalise from."""
    present = values.dropna()
    return (
        not pd.api.types.is_numeric_dtype(values)
        and len(present) > 20
        and present.nunique() == len(present)
    )


def is_id_like(name: str, values: pd.Series) -> bool:
    return has_id_name(name, values) or is_unique_text(values)


def numeric_share(values: pd.Series) -> float:
    present = values.dropna()
    if present.empty:
        return 0.0
    return pd.to_numeric(present, errors="coerce").notna().mean()


def infer_task(target: pd.Series) -> str:
    present = target.dropna()
    if not pd.api.types.is_numeric_dtype(present):
        return "classification"
    whole = np.all(np.equal(np.mod(present, 1), 0))
    return "classification" if whole and present.nunique() <= MAX_CLASSES else "regression"


def check_target(frame: pd.DataFrame, target: str, source: str) -> None:
    if target not in frame.columns:
        columns = ", ".join(repr(c) for c in frame.columns)
        raise DataError(
            f"Target column {target!r} is not in {source}. Its columns are: {columns}. "
            "Pass one of them: make train TARGET=<column>."
        )
    values = frame[target]
    if values.isna().all():
        raise DataError(
            f"Target column {target!r} is entirely missing. Choose a column with values."
        )
    if is_id_like(target, values) or is_date_like(values):
        raise DataError(
            f"Target column {target!r} looks like an ID or a date (a different value on every row), "
            "so there is nothing to learn. Choose the column you want to predict."
        )


def classify_columns(
    frame: pd.DataFrame,
    target: str,
    categorical: list[str],
    numeric: list[str],
    drop: list[str],
) -> tuple[list[str], list[str], dict[str, str]]:
    """Split the feature columns into numeric and categorical; say why others are excluded."""
    numeric_columns, categorical_columns, excluded = [], [], {}
    for name in frame.columns:
        if name == target:
            continue
        values = frame[name]
        if name in drop:
            excluded[name] = "dropped in settings (DROP_COLUMNS)"
        elif values.isna().all():
            raise DataError(
                f"Column {name!r} is entirely missing. Remove it from the CSV, or list it in "
                f"DROP_COLUMNS (e.g. DROP_COLUMNS='[\"{name}\"]' in .env)."
            )
        elif name in categorical:
            categorical_columns.append(name)
        elif name in numeric or pd.api.types.is_numeric_dtype(values):
            if numeric_share(values) < 1.0:
                bad = values.dropna()[pd.to_numeric(values.dropna(), errors="coerce").isna()]
                raise DataError(
                    f"Column {name!r} should be numeric but holds text such as "
                    f"{', '.join(repr(v) for v in bad.unique()[:3])}. Fix those values, or declare the "
                    "column categorical (CATEGORICAL_COLUMNS in .env)."
                )
            numeric_columns.append(name)
        elif is_date_like(values):
            excluded[name] = "date-like: not used as a feature"
        elif has_id_name(name, values):
            excluded[name] = "ID-like: an ID name and a different value on (nearly) every row"
        elif numeric_share(values) == 1.0:
            numeric_columns.append(name)  # numbers stored as text
        elif numeric_share(values) >= 0.8:
            bad = values.dropna()[pd.to_numeric(values.dropna(), errors="coerce").isna()]
            raise DataError(
                f"Column {name!r} is mostly numbers but also holds text such as "
                f"{', '.join(repr(v) for v in bad.unique()[:3])}. Clean those values, or declare the "
                "column categorical (CATEGORICAL_COLUMNS in .env)."
            )
        elif is_unique_text(values):
            excluded[name] = "ID-like: a different text value on every row"
        else:
            categorical_columns.append(name)
    if not numeric_columns and not categorical_columns:
        raise DataError(
            "No feature columns are left after excluding IDs, dates and dropped columns."
        )
    return numeric_columns, categorical_columns, excluded


def build_schema(
    features: pd.DataFrame,
    y: pd.Series,
    numeric: list[str],
    categorical: list[str],
    task: str,
    excluded: dict[str, str],
) -> dict:
    columns = []
    for name in features.columns:
        values = features[name]
        entry = {"name": name, "nullable": bool(values.isna().any())}
        if name in numeric:
            entry |= {"kind": "numeric", "min": float(values.min()), "max": float(values.max())}
        else:
            entry |= {
                "kind": "categorical",
                "categories": sorted(values.dropna().unique().tolist()),
            }
        columns.append(entry)
    schema = {
        "target": y.name,
        "task": task,
        "features": columns,
        "excluded": excluded,
    }
    if task == "classification":
        schema["classes"] = sorted(y.unique().tolist())
    identity = {
        "target": y.name,
        "task": task,
        "features": [(c["name"], c["kind"]) for c in columns],
    }
    schema["fingerprint"] = hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:12]
    return schema


def apply_schema(frame: pd.DataFrame, schema: dict) -> pd.DataFrame:
    """Select the feature columns in schema order, with the types the pipeline was fitted on."""
    names = [column["name"] for column in schema["features"]]
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise DataError(
            f"Columns {missing} are required by the model's schema but absent from the data."
        )
    features = frame[names].copy()
    for column in schema["features"]:
        name = column["name"]
        if column["kind"] == "numeric":
            features[name] = pd.to_numeric(features[name], errors="raise").astype("float64")
        else:
            # Categories are text, also where the file held numbers (e.g. zip codes).
            features[name] = (
                features[name].map(lambda v: v if pd.isna(v) else str(v)).astype(object)
            )
    return features
