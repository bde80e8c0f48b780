"""Turn records into the inputs of the exported ONNX graph: one (n, 1) array per column.

Shared by the export check (training side) and by serving, so both feed the
graph the same way. No pandas here: for one row, building a DataFrame costs
more than the whole ONNX preprocessing.
"""

from collections.abc import Iterable, Mapping

import numpy as np

from .values import category_text, days_since_epoch, is_missing, normalise_category

# ONNX string tensors cannot hold NaN, so a missing category travels as "".
MISSING_CATEGORY = ""


def category_input(column: dict, values: list) -> np.ndarray:
    """What the pipeline's CategoryNormaliser does, done before the graph (ONNX has no NFKC)."""
    rule = normalise_category if column.get("normalise", True) else category_text
    texts = [None if is_missing(v) else rule(v) for v in values]
    return np.asarray([t or MISSING_CATEGORY for t in texts], dtype=object).reshape(-1, 1)


def date_input(column: dict, values: list) -> np.ndarray:
    """Dates enter the graph as days since 1970-01-01; the graph computes the date features."""
    days = [days_since_epoch(v, column["date_format"]) for v in values]
    return np.asarray(days, dtype=np.float32).reshape(-1, 1)


def onnx_feed(session, schema: dict, rows) -> dict[str, np.ndarray]:
    """`rows` is a list of dicts or a DataFrame; input order follows the schema's features."""
    records: Iterable[Mapping] = rows.to_dict("records") if hasattr(rows, "to_dict") else rows
    records = list(records)
    feed = {}
    for node, column in zip(session.get_inputs(), schema["features"], strict=True):
        values = [r.get(column["name"]) for r in records]
        if column["kind"] == "numeric":
            numbers = [np.nan if is_missing(v) else v for v in values]
            feed[node.name] = np.asarray(numbers, dtype=np.float32).reshape(-1, 1)
        elif column["kind"] == "date":
            feed[node.name] = date_input(column, values)
        else:
            feed[node.name] = category_input(column, values)
    return feed
