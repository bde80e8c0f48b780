"""BentoML services on this project's bundle, as a careful user would write them: a peer for
`make bench-peers` (bench_serve.py --peers), never part of the project or its image.

    bentoml serve peer_bentoml:PipelineService   the scikit-learn pipeline on a DataFrame
    bentoml serve peer_bentoml:OnnxService       the same bundle's ONNX graph in onnxruntime
    bentoml serve peer_bentoml:TunedOnnxService  the ONNX one, async, its access log off

POST /predict {"records": [...]} -> [{"prediction": ..., "probabilities": {...}}, ...].
PEER_BUNDLE names the bundle folder; the project's src/ is on PYTHONPATH (its Bundle
loader checks the files, its ONNX feed turns records into the graph's inputs).
"""

import os

import bentoml
import numpy as np

from {{ cookiecutter.package_name }}.contract.bundle import Bundle
from {{ cookiecutter.package_name }}.contract.onnx_inputs import onnx_feed

BUNDLE = Bundle.load(os.environ["PEER_BUNDLE"])
SCHEMA = BUNDLE.schema


def answers(scores: np.ndarray) -> list[dict]:
    """Probabilities (classification) or values (regression) -> the answers, as ours."""
    if SCHEMA.task == "regression":
        return [{"prediction": float(value)} for value in scores.ravel()]
    keys = [str(label) for label in SCHEMA.classes]
    return [
        {
            "prediction": SCHEMA.classes[int(np.argmax(row))],
            "probabilities": dict(zip(keys, np.round(row.astype(float), 6).tolist(), strict=True)),
        }
        for row in scores
    ]


def onnx_session():
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(BUNDLE.onnx_path), options)


def onnx_scores(session, records: list[dict]) -> np.ndarray:
    """The graph's last output: the probabilities (classification) or the values."""
    return session.run(None, onnx_feed(session, SCHEMA, records))[-1]


@bentoml.service(workers=1)
class PipelineService:
    def __init__(self):
        self.pipeline = BUNDLE.load_pipeline()

    @bentoml.api
    def predict(self, records: list[dict]) -> list[dict]:
        import pandas as pd

        frame = pd.DataFrame.from_records(records, columns=SCHEMA.names)
        if SCHEMA.task == "regression":
            return answers(self.pipeline.predict(frame))
        return answers(self.pipeline.predict_proba(frame))


@bentoml.service(workers=1)
class OnnxService:
    def __init__(self):
        self.session = onnx_session()

    @bentoml.api
    def predict(self, records: list[dict]) -> list[dict]:
        return answers(onnx_scores(self.session, records))


# Tuned as BentoML's docs suggest for a fast model: async (no thread hop), no access log.
@bentoml.service(workers=1, logging={"access": {"enabled": False}})
class TunedOnnxService:
    def __init__(self):
        self.session = onnx_session()

    @bentoml.api
    async def predict(self, records: list[dict]) -> list[dict]:
        return answers(onnx_scores(self.session, records))
