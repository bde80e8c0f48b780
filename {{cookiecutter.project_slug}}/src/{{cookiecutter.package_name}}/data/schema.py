"""The schema: the contract with serving, written beside the model as schema.json.

It lists the features in the order the pipeline expects, each with its kind and
decision (why, what was done), the values or ranges seen in training, the
target and task, and the decision for every other column of the file.
"""

import hashlib
import json
from dataclasses import dataclass, field

import pandas as pd

from ..contract.bundle import Schema
from .decisions import Decision


@dataclass
class Cleaning:
    """What `prepare` did to the raw rows: shown in the report and logged to MLflow."""

    rows_in: int = 0
    duplicates_dropped: int = 0
    missing_target_dropped: int = 0
    excluded: dict[str, str] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    task_reason: str = ""
    csv: dict = field(default_factory=dict)
    target_merged: dict = field(default_factory=dict)  # class -> the spellings merged into it
    group_column: str | None = None
    group_sides: dict = field(default_factory=dict)  # {"train": groups, "test": groups}

    @property
    def rows_out(self) -> int:
        return self.rows_in - self.duplicates_dropped - self.missing_target_dropped


def feature_entry(decision: Decision, values: pd.Series) -> dict:
    entry = {"name": decision.column, "kind": decision.kind, "nullable": bool(values.isna().any())}
    entry["decision"] = {"why": decision.why, "done": decision.done}
    details = decision.details
    if decision.kind == "numeric":
        entry |= {"min": float(values.min()), "max": float(values.max())}
        entry |= {k: details[k] for k in ("unit", "unit_factors") if k in details}
    elif decision.kind == "categorical":
        entry |= {k: details[k] for k in ("categories", "normalise", "merged")}
    else:
        entry |= {k: details[k] for k in ("date_format", "reference_days", "earliest", "latest")}
    return entry


def build_schema(
    features: pd.DataFrame, y: pd.Series, task: str, cleaning: Cleaning, rare_category_rows: int
) -> Schema:
    used = {d.column: d for d in cleaning.decisions if d.used}
    columns = [feature_entry(used[name], features[name]) for name in features.columns]
    schema = {
        "target": y.name,
        "task": task,
        "task_reason": cleaning.task_reason,
        "features": columns,
        "excluded": cleaning.excluded,
        "decisions": [d.as_dict() for d in cleaning.decisions],
        "csv": cleaning.csv,
        # How the file writes numbers, for reading a request written the same way.
        "number_format": {
            "decimal": cleaning.csv.get("decimal", "."),
            "thousands": cleaning.csv.get("thousands", ","),
        },
        "target_merged": cleaning.target_merged,
        # The pipeline groups categories seen in fewer training rows than this.
        "rare_category_rows": rare_category_rows,
    }
    if cleaning.group_column:  # serving ignores it: a request is one row, not a group
        decision = next(d for d in cleaning.decisions if d.column == cleaning.group_column)
        schema["group"] = {"column": cleaning.group_column, "groups": decision.details["groups"]}
    if task == "classification":
        schema["classes"] = sorted(y.unique().tolist())
    schema["fingerprint"] = fingerprint(y.name, task, columns, cleaning.group_column)
    return Schema.model_validate(schema)  # typed from here on, as serving reads it


def fingerprint(target, task: str, columns: list[dict], group_column: str | None) -> str:
    """What makes two runs' scores comparable: the same target, task, features and grouping."""
    identity: dict = {
        "target": target,
        "task": task,
        "features": [(c["name"], c["kind"]) for c in columns],
    }
    if group_column:  # scored on unseen groups: never compared with a score on seen ones
        identity["group"] = group_column
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:12]
