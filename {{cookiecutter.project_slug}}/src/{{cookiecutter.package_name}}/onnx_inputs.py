"""Turn records into the inputs of the exported ONNX graph: one (n, 1) array per column.

Shared by the export check (training side) and by serving, so both feed the
graph the same way. No pandas here: for one row, building a DataFrame costs
more than the whole ONNX preprocessing.
"""

from collections.abc import Iterable, Mapping

import numpy as np

# ONNX string tensors cannot hold NaN, so a missing category travels as "".
MISSING_CATEGORY = ""


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def onnx_feed(session, schema: dict, rows) -> dict[str, np.ndarray]:
    """`rows` is a list of dicts or a DataFrame; input order follows the schema's features."""
    records: Iterable[Mapping] = rows.to_dict("records") if hasattr(rows, "to_dict") else rows
    records = list(records)
    feed = {}
    for node, column in zip(session.get_inputs(), schema["features"], strict=True):
        name = column["name"]
        if column["kind"] == "numeric":
            values = [np.nan if _is_missing(r.get(name)) else r[name] for r in records]
            feed[node.name] = np.asarray(values, dtype=np.float32).reshape(-1, 1)
        else:
            values = [
                MISSING_CATEGORY if _is_missing(r.get(name)) else str(r[name]) for r in records
            ]
            feed[node.name] = np.asarray(values, dtype=object).reshape(-1, 1)
    return feed
