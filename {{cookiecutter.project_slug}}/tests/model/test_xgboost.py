"""MODEL=xgboost: trains (on the device there is), exports the whole pipeline to ONNX that
agrees with it, serves through ONNX in a real uvicorn, and a tampered booster never loads."""

import json
import os
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.container.requirements import top_level
from {{ cookiecutter.package_name }}.contract.bundle import PIPELINE_FILE, Bundle, UntrustedBundle
from {{ cookiecutter.package_name }}.contract.xgboost_model import (
    XGBoostClassifier,
    XGBoostRegressor,
    device_choice,
)
from {{ cookiecutter.package_name }}.data.prepare import prepare
from {{ cookiecutter.package_name }}.data.sample import TARGET
from {{ cookiecutter.package_name }}.serve.predictor import Predictor

from ..conftest import copy_of, free_port, read_json, stop, wait_for

PROJECT = Path(__file__).resolve().parents[2]


def test_the_project_trains_xgboost_and_onnx_holds_the_whole_pipeline(trained, bundle_dir):
    settings, summary = trained
    assert settings.model == "xgboost"
    metadata = read_json(bundle_dir, "metadata.json")
    assert metadata["model"] == "xgboost" and metadata["onnx"] == "pipeline"
    assert summary["metrics"]["test_roc_auc"] > 0.7  # it learned: the sample's signal is strong


def test_onnx_answers_what_the_pipeline_answers_with_the_class_names(trained, bundle_dir):
    settings, _ = trained
    rows = prepare(pd.read_csv(settings.data_path), TARGET).features.head(400)
    loaded = Bundle.load(bundle_dir)
    pipeline = loaded.load_pipeline()
    predictor = Predictor(loaded)
    assert predictor.mode == "onnx:pipeline"
    served = predictor.predict(rows.astype(object).where(rows.notna(), None).to_dict("records"))
    assert [answer["prediction"] for answer in served] == pipeline.predict(rows).tolist()
    assert set(pipeline.classes_) == {"yes", "no"}  # names, not XGBoost's 0 and 1
    probabilities = [[answer["probabilities"][c] for c in pipeline.classes_] for answer in served]
    np.testing.assert_allclose(probabilities, pipeline.predict_proba(rows), atol=1e-4)


def test_the_run_says_which_device_trained_it_and_why(trained):
    settings, summary = trained
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    run = mlflow.get_run(summary["run_id"])
    device, why = device_choice()
    assert run.data.params["device"] == device
    assert run.data.tags["coldstart.device"] == f"{device} ({why})"


def test_hidden_gpus_mean_the_cpu_and_the_reason_says_so(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert device_choice() == ("cpu", "CUDA_VISIBLE_DEVICES hides the GPUs")


@pytest.mark.slow
def test_a_real_service_serves_xgboost_through_onnx(bundle_dir):
    port = free_port()
    env = os.environ | {"MODEL_URI": str(bundle_dir), "PORT": str(port), "HOST": "127.0.0.1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/readyz", timeout=60, process=process)
        with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
            assert json.load(response)["mode"] == "onnx:pipeline"
        example = read_json(bundle_dir, "input_example.json")[0]
        request = urllib.request.Request(
            f"{url}/predict", json.dumps(example).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.load(response)
        expected = Bundle.load(bundle_dir).load_pipeline().predict(pd.DataFrame([example]))[0]
        assert answer["prediction"] == expected
    finally:
        stop(process)


def test_the_image_leaves_xgboost_out_unless_scikit_learn_serves():
    pyproject = PROJECT / "pyproject.toml"
    onnx_only = {r.name for r in top_level(pyproject, onnx_only=True)}
    with_sklearn = {r.name for r in top_level(pyproject, onnx_only=False)}
    assert not {"xgboost", "xgboost-cpu", "onnxmltools"} & onnx_only
    assert {"xgboost", "xgboost-cpu"} <= with_sklearn and "onnxmltools" not in with_sklearn


def test_regression_with_xgboost_says_its_device_exports_and_agrees(tmp_path, capsys):
    from {{ cookiecutter.package_name }}.model.evaluate import hold_out_split
    from {{ cookiecutter.package_name }}.model.onnx.export import to_onnx_bundle
    from {{ cookiecutter.package_name }}.model.train import fit_and_evaluate

    from ..conftest import make_settings

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"size": rng.uniform(20, 200, 800), "rooms": rng.integers(1, 6, 800)})
    frame["kind"] = rng.choice(["flat", "house", "loft"], 800)
    frame["price"] = (
        3000 * frame["size"] + 10000 * (frame["kind"] == "house") + rng.normal(0, 5e3, 800)
    )
    prepared = prepare(frame, "price")
    settings = make_settings(tmp_path, model="xgboost", cv_folds=2)
    split = hold_out_split(prepared.features, prepared.target, "regression", 0.2, 0)
    fitted = fit_and_evaluate(settings, prepared.schema, "regression", *split)
    device, why = device_choice()
    assert f"device: {device} ({why})" in capsys.readouterr().out
    assert isinstance(fitted.pipeline.named_steps["model"], XGBoostRegressor)
    payload, scope, notes = to_onnx_bundle(fitted.pipeline, prepared.schema, split[1].head(200))
    assert scope == "pipeline" and payload and notes == []


@pytest.mark.parametrize("labels", [[0, 1], [1, 2, 3], ["a", "b", "c", "d"]])
def test_the_onnx_graph_answers_the_class_names_for_any_classes(labels):
    """Two or more classes, numbers or text: the graph's labels are the pipeline's."""
    import onnxruntime

    from {{ cookiecutter.package_name }}.contract.onnx_inputs import onnx_feed
    from {{ cookiecutter.package_name }}.model.onnx.export import to_onnx_bundle
    from {{ cookiecutter.package_name }}.model.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=900), "z": rng.normal(size=900)})
    frame["kind"] = rng.choice(["p", "q"], 900)
    position = np.clip(((frame["x"] + 2) / 4 * len(labels)).astype(int), 0, len(labels) - 1)
    frame["target"] = np.array(labels, dtype=object)[position]
    prepared = prepare(frame, "target")
    schema = prepared.schema
    pipeline = make_pipeline(prepared.schema, "xgboost", seed=0).fit(
        prepared.features, prepared.target
    )
    rows = prepared.features.head(200)
    payload, scope, _ = to_onnx_bundle(pipeline, schema, rows)
    assert scope == "pipeline"
    session = onnxruntime.InferenceSession(payload, providers=["CPUExecutionProvider"])
    label, probabilities = session.run(None, onnx_feed(session, schema, rows))
    assert label.tolist() == pipeline.predict(rows).tolist()
    assert sorted(set(label.tolist())) == sorted(set(pipeline.classes_.tolist()))
    np.testing.assert_allclose(probabilities, pipeline.predict_proba(rows), atol=1e-4)


# --- A tampered booster: the JSON text inside pipeline.skops, edited as an attacker would.


def booster_node(schema: dict) -> dict:
    """The skops node holding XGBoostClassifier's booster text."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "booster_json_" in node:
                return node["booster_json_"]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    raise AssertionError("no booster text in the model file")


def tamper(bundle, edit) -> None:
    """Rewrite the booster text inside the bundle's pipeline.skops with `edit(model dict)`."""
    path = bundle / PIPELINE_FILE
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(members["schema.json"])
    node = booster_node(schema)
    text = json.loads(node["content"])
    edited = json.dumps(edit(json.loads(text))) if callable(edit) else edit
    node["content"] = json.dumps(edited)  # skops keeps a str as its JSON encoding
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def first_tree(model: dict) -> dict:
    return model["learner"]["gradient_booster"]["model"]["trees"][0]


def child_outside(model):
    first_tree(model)["left_children"][0] = 10**6
    return model


def child_back_to_root(model):
    tree = first_tree(model)
    tree["left_children"][0] = 0
    return model


def split_off_the_table(model):
    tree = first_tree(model)
    tree["split_indices"][0] = 10**6
    return model


def other_objective(model):
    model["learner"]["objective"]["name"] = "reg:pseudohubererror"
    return model


CRASH_PROBE = """
import sys, numpy as np, xgboost
booster = xgboost.Booster()
booster.load_model(bytearray(open(sys.argv[1], "rb").read()))
booster.predict(xgboost.DMatrix(np.zeros((5, int(sys.argv[2])), dtype=np.float32)))
"""


@pytest.mark.parametrize("edit", [child_outside, child_back_to_root])
def test_the_crafted_boosters_are_real_attacks(bundle_dir, tmp_path, edit):
    """Proof the checks matter: xgboost itself loads each crafted booster, then crashes the
    whole process predicting with it (a service that would restart for ever). A split on a
    column past the row reads outside it, which does not always crash: refused all the same."""
    with zipfile.ZipFile(bundle_dir / PIPELINE_FILE) as archive:
        text = json.loads(booster_node(json.loads(archive.read("schema.json")))["content"])
    model = json.loads(text)
    width = int(model["learner"]["learner_model_param"]["num_feature"])
    crafted = tmp_path / "booster.json"
    crafted.write_text(json.dumps(edit(model)))
    probe = subprocess.run(
        [sys.executable, "-c", CRASH_PROBE, str(crafted), str(width)],
        capture_output=True,
        timeout=120,
    )
    assert probe.returncode < 0  # killed by a signal (SIGSEGV), not a Python error


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (child_outside, "a split points outside the tree or back into it"),
        (child_back_to_root, "a split points outside the tree or back into it"),
        (split_off_the_table, "a split reads a column the model does not have"),
        (other_objective, "its objective, width or classes are not what this step fits"),
    ],
)
def test_a_tampered_booster_refuses_the_whole_bundle(bundle_dir, tmp_path, edit, problem):
    bundle = copy_of(bundle_dir, tmp_path)
    tamper(bundle, edit)
    with pytest.raises(UntrustedBundle, match=rf"{problem}\. Refused: .* tampered"):
        Bundle.load(bundle).load_pipeline()
    with pytest.raises(UntrustedBundle):  # not even the ONNX graph serves
        Predictor(Bundle.load(bundle))


def test_a_booster_with_a_key_written_twice_is_refused(bundle_dir, tmp_path):
    """Two parsers may read a duplicated key differently: ours would check one, xgboost use
    the other. So a duplicate is refused outright."""
    bundle = copy_of(bundle_dir, tmp_path)
    path = bundle / PIPELINE_FILE
    with zipfile.ZipFile(path) as archive:
        text = json.loads(booster_node(json.loads(archive.read("schema.json")))["content"])
    twice = text.replace('"learner":{', '"learner":{"version":[3,0,0],"version":[9,9,9],', 1)
    assert twice != text
    tamper(bundle, twice)
    with pytest.raises(UntrustedBundle, match="a key appears twice"):
        Bundle.load(bundle).load_pipeline()


def test_the_untampered_copy_loads_and_the_steps_round_trip(bundle_dir, tmp_path):
    """The check above could fail: the same copy, untouched, loads and predicts the same."""
    bundle = copy_of(bundle_dir, tmp_path)
    tamper(bundle, lambda model: model)
    pipeline = Bundle.load(bundle).load_pipeline()
    assert isinstance(pipeline.named_steps["model"], XGBoostClassifier)
    rows = pd.DataFrame(read_json(bundle, "input_example.json"))
    original = Bundle.load(bundle_dir).load_pipeline()
    np.testing.assert_array_equal(pipeline.predict_proba(rows), original.predict_proba(rows))
