"""The Predictor: a record gets the same answer alone and in a batch, whichever way it serves."""

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.contract.bundle import Bundle
from {{ cookiecutter.package_name }}.serve.predictor import Predictor

from ..contract.test_onnx_inputs import unlikely_rows


def blank(row: tuple, position: int) -> tuple:
    return row[:position] + (None,) + row[position + 1 :]


def assert_same_answers(alone: list[dict], batch: list[dict], task: str, why: str) -> None:
    if task == "classification":
        assert alone == batch, why
        return
    # Regression answers are floats: through ONNX they are float32, and onnxruntime's matrix
    # kernels round one row and a batch differently in the last digit. Equal to that precision.
    alone_values = np.array([answer["prediction"] for answer in alone])
    batch_values = np.array([answer["prediction"] for answer in batch])
    scale = max(1.0, float(np.abs(batch_values).max()))
    np.testing.assert_allclose(alone_values, batch_values, rtol=0, atol=1e-5 * scale, err_msg=why)


@pytest.mark.parametrize("mode", ["onnx", "sklearn"])
def test_a_record_gets_the_same_answer_alone_and_in_a_batch(bundle_dir, mode):
    predictor = Predictor(Bundle.load(bundle_dir))
    if mode == "sklearn":
        assert predictor.pipeline is not None, "the scikit-learn pipeline should load here"
        predictor.onnx = None  # serve from the pipeline, as without an ONNX graph
    elif predictor.onnx is None:
        pytest.fail(f"the default model should serve through ONNX, not {predictor.mode}")
    rows = unlikely_rows(predictor)
    task = predictor.task
    answers = predictor.predict_rows(rows)
    assert_same_answers([predictor.predict_rows([r])[0] for r in rows], answers, task, "odd values")
    # Each column missing in every other row: alone, such a record has that column all missing
    # (a pandas column of None, not of numbers), in the batch only partly.
    for position, column in enumerate(predictor.schema.features):
        batch = [blank(row, position) if i % 2 else row for i, row in enumerate(rows[:12])]
        alone = [predictor.predict_rows([row])[0] for row in batch]
        assert_same_answers(alone, predictor.predict_rows(batch), task, f"{column.name} missing")


def test_one_row_rounds_to_the_digits_numpy_gives_a_batch():
    """Near-halves included: (k + 0.5) / 1e6 is where Python's own round(x, 6) and numpy's
    .round(6) part ways (about half of them); k / 128 is an exact half in float32."""
    rng = np.random.default_rng(11)
    halves = np.arange(129, dtype=np.float64) / 128
    near_halves = (np.arange(20_000) + 0.5) / 1e6
    for scores in (
        rng.random((20_000, 2)).astype(np.float32),
        rng.random((20_000, 3)),  # float64: what scikit-learn answers
        halves.astype(np.float32).reshape(-1, 1),
        near_halves.reshape(-1, 2),
    ):
        one_by_one = [Predictor.rounded_one(row) for row in scores.tolist()]
        assert one_by_one == Predictor.rounded(scores)
