"""The one ONNX feed: rows in, one (rows, 1) array per graph input, missing values marked."""

import math

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.contract.bundle import Bundle
from {{ cookiecutter.package_name }}.contract.onnx_inputs import MISSING_CATEGORY, as_rows
from {{ cookiecutter.package_name }}.contract.values import days_since_epoch, normalise_category
from {{ cookiecutter.package_name }}.monitor.drift_demo import feature_rows, records
from {{ cookiecutter.package_name }}.serve.predictor import Predictor


@pytest.fixture(scope="module")
def predictor(bundle_dir) -> Predictor:
    predictor = Predictor(Bundle.load(bundle_dir))
    if predictor.onnx is None:
        pytest.fail(f"the default model should serve through ONNX, not {predictor.mode}")
    return predictor


def test_missing_values_become_nan_and_the_missing_category(predictor):
    schema = predictor.schema
    row = tuple(None for _ in schema.features)
    feed = predictor.onnx.feed([row, row])
    names = [node.name for node in predictor.session.get_inputs()]
    for name, column in zip(names, schema.features, strict=True):
        assert feed[name].shape == (2, 1)
        value = feed[name][1, 0]
        if column.kind in ("numeric", "date"):  # dates travel as days since 1970
            assert math.isnan(value)
        else:
            assert value == MISSING_CATEGORY


def test_each_input_gets_its_own_column(predictor):
    """Two different rows: every value lands in its own input and row, none swapped."""
    example = predictor.example[0]
    rows = as_rows(predictor.schema, [example, {}])
    feed = predictor.onnx.feed(rows)
    names = [node.name for node in predictor.session.get_inputs()]
    for name, column in zip(names, predictor.schema.features, strict=True):
        expected = example.get(column.name)
        if expected is None:
            continue
        first = feed[name][0, 0]
        if column.kind == "numeric":
            assert first == pytest.approx(expected, rel=1e-6)
        elif column.kind == "date":
            assert first == days_since_epoch(expected, column.date_format)
        elif column.normalise:
            assert first == normalise_category(expected)
        else:
            assert first == str(expected)


def test_rows_and_records_predict_alike(predictor):
    records = predictor.example * 3
    assert predictor.predict_rows(as_rows(predictor.schema, records)) == predictor.predict(records)


def unlikely_rows(predictor) -> list[tuple]:
    """Rows a caller could send: realistic ones with gaps, and the example with each value in
    turn missing, NaN (the Python API), respelled, unseen or unreadable."""
    rows = as_rows(predictor.schema, records(feature_rows(predictor.bundle, 60, seed=7)))
    example = as_rows(predictor.schema, predictor.example)[0]
    for position, column in enumerate(predictor.schema.features):
        if column.kind == "categorical":
            odd = [f"  {str(example[position]).upper()} ", "never seen in training", 2.0, True, ""]
        elif column.kind == "date":
            odd = ["not a date", "1999-02-31", ""]
        else:
            odd = [0.0, -1e9, 1e30]
        for value in [None, float("nan"), *odd]:
            rows.append(example[:position] + (value,) + example[position + 1 :])
    return rows


def test_one_row_is_fed_exactly_as_in_a_batch(predictor):
    """/predict reads its one row directly; a batch goes column by column: same arrays."""
    rows = unlikely_rows(predictor)
    batch = predictor.onnx.feed(rows)
    for index, row in enumerate(rows):
        one = predictor.onnx.feed([row])
        assert one.keys() == batch.keys()
        for name, values in one.items():
            assert values.dtype == batch[name].dtype and values.shape == (1, 1)
            # NaN equals NaN here: a missing number must stay missing on both paths.
            np.testing.assert_array_equal(values, batch[name][index : index + 1], err_msg=name)
