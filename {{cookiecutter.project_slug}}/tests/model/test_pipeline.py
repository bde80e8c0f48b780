"""Preprocessing is learned on training rows only, and identical at training and serving time."""

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.contract.bundle import Bundle
from {{ cookiecutter.package_name }}.contract.onnx_inputs import onnx_feed
from {{ cookiecutter.package_name }}.contract.transformers import QuantileClipper
from {{ cookiecutter.package_name }}.data.prepare import prepare
from {{ cookiecutter.package_name }}.data.sample import TARGET
from {{ cookiecutter.package_name }}.model.pipeline import make_pipeline
from {{ cookiecutter.package_name }}.serve.predictor import Predictor

from ..conftest import read_json


def test_clipper_learns_bounds_from_training_rows_only():
    train = np.array([[1.0], [2.0], [3.0], [4.0], [np.nan]])
    clipper = QuantileClipper(lower=0.0, upper=1.0).fit(train)
    assert clipper.transform(np.array([[-100.0], [2.5], [1e9]])).ravel().tolist() == [1.0, 2.5, 4.0]


def test_unseen_category_is_handled_by_the_pipeline(sample_frame):
    prepared = prepare(sample_frame, TARGET)
    pipeline = make_pipeline(prepared.schema, "linear", seed=0).fit(
        prepared.features, prepared.target
    )
    row = prepared.features.head(1).copy()
    categorical = prepared.schema.of_kind("categorical")[0]
    row[categorical] = "a value never seen in training"
    assert len(pipeline.predict(row)) == 1


def test_same_rows_give_the_same_matrix_at_train_and_serve_time(trained, bundle_dir):
    """The serving path (ONNX where it converts) transforms rows exactly as the saved pipeline."""
    settings, _ = trained
    prepared = prepare(pd.read_csv(settings.data_path), TARGET)
    rows = prepared.features.head(300)
    loaded = Bundle.load(bundle_dir)
    pipeline = loaded.load_pipeline()
    expected = pipeline.named_steps["preprocess"].transform(rows)

    predictor = Predictor(loaded)
    if predictor.session is not None:
        outputs = predictor.session.run(None, onnx_feed(predictor.session, predictor.schema, rows))
        if predictor.scope == "preprocessing":
            np.testing.assert_allclose(outputs[0], expected, rtol=1e-5, atol=1e-4)
    # Whatever the path, serving predicts what the pipeline predicts.
    served = predictor.predict(rows.astype(object).where(rows.notna(), None).to_dict("records"))
    if prepared.schema.task == "classification":
        assert [r["prediction"] for r in served] == pipeline.predict(rows).tolist()
        probabilities = [[r["probabilities"][str(c)] for c in pipeline.classes_] for r in served]
        np.testing.assert_allclose(probabilities, pipeline.predict_proba(rows), atol=1e-4)
    else:
        # ONNX computes in float32: differences stay tiny next to the target's spread.
        predicted = pipeline.predict(rows)
        served_values = [r["prediction"] for r in served]
        np.testing.assert_allclose(served_values, predicted, rtol=0, atol=1e-5 * np.std(predicted))
    assert read_json(bundle_dir, "schema.json")["fingerprint"] == prepared.schema.fingerprint


def test_pipeline_normalises_groups_rare_categories_and_reads_dates():
    rows = 200
    frame = pd.DataFrame(
        {
            "area": ["Downtown", " downtown ", "DOWNTOWN", "Riverside"] * 49 + ["Dock"] * 4,
            "visited": ["2024-01-01", "2024-02-29", "2025-12-31", "2024-06-01"] * 49
            + ["bad date", "2024-03-01", "2024-03-02", "2024-03-03"],
            "size": np.arange(rows, dtype=float),
            "label": ["a", "b"] * (rows // 2),
        }
    )
    prepared = prepare(frame, "label")
    pipeline = make_pipeline(prepared.schema, "linear", seed=0).fit(
        prepared.features, prepared.target
    )
    preprocess = pipeline.named_steps["preprocess"]
    onehot = preprocess.named_transformers_["categorical"].named_steps["onehot"]
    assert onehot.categories_[0].tolist() == ["dock", "downtown", "riverside"]
    assert onehot.infrequent_categories_[0].tolist() == ["dock"]  # 4 rows, fewer than 5
    dates = preprocess.named_transformers_["dates"].named_steps["features"]
    parts = dates.transform(np.array([["2024-02-29"], ["2025-12-31"], ["bad date"]], dtype=object))
    assert parts[:2].tolist() == [[2024, 2, 3, 59], [2025, 12, 2, 730]]  # Thursday, Wednesday
    assert np.isnan(parts[2]).all()


def test_an_export_that_cannot_hold_the_whole_pipeline_says_why(sample_frame):
    """Never silent: the part ONNX could not hold is named (make train prints it) and
    scikit-learn serves that part."""
    from sklearn.gaussian_process import GaussianProcessClassifier  # skl2onnx cannot convert it

    from {{ cookiecutter.package_name }}.model.onnx.export import to_onnx_bundle

    prepared = prepare(sample_frame.head(300), TARGET)
    pipeline = make_pipeline(prepared.schema, "linear", seed=0)
    pipeline.steps[-1] = ("model", GaussianProcessClassifier(random_state=0))
    pipeline.fit(prepared.features, prepared.target)
    schema = prepared.schema
    payload, scope, notes = to_onnx_bundle(pipeline, schema, prepared.features.head(50))
    assert scope == "preprocessing" and payload
    assert len(notes) == 1 and notes[0].startswith("the pipeline did not convert (")
