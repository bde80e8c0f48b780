"""Bundle -> predictions, by the fastest path that gives the same answers as scikit-learn.

    "onnx"          the whole pipeline runs in onnxruntime (random forest, linear models)
    "onnx+sklearn"  onnxruntime preprocesses, scikit-learn's model predicts on the numpy array
                    (HistGradientBoosting: skl2onnx cannot convert it today)
    "sklearn"       the saved scikit-learn pipeline on a pandas DataFrame (slower; always works)

At load time the fast path is checked against scikit-learn on the stored input
example; if they disagree, the service falls back to scikit-learn and says so.
"""

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas is imported only where scikit-learn serves
    import pandas as pd

from .. import bundle
from ..onnx_inputs import onnx_feed

log = logging.getLogger(__name__)
AGREEMENT_TOLERANCE = 1e-4


class Predictor:
    def __init__(self, directory: Path):
        directory = Path(directory)
        self.schema = bundle.read_json(directory, bundle.SCHEMA_FILE)
        self.metadata = bundle.read_json(directory, bundle.METADATA_FILE)
        self.example = bundle.read_json(directory, bundle.EXAMPLE_FILE)
        self.task = self.schema["task"]
        self.columns = [column["name"] for column in self.schema["features"]]
        self.categorical = [
            c["name"] for c in self.schema["features"] if c["kind"] == "categorical"
        ]
        # Sorted labels: the column order of the probabilities, as scikit-learn's classes_.
        self.classes = self.schema.get("classes")
        self.session = None
        self.mode = "sklearn"
        self.pipeline = self._load_pipeline(directory)
        onnx_path = directory / bundle.ONNX_FILE
        if onnx_path.is_file():
            self._try_onnx(onnx_path, self.metadata.get("onnx") or "preprocess")
        if self.mode == "sklearn" and self.pipeline is None:
            raise bundle.BundleError(
                "The ONNX model cannot serve and scikit-learn is not installed: rebuild the image "
                "with the full serving dependencies, or retrain."
            )

    def _load_pipeline(self, directory: Path):
        """The scikit-learn pipeline, or None where only ONNX is installed (a lean image)."""
        try:
            return bundle.load_pipeline(directory)
        except ImportError:
            log.info("scikit-learn is not installed: serving through ONNX alone.")
            return None

    @property
    def name(self) -> str:
        return self.metadata["name"]

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    def _try_onnx(self, path: Path, scope: str) -> None:
        fast_mode = "onnx" if scope == "full" else "onnx+sklearn"
        try:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            # One thread per worker process: workers give the parallelism.
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
            fast = self._scores(self.example, fast_mode)
        except Exception as error:  # a broken or unloadable ONNX file must not stop serving
            log.warning("ONNX model not usable (%s); serving with scikit-learn.", error)
            self.session = None
            return
        if self.pipeline is None:
            # Nothing to compare with here; training checked this graph on 200 test rows.
            self.mode = fast_mode
            return
        slow = self._scores(self.example, "sklearn")
        scale = max(1.0, float(np.abs(slow).max()))
        if np.allclose(fast, slow, rtol=AGREEMENT_TOLERANCE, atol=AGREEMENT_TOLERANCE * scale):
            self.mode = fast_mode
        else:
            log.warning(
                "ONNX and scikit-learn disagree on the input example; serving with scikit-learn."
            )
            self.session = None

    def frame(self, records: list[dict]) -> "pd.DataFrame":
        """The DataFrame the scikit-learn pipeline was fitted on: schema order, NaN for missing."""
        import pandas as pd

        frame = pd.DataFrame.from_records(records, columns=self.columns)
        for name in self.categorical:
            column = frame[name].astype(object)
            frame[name] = column.where(column.notna(), np.nan)
        return frame

    def _scores(self, records: list[dict], mode: str | None = None) -> np.ndarray:
        """Class probabilities (classification) or predicted values (regression)."""
        mode = mode or self.mode
        if mode == "onnx":
            outputs = self.session.run(None, onnx_feed(self.session, self.schema, records))
            return outputs[1] if self.task == "classification" else outputs[0].ravel()
        if mode == "onnx+sklearn":
            matrix = self.session.run(None, onnx_feed(self.session, self.schema, records))[0]
            model = self.pipeline[-1]
            return (
                model.predict_proba(matrix)
                if self.task == "classification"
                else model.predict(matrix)
            )
        frame = self.frame(records)
        if self.task == "classification":
            return self.pipeline.predict_proba(frame)
        return self.pipeline.predict(frame)

    def predict(self, records: list[dict]) -> list[dict]:
        scores = self._scores(records)
        if self.task == "regression":
            return [{"prediction": float(value)} for value in scores]
        labels = [self.classes[i] for i in np.argmax(scores, axis=1)]
        return [
            {
                "prediction": label,
                "probabilities": {
                    str(c): round(float(p), 6) for c, p in zip(self.classes, row, strict=True)
                },
            }
            for label, row in zip(labels, scores, strict=True)
        ]

    def smoke_test(self) -> dict:
        """A real prediction on the stored example: what /readyz calls."""
        return self.predict(self.example)[0]
