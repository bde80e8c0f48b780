"""Turn records into the inputs of the exported ONNX graph (one (n, 1) array per column), and
decide whether its answers agree with scikit-learn's.

Shared by the export check (training side) and by serving, so both feed the
graph the same way and judge it by the same rule. No pandas here: for one row,
building a DataFrame costs more than the whole ONNX preprocessing.
"""

import numpy as np

from .values import category_reader, date_reader, is_missing

# ONNX string tensors cannot hold NaN, so a missing category travels as "".
MISSING_CATEGORY = ""


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


class OnnxFeed:
    """Builds the graph's inputs from rows; made once per session, used for every request.

    Rows are tuples of values in the schema's feature order (what serving has after
    validation), so no per-row dict or DataFrame is built.
    """

    def __init__(self, session, schema):
        # get_inputs() builds new Python objects on every call: read the names once.
        inputs = zip(session.get_inputs(), schema.features, strict=True)
        # Floats (numbers, and dates as days since 1970-01-01, from which the graph computes
        # the date features) and text: (position in a row, conversion) and the input names.
        self.floats, self.float_names, self.text, self.text_names = [], [], [], []
        for position, (node, column) in enumerate(inputs):
            if column.kind == "categorical":  # what the pipeline's CategoryNormaliser does
                self.text.append((position, category_reader(column.normalise)))
                self.text_names.append(node.name)
            else:
                days = date_reader(column.date_format) if column.kind == "date" else None
                self.floats.append((position, days))
                self.float_names.append(node.name)

    def __call__(self, rows: list[tuple]) -> dict[str, np.ndarray]:
        # Per request this runs once per kind, not once per column or value where it can:
        # Python-level loops cost more than onnxruntime's work on one row.
        if len(rows) == 1:  # /predict: read the one row's values directly (a third faster)
            (row,) = rows
            floats = [row[i] if read is None else read(row[i]) for i, read in self.floats]
            texts = [
                MISSING_CATEGORY if is_missing(v := row[i]) else read(v) or MISSING_CATEGORY
                for i, read in self.text
            ]
        else:
            columns = list(zip(*rows, strict=True))  # rows -> one tuple per column, in C
            floats = [
                columns[i] if read is None else [read(v) for v in columns[i]]
                for i, read in self.floats
            ]
            texts = [
                [
                    MISSING_CATEGORY if is_missing(v) else read(v) or MISSING_CATEGORY
                    for v in columns[i]
                ]
                for i, read in self.text
            ]
        feed: dict[str, np.ndarray] = {}
        if floats:
            # numpy turns None into NaN itself when the dtype is float. Shaped
            # (columns, rows, 1), each column comes out as a contiguous (rows, 1) view.
            block = np.array(floats, dtype=np.float32).reshape(len(floats), -1, 1)
            feed.update(zip(self.float_names, block, strict=True))
        if texts:
            block = np.array(texts, dtype=object).reshape(len(texts), -1, 1)
            feed.update(zip(self.text_names, block, strict=True))
        return feed


def as_rows(schema, rows) -> list[tuple]:
    """A list of dicts (column name -> value) or a DataFrame, as tuples in feature order."""
    names = schema.names
    if hasattr(rows, "to_dict"):
        frame = rows[names].astype(object)
        return list(frame.where(frame.notna(), None).itertuples(index=False, name=None))
    return [tuple(record.get(name) for name in names) for record in rows]


def onnx_feed(session, schema, rows) -> dict[str, np.ndarray]:
    """`rows` is a list of dicts or a DataFrame; input order follows the (bundle.Schema) features."""
    return OnnxFeed(session, schema)(as_rows(schema, rows))


class OnnxScorer:
    """Probabilities (classification) or values (regression) through the ONNX graph.

    scope "pipeline": the graph is the whole pipeline. "preprocessing": the graph makes
    the feature matrix and `model` (the fitted final estimator) predicts from it.
    Everything that does not change between calls is looked up once, here.
    """

    def __init__(self, session, scope: str, model, schema):
        self.session, self.scope, self.model = session, scope, model
        self.classification = schema.task == "classification"
        self.feed = OnnxFeed(session, schema)
        outputs = [node.name for node in session.get_outputs()]
        # Pipeline graphs answer (label, probabilities): ask only for the probabilities,
        # as the label is a string tensor that is slow to copy out.
        wanted = outputs[1] if self.classification and scope == "pipeline" else outputs[0]
        self.outputs = [wanted]

    def __call__(self, rows: list[tuple]) -> np.ndarray:
        (result,) = self.session.run(self.outputs, self.feed(rows))
        if self.scope == "preprocessing":
            model = self.model
            return model.predict_proba(result) if self.classification else model.predict(result)
        return result if self.classification else result.ravel()


def onnx_scores(session, scope: str, model, schema, rows) -> np.ndarray:
    """`rows` is a list of dicts or a DataFrame (see OnnxScorer)."""
    return OnnxScorer(session, scope, model, schema)(as_rows(schema, rows))
