"""Bundle -> predictions, by the fastest path that gives the same answers as scikit-learn.

    "onnx:pipeline"       the whole pipeline runs in onnxruntime (the usual case: random
                          forest, linear models and HistGradientBoosting all convert)
    "onnx:preprocessing"  onnxruntime preprocesses, scikit-learn's model predicts on the
                          numpy array (a fallback for a model whose trees do not convert)
    "sklearn"             the saved scikit-learn pipeline on a pandas DataFrame (slower)

The scope words are metadata.json's `onnx` field. At load time the ONNX path is
checked against scikit-learn on the stored input example with the same rule the
export used (onnx_inputs.agrees); if they disagree, scikit-learn serves. If the
scikit-learn pipeline is missing or unreadable and the graph holds the whole
pipeline, ONNX serves alone (a lean image always does); a tampered one (a type off
the allow-list) stops the whole bundle.
"""

import logging
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas is imported only where scikit-learn serves
    import pandas as pd

from ..contract.bundle import Bundle, BundleError, UntrustedBundle
from ..contract.onnx_inputs import OnnxScorer, agrees, as_rows

log = logging.getLogger(__name__)


class Predictor:
    def __init__(self, loaded: Bundle):
        self.bundle = loaded
        self.schema, self.metadata, self.example = loaded.schema, loaded.metadata, loaded.example
        self.task = self.schema.task
        # Sorted labels: the column order of the probabilities, as scikit-learn's classes_.
        self.classes = self.schema.classes
        # JSON object keys are text: the probabilities' keys, made once.
        self.class_keys = [str(c) for c in self.classes or []]
        self.session = None  # onnxruntime's InferenceSession, where the graph serves
        self.scope: str | None = None
        self.onnx: OnnxScorer | None = None
        # Why the bundle's scikit-learn pipeline was refused or missing (shown on /readyz).
        self.pipeline_problem: str | None = None
        # Why this mode serves, in words (the service's "Serving ..." line says it).
        self.why = "the bundle has no model.onnx"
        self.pipeline = self._load_pipeline()
        if loaded.onnx_path is not None:
            self._try_onnx(loaded.onnx_path, loaded.metadata.onnx)
        if self.pipeline is None and self.scope != "pipeline":
            reason = self.pipeline_problem or "scikit-learn is not installed (a lean image)."
            raise BundleError(
                f"{reason} The ONNX graph cannot serve alone "
                f"(metadata.json onnx: {loaded.metadata.onnx}): retrain (`make train`), or "
                "rebuild the image with the full serving dependencies."
            )

    @property
    def mode(self) -> str:
        return f"onnx:{self.scope}" if self.scope else "sklearn"

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def version(self) -> str:
        return self.metadata.version

    def _load_pipeline(self):
        """The scikit-learn pipeline, or None where it is not installed or missing.

        A file that asks for a type we never load means someone tampered with the bundle:
        nothing in it is served, not even its ONNX graph (UntrustedBundle propagates).
        """
        try:
            return self.bundle.load_pipeline()
        except ImportError:  # a lean image: ONNX serves alone, as intended
            pass
        except UntrustedBundle:
            raise
        except BundleError as error:
            self.pipeline_problem = str(error)
            log.error("Not loading the scikit-learn pipeline: %s", error)
        return None

    def _try_onnx(self, path, scope) -> None:
        try:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            # One thread per worker process: workers give the parallelism.
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
            self.scope = scope
            model = self.pipeline[-1] if self.pipeline is not None else None
            self.onnx = OnnxScorer(self.session, scope, model, self.schema)
            fast = self.onnx(as_rows(self.schema, self.example))
        except Exception as error:  # a broken or unloadable ONNX file must not stop serving
            log.warning("ONNX model not usable (%s); serving with scikit-learn.", error)
            self.session, self.scope, self.onnx = None, None, None
            self.why = f"model.onnx is not usable ({type(error).__name__})"
            return
        if self.pipeline is None:
            # Nothing to compare with here; training checked this graph on 200 test rows.
            self.why = "no scikit-learn pipeline here to check it; training checked it on test rows"
            return
        if not agrees(fast, self._sklearn_scores(self.example), self.task):
            log.warning(
                "ONNX and scikit-learn disagree on the input example; serving with scikit-learn."
            )
            self.session, self.scope, self.onnx = None, None, None
            self.why = "ONNX and scikit-learn disagree on the input example"
            return
        self.why = "the ONNX graph agrees with scikit-learn on the input example"
        log.debug("ONNX (%s) and scikit-learn agree on the input example", scope)

    def frame(self, rows: list) -> "pd.DataFrame":
        """The DataFrame the scikit-learn pipeline was fitted on: schema order, NaN for missing.

        `rows`: dicts (column name -> value) or tuples in the schema's feature order."""
        import pandas as pd

        frame = pd.DataFrame.from_records(rows, columns=self.schema.names)
        # A number missing from every row would make an object column, which the pipeline
        # treats differently from the float column it was fitted on: one record alone and
        # the same record in a batch would get different answers.
        for name in self.schema.of_kind("numeric"):
            frame[name] = frame[name].astype("float64")
        for name in self.schema.of_kind("categorical"):
            column = frame[name].astype(object)
            frame[name] = column.where(column.notna(), np.nan)
        return frame

    def _sklearn_scores(self, rows: list) -> np.ndarray:
        frame = self.frame(rows)
        if self.task == "classification":
            return self.pipeline.predict_proba(frame)
        return self.pipeline.predict(frame)

    def predict(self, records: list[dict]) -> list[dict]:
        """Records as dicts, column name -> value (a missing key is a missing value)."""
        return self.predict_rows(as_rows(self.schema, records))

    def predict_rows(self, rows: list[tuple]) -> list[dict]:
        """Rows as tuples in the schema's feature order: what the service validated."""
        scores = self.onnx(rows) if self.onnx is not None else self._sklearn_scores(rows)
        if self.task == "regression":
            return [{"prediction": value} for value in self.as_served_all(scores)]
        keys, classes = self.class_keys, self.classes
        if classes is None:
            raise BundleError("schema.json lists no classes for a classification model: retrain")
        if len(scores) == 1:  # /predict: for one row, plain Python beats numpy's call overhead
            (probabilities,) = scores.tolist()
            best = probabilities.index(max(probabilities))  # the first of equals, as argmax
            rounded = self.rounded_one(probabilities)
            answer = {
                "prediction": classes[best],
                "probabilities": dict(zip(keys, rounded, strict=True)),
            }
            return [answer]
        # One argmax and one tolist() for the whole array: numpy scalars one at a time cost
        # more than the model itself.
        labels = [classes[i] for i in scores.argmax(axis=1).tolist()]
        return [
            {"prediction": label, "probabilities": dict(zip(keys, row, strict=True))}
            for label, row in zip(labels, self.rounded(scores), strict=True)
        ]

    @staticmethod
    def rounded(scores: np.ndarray) -> list[list[float]]:
        """Probabilities to 6 decimals, as plain floats: one numpy call for the whole array."""
        # The array's own .round(): np.round() adds a dispatch layer that shows in profiles.
        return scores.astype(np.float64).round(6).tolist()

    @staticmethod
    def rounded_one(probabilities: list[float]) -> list[float]:
        """`rounded` for one row of plain floats, step by step as numpy does it (scale, round
        half to even, unscale): one record and a batch give the same digits."""
        return [round(p * 1e6) / 1e6 for p in probabilities]

    @staticmethod
    def as_served_all(values: np.ndarray) -> list[float]:
        """`as_served` for a whole array at once (numpy prints float32 with its own digits)."""
        if values.dtype == np.float32:
            return values.astype(str).astype(np.float64).tolist()
        return np.asarray(values, dtype=np.float64).tolist()

    @staticmethod
    def as_served(value) -> float:
        """A float32 answer (ONNX) has about 7 significant digits: print those, not the binary
        noise after them (6667.316, not 6667.31591796875). float64 answers stay as they are."""
        if isinstance(value, np.float32):
            return float(str(value))
        return float(value)

    def smoke_test(self) -> dict:
        """A real prediction on the stored example: what /readyz calls."""
        return self.predict(self.example)[0]
