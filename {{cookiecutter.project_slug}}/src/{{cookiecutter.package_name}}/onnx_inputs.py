"""Turn records into the inputs of the exported ONNX graph (one (n, 1) array per column), and
decide whether its answers agree with scikit-learn's.

Shared by the export check (training side) and by serving, so both feed the
graph the same way and judge it by the same rule. No pandas here: for one row,
building a DataFrame costs more than the whole ONNX preprocessing.
"""

from collections.abc import Iterable, Mapping

import numpy as np

from .values import category_text, days_since_epoch, is_missing, normalise_category

# ONNX string tensors cannot hold NaN, so a missing category travels as "".
MISSING_CATEGORY = ""


def category_input(column, values: list) -> np.ndarray:
    """What the pipeline's CategoryNormaliser does, done before the graph (ONNX has no NFKC)."""
    rule = normalise_category if column.normalise else category_text
    texts = [None if is_missing(v) else rule(v) for v in values]
    return np.asarray([t or MISSING_CATEGORY for t in texts], dtype=object).reshape(-1, 1)


def date_input(column, values: list) -> np.ndarray:
    """Dates enter the graph as days since 1970-01-01; the graph computes the date features."""
    days = [days_since_epoch(v, column.date_format) for v in values]
    return np.asarray(days, dtype=np.float32).reshape(-1, 1)


# Probabilities may differ by this much; predicted values by this much of their magnitude
# (ONNX computes in float32, about 7 significant digits).
AGREEMENT_TOLERANCE = 1e-4


def agrees(served, expected, task: str) -> bool:
    """Do ONNX's answers (probabilities or values) match scikit-learn's closely enough?"""
    served, expected = np.asarray(served, dtype=float), np.asarray(expected, dtype=float)
    if served.shape != expected.shape:
        return False
    if task == "classification":
        return bool(np.allclose(served, expected, rtol=0, atol=AGREEMENT_TOLERANCE))
    scale = max(1.0, float(np.abs(expected).max()))
    return bool(np.allclose(served, expected, rtol=0, atol=AGREEMENT_TOLERANCE * scale))


def onnx_feed(session, schema, rows) -> dict[str, np.ndarray]:
    """`rows` is a list of dicts or a DataFrame; input order follows the (bundle.Schema) features."""
    records: Iterable[Mapping] = rows.to_dict("records") if hasattr(rows, "to_dict") else rows
    records = list(records)
    feed = {}
    for node, column in zip(session.get_inputs(), schema.features, strict=True):
        values = [r.get(column.name) for r in records]
        if column.kind == "numeric":
            numbers = [np.nan if is_missing(v) else v for v in values]
            feed[node.name] = np.asarray(numbers, dtype=np.float32).reshape(-1, 1)
        elif column.kind == "date":
            feed[node.name] = date_input(column, values)
        else:
            feed[node.name] = category_input(column, values)
    return feed


def onnx_scores(session, scope: str, model, schema, rows) -> np.ndarray:
    """Probabilities (classification) or values (regression) through the ONNX graph.

    scope "pipeline": the graph is the whole pipeline. "preprocessing": the graph makes
    the feature matrix and `model` (the fitted final estimator) predicts from it.
    """
    outputs = session.run(None, onnx_feed(session, schema, rows))
    classification = schema.task == "classification"
    if scope == "preprocessing":
        return model.predict_proba(outputs[0]) if classification else model.predict(outputs[0])
    return outputs[1] if classification else outputs[0].ravel()
