"""Convert the fitted pipeline to ONNX, for fast serving, and check the copy is faithful.

onnxruntime runs the preprocessing of one row in ~0.1 ms where pandas and
scikit-learn take ~7 ms. Our own pipeline steps convert through converters.py. Normally
the whole pipeline converts and serving runs only ONNX (scope "pipeline"). If only the
preprocessing converts ("preprocessing"), serving runs it and hands the model a numpy
array; if nothing converts (or the copy disagrees with scikit-learn on the test rows),
the bundle has no ONNX file and serving uses scikit-learn: slower, never wrong.
"""

import copy
import logging

import pandas as pd
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.pipeline import Pipeline

from ...contract.bundle import OnnxScope, Schema
from ...contract.onnx_inputs import AGREEMENT_TOLERANCE, agrees, onnx_scores
from . import converters

log = logging.getLogger(__name__)
converters.register()

# Both domains named: onnxmltools' XGBoost converter would otherwise ask for a newer
# 'ai.onnx.ml' than skl2onnx pairs with opset 17 (3, what the other models use).
OPSETS = {"": 17, "ai.onnx.ml": 3}


def _initial_types(schema: Schema) -> list:
    """Numbers and dates (as days since 1970, see contract/onnx_inputs.py) are floats; categories text."""
    return [
        (
            c.name,
            StringTensorType([None, 1]) if c.kind == "categorical" else FloatTensorType([None, 1]),
        )
        for c in schema.features
    ]


def _convertible_copy(pipeline: Pipeline) -> Pipeline:
    """ONNX has no float NaN in string tensors: serving sends "" for a missing category instead."""
    converted = copy.deepcopy(pipeline)
    categorical = converted.named_steps["preprocess"].named_transformers_.get("categorical")
    if categorical is not None and categorical != "drop":
        categorical.named_steps["impute"].missing_values = ""
    return converted


def to_onnx_bundle(
    pipeline: Pipeline, schema: Schema, check_rows: pd.DataFrame
) -> tuple[bytes | None, OnnxScope | None, list[str]]:
    """(onnx bytes, its scope, why larger parts were not used) for the largest part that
    converts and agrees with scikit-learn."""
    register = getattr(pipeline.named_steps["model"], "register_onnx_converters", None)
    if (
        register is not None
    ):  # a model step that brings its own converter (contract/xgboost_model.py)
        register()
    candidate = _convertible_copy(pipeline)
    attempts: list[tuple[OnnxScope, object]] = [
        ("pipeline", candidate),
        ("preprocessing", candidate.named_steps["preprocess"]),
    ]
    notes: list[str] = []
    for scope, model in attempts:
        # zipmap=False: class probabilities as a plain matrix, not a list of dicts.
        classifier = scope == "pipeline" and schema.task == "classification"
        options = {id(candidate.named_steps["model"]): {"zipmap": False}} if classifier else None
        try:
            onnx_model = to_onnx(
                model, initial_types=_initial_types(schema), options=options, target_opset=OPSETS
            )
        except Exception as error:  # skl2onnx raises many types; any of them means "not this part"
            log.info("ONNX export of the %s failed: %s", scope, str(error).splitlines()[0])
            notes.append(f"the {scope} did not convert ({str(error).splitlines()[0][:120]})")
            continue
        payload = onnx_model.SerializeToString()
        if export_agrees(payload, scope, pipeline, schema, check_rows):
            return payload, scope, notes
        log.warning("ONNX %s export disagrees with scikit-learn; not using it.", scope)
        notes.append(
            f"the {scope}'s ONNX copy disagreed with scikit-learn beyond {AGREEMENT_TOLERANCE}"
        )
    return None, None, notes


def export_agrees(
    payload: bytes, scope: OnnxScope, pipeline: Pipeline, schema: Schema, rows: pd.DataFrame
) -> bool:
    """Does serving through this ONNX graph predict what the pipeline predicts, on these rows?"""
    import onnxruntime

    session = onnxruntime.InferenceSession(payload, providers=["CPUExecutionProvider"])
    served = onnx_scores(session, scope, pipeline.named_steps["model"], schema, rows)
    classification = schema.task == "classification"
    expected = pipeline.predict_proba(rows) if classification else pipeline.predict(rows)
    return agrees(served, expected, schema.task)
