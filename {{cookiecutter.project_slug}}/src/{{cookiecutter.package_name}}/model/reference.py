"""The reference statistics for monitoring (reference.json in the bundle).

What the training data looked like, column by column, and what the model predicted
on the test split: the service and `make monitor` compare live traffic with these.
A few kilobytes: bins and shares, never rows (no personal data leaves training).
"""

import numpy as np
import pandas as pd

from ..contract.bundle import Feature, Schema
from ..contract.drift_rules import Distribution, Reference, prediction_value
from ..contract.values import category_text, days_since_epoch, is_missing, normalise_category

# Ten quantile bins: enough to see a shift, few enough to fill with a few hundred requests.
BINS = 10


def numeric_distribution(values: pd.Series) -> Distribution:
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    present = numbers.dropna()
    missing = 1 - len(present) / max(len(numbers), 1)
    if present.empty:
        return Distribution(kind="numeric", missing=missing, edges=[0.0, 0.0], proportions=[1.0])
    edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)))
    if len(edges) == 1:
        edges = np.array([edges[0], edges[0]])
    draft = Distribution(kind="numeric", edges=edges.tolist(), proportions=[0.0] * (len(edges) - 1))
    counts = np.bincount([draft.bin_of(v) for v in present], minlength=len(edges) - 1)
    shares = counts[: len(edges) - 1] / len(present)
    return draft.model_copy(update={"missing": missing, "proportions": shares.tolist()})


def categorical_distribution(values: pd.Series, normalise: bool = False) -> Distribution:
    """Category shares as the model sees them: normalised like the pipeline's
    CategoryNormaliser where the schema says so (contract/values.py, the one rule)."""
    rule = normalise_category if normalise else category_text
    texts = values.map(lambda v: None if is_missing(v) else rule(v)).dropna()
    missing = 1 - len(texts) / max(len(values), 1)
    shares = texts.value_counts(normalize=True).sort_index()
    return Distribution(
        kind="categorical",
        missing=missing,
        frequencies={str(k): float(v) for k, v in shares.items()},
        normalise=normalise,
    )


def feature_distribution(values: pd.Series, feature: Feature) -> Distribution:
    if feature.kind == "categorical":
        return categorical_distribution(values, feature.normalise)
    if feature.kind == "date":  # as the model sees it: days since 1970
        date_format = feature.date_format
        if date_format is None:
            raise ValueError(f"schema: date column {feature.name!r} has no date_format")
        days = values.map(lambda v: days_since_epoch(v, date_format))
        return numeric_distribution(days).model_copy(update={"date_format": date_format})
    return numeric_distribution(values)


def distribution_of(values: pd.Series, kind: str) -> Distribution:
    return numeric_distribution(values) if kind == "numeric" else categorical_distribution(values)


def build_reference(schema: Schema, X_train: pd.DataFrame, answers: list[dict]) -> Reference:
    """Training columns as the pipeline saw them; `answers` are the served answers
    (Predictor's format) on the test split."""
    features = {f.name: feature_distribution(X_train[f.name], f) for f in schema.features}
    watched = pd.Series([prediction_value(schema.task, schema.classes, a) for a in answers])
    kind = "categorical" if watched.map(lambda v: isinstance(v, str)).any() else "numeric"
    if schema.task == "classification" and not (schema.classes and len(schema.classes) == 2):
        kind = "categorical"
    return Reference(
        rows=len(X_train), features=features, prediction=distribution_of(watched, kind)
    )


def served_answers(pipeline, X_test: pd.DataFrame, schema: Schema) -> list[dict]:
    """The test split's predictions in the service's answer format."""
    if schema.task == "regression":
        return [{"prediction": float(v)} for v in pipeline.predict(X_test)]
    classes = list(pipeline.classes_)
    return [
        {
            "prediction": classes[int(np.argmax(row))],
            "probabilities": dict(zip(map(str, classes), row, strict=True)),
        }
        for row in pipeline.predict_proba(X_test)
    ]
