"""A crafted tree in a model file is refused before anything predicts with it: scikit-learn's
compiled tree code follows node indices unchecked, so such a file crashed the service."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)

from {{ cookiecutter.package_name }}.contract.bundle import ONNX_FILE, PIPELINE_FILE, Bundle, UntrustedBundle
from {{ cookiecutter.package_name }}.contract.tree_checks import check_trees

from ..conftest import copy_of, free_port, stop, wait_for

RNG = np.random.default_rng(0)
X, Y = RNG.random((200, 4)), RNG.random(200)


def crafted_boosting(**changes) -> HistGradientBoostingRegressor:
    model = HistGradientBoostingRegressor(max_iter=3).fit(X, Y)
    nodes = model._predictors[0][0].nodes
    for field, value in changes.items():
        nodes[field][0] = value
    return model


def crafted_forest(**changes) -> RandomForestRegressor:
    model = RandomForestRegressor(n_estimators=2, max_depth=3, random_state=0).fit(X, Y)
    tree = model.estimators_[0].tree_
    state = tree.__getstate__()
    for field, value in changes.items():
        if field == "node_count":
            state["node_count"] = value
        else:
            state["nodes"][field][0] = value
    tree.__setstate__(state)
    return model


def test_fitted_trees_pass():
    check_trees(HistGradientBoostingRegressor(max_iter=3).fit(X, Y), "a test")
    check_trees(RandomForestRegressor(n_estimators=2, random_state=0).fit(X, Y), "a test")


@pytest.mark.parametrize(
    "changes",
    [
        {"left": 4_000_000_000},
        {"right": 0},
        {"feature_idx": 4},
        {"feature_idx": -1},
        {"is_categorical": 1},
        {"is_leaf": 7},
    ],
    ids=[
        "child-outside",
        "child-loops-back",
        "column-past-the-end",
        "negative-column",
        "native-category",
        "neither-leaf-nor-split",
    ],
)
def test_a_crafted_boosting_tree_is_refused(changes):
    with pytest.raises(ValueError, match="a test: pipeline"):
        check_trees(crafted_boosting(**changes), "a test")


@pytest.mark.parametrize(
    "changes",
    [{"left_child": 10_000}, {"right_child": 0}, {"feature": 9}, {"node_count": 10_000}],
    ids=["child-outside", "child-loops-back", "column-past-the-end", "count-past-the-buffer"],
)
def test_a_crafted_forest_tree_is_refused(changes):
    with pytest.raises(ValueError, match="a test: pipeline"):
        check_trees(crafted_forest(**changes), "a test")


def tampered_bundle(bundle_dir, folder):
    """The bundle with its model swapped for boosted trees whose first split points far
    outside the node array: every type it asks for is still on the allow-list."""
    bundle = copy_of(bundle_dir, folder)
    pipeline = Bundle.load(bundle).load_pipeline()
    example = Bundle.load(bundle).example
    width = pipeline[:-1].transform(pd.DataFrame(example)).shape[1]
    model = HistGradientBoostingRegressor(max_iter=2).fit(RNG.random((100, width)), RNG.random(100))
    if hasattr(pipeline[-1], "classes_"):
        labels = np.resize(pipeline[-1].classes_, 100)
        model = HistGradientBoostingClassifier(max_iter=2).fit(RNG.random((100, width)), labels)
    for predictor in (p for trees in model._predictors for p in trees):
        predictor.nodes["is_leaf"] = 0
        predictor.nodes["left"] = predictor.nodes["right"] = 4_000_000_000
        predictor.nodes["feature_idx"] = 10**12
    pipeline.steps[-1] = ("model", model)
    skops.io.dump(pipeline, bundle / PIPELINE_FILE)
    (bundle / ONNX_FILE).unlink(missing_ok=True)
    metadata = json.loads((bundle / "metadata.json").read_text())
    metadata["onnx"] = None
    metadata["trusted_types"] = sorted(skops.io.get_untrusted_types(file=bundle / PIPELINE_FILE))
    (bundle / "metadata.json").write_text(json.dumps(metadata))
    return bundle, example


@pytest.mark.slow
def test_the_crafted_tree_really_crashes_a_process_that_trusts_it(bundle_dir, tmp_path):
    """Proof the test below could fail: loading it as skops allows, and predicting, kills
    the process with a signal (a segmentation fault), not an exception."""
    bundle, example = tampered_bundle(bundle_dir, tmp_path)
    code = (
        "import json, sys, pandas as pd, skops.io\n"
        f"path = {str(bundle / PIPELINE_FILE)!r}\n"
        "pipeline = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))\n"
        f"pipeline.predict(pd.DataFrame({example!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert result.returncode < 0, result.stderr[-2000:]


@pytest.mark.slow
def test_a_crafted_tree_leaves_the_service_up_and_not_ready(bundle_dir, tmp_path):
    bundle, _ = tampered_bundle(bundle_dir, tmp_path)
    with pytest.raises(UntrustedBundle, match="points outside the tree"):
        Bundle.load(bundle).load_pipeline()
    port = free_port()
    env = os.environ | {"MODEL_URI": str(bundle), "PORT": str(port), "LOG_LEVEL": "warning"}
    process = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/livez", timeout=60, process=process)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10)
        assert refused.value.code == 503
        reason = json.loads(refused.value.read())["detail"]
        assert str(bundle / PIPELINE_FILE) in reason and "tampered" in reason
        assert process.poll() is None  # alive: nothing predicted with the crafted trees
    finally:
        stop(process)
