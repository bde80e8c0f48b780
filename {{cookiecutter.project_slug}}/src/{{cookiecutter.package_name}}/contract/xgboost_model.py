"""XGBoost as the pipeline's model step: class names in and out, a device, a file that runs no code.

XGBoost's XGBClassifier wants classes numbered 0..k-1, but a target holds names ("yes",
"no"). XGBoostClassifier fits XGBoost on each name's position in `classes_` and answers
with the names, so the pipeline and its ONNX copy predict what the data says.

The device is "cuda" when this process sees a GPU and this xgboost is built with CUDA,
"cpu" otherwise; `device_choice()` says which and why, and training logs both.

The model file. XGBoost's own estimators pickle their booster as an opaque buffer that
xgboost's compiled code unpacks, and its trees are followed without bounds checks (like
scikit-learn's, see contract/tree_checks.py). So these steps keep the booster out of skops: their
state holds it as xgboost's JSON model text, a plain string, and skops rebuilds nothing of
xgboost's. Before xgboost parses the text, `check_booster` reads it with Python's own json
and checks it: one tree per entry, every node reached exactly once from the root, every child
inside the node arrays, every split on a real column and numerical (our pipelines one-hot
encode), the objective one that this project fits, the width the pipeline's. A text that
fails is a tampered bundle (contract/bundle.py refuses all of it).
"""

import json
import os
import shutil
import subprocess

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from .tree_checks import TamperedModel

# What these steps ever fit; a booster asking for anything else was not written by them.
OBJECTIVES = {"binary:logistic", "multi:softprob", "reg:squarederror"}
NO_PARENT = 2147483647  # xgboost's mark for the root's parent
NODE_ARRAYS = (
    "left_children",
    "right_children",
    "parents",
    "split_indices",
    "split_conditions",
    "split_type",
    "default_left",
    "base_weights",
    "loss_changes",
    "sum_hessian",
)


class TamperedBooster(TamperedModel):
    """The booster text in a model file is not one that these steps wrote."""


def visible_gpu() -> str | None:
    """The name of the first GPU this process may use, or None."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):  # the usual way to hide GPUs
        return None
    nvidia_smi = shutil.which("nvidia-smi")
    if nvidia_smi is None:
        return None
    try:
        result = subprocess.run(
            [nvidia_smi, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    names = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    return names[0] if result.returncode == 0 and names else None


def device_choice() -> tuple[str, str]:
    """("cuda" or "cpu", why), for this process and this xgboost build."""
    import xgboost

    gpu = visible_gpu()
    if gpu is None:
        hidden = os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1")
        return "cpu", "CUDA_VISIBLE_DEVICES hides the GPUs" if hidden else "no GPU visible"
    if not xgboost.build_info().get("USE_CUDA"):
        return "cpu", (
            f"{gpu} is visible, but this xgboost is the CPU-only build (xgboost-cpu); "
            "docs/training.md's XGBoost section says how to install the CUDA one"
        )
    return "cuda", gpu


class _XGBoostStep(BaseEstimator):
    """What both steps share: parameters, the booster as JSON text in the saved state."""

    def __init__(
        self,
        n_estimators=200,
        learning_rate=0.1,
        max_depth=6,
        device="cpu",
        random_state=0,
        n_jobs=1,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.device = device
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _fit_booster(self, X, y):
        self.model_ = self._xgboost_class()(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            device=self.device,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            tree_method="hist",
        ).fit(np.asarray(X, dtype=np.float32), y)
        self.n_features_in_ = int(np.shape(X)[1])
        return self

    def _scores(self, X):
        X = np.asarray(X, dtype=np.float32)
        model = self.model_
        return model.predict_proba(X) if hasattr(model, "predict_proba") else model.predict(X)

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the live object keeps its booster
        model = state.pop("model_", None)
        if model is not None:
            state["booster_json_"] = bytes(model.get_booster().save_raw("json")).decode()
        return state

    def __setstate__(self, state):
        state = dict(state)
        text = state.pop("booster_json_", None)
        super().__setstate__(state)
        if text is not None:
            self.model_ = self._load_booster(text)

    def _load_booster(self, text: str):
        classes = len(self.classes_) if hasattr(self, "classes_") else None
        check_booster(text, self.n_features_in_, classes)
        # One thread: serving's workers give the parallelism; a file never chooses a device.
        model = self._xgboost_class()(n_jobs=1, device="cpu")
        model.load_model(bytearray(text.encode()))
        return model

    @staticmethod
    def register_onnx_converters() -> None:
        register_onnx_converters()


class XGBoostClassifier(ClassifierMixin, _XGBoostStep):
    """XGBClassifier on the classes' positions; predicts and reports the class names."""

    @staticmethod
    def _xgboost_class():
        from xgboost import XGBClassifier

        return XGBClassifier

    def fit(self, X, y):
        self.classes_, positions = np.unique(np.asarray(y), return_inverse=True)
        return self._fit_booster(X, positions)

    def predict_proba(self, X):
        return self._scores(X)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class XGBoostRegressor(RegressorMixin, _XGBoostStep):
    """XGBRegressor, saved as JSON text like the classifier."""

    @staticmethod
    def _xgboost_class():
        from xgboost import XGBRegressor

        return XGBRegressor

    def fit(self, X, y):
        return self._fit_booster(X, np.asarray(y, dtype=float))

    def predict(self, X):
        return self._scores(X)


def make_xgboost(task: str, seed: int) -> _XGBoostStep:
    """The step for the task, on the device this process has (`device_reason` says why)."""
    device, why = device_choice()
    cls = XGBoostClassifier if task == "classification" else XGBoostRegressor
    # 200 rounds of depth-6 trees at 0.1: a common starting point for tables this size.
    step = cls(device=device, random_state=seed)
    step.device_reason = why  # not a parameter: clones (cross-validation) need only the device
    return step


def _unique_keys(pairs):
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):  # two parsers could read a duplicated key differently
        raise TamperedBooster("a key appears twice in one object")
    return dict(pairs)


def _integers(values, where: str) -> list[int]:
    if not all(type(value) is int for value in values):
        raise TamperedBooster(f"{where} holds something other than whole numbers")
    return values


def check_booster(text: str, width: int, classes: int | None) -> None:
    """Raise TamperedBooster unless `text` is a booster these steps could have written."""
    try:
        model = json.loads(text, object_pairs_hook=_unique_keys)
        learner = model["learner"]
        params = learner["learner_model_param"]
        booster = learner["gradient_booster"]
        trees = booster["model"]["trees"]
        checks = (
            booster["name"] == "gbtree",
            learner["objective"]["name"] in OBJECTIVES,
            int(params["num_feature"]) == width,
            int(params["num_class"]) == (classes if classes and classes > 2 else 0),
            params["num_target"] == "1",
            learner["feature_types"] == [] and learner["feature_names"] == [],
            all(value == [] for value in booster["model"].get("cats", {}).values()),
            int(booster["model"]["gbtree_model_param"]["num_trees"]) == len(trees),
        )
        if not all(checks):
            raise TamperedBooster("its objective, width or classes are not what this step fits")
        groups = max(int(params["num_class"]), 1)
        tree_info = _integers(booster["model"]["tree_info"], "tree_info")
        if len(tree_info) != len(trees) or any(not 0 <= g < groups for g in tree_info):
            raise TamperedBooster("its trees do not match their classes")
        for number, tree in enumerate(trees):
            _check_tree(tree, width, f"tree {number}")
    except TamperedBooster:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        raise TamperedBooster(f"not an XGBoost model in the expected layout ({error!r})") from None


def _check_tree(tree: dict, width: int, where: str) -> None:
    """Each node reached once from the root, through children inside the arrays."""
    param = tree["tree_param"]
    count = int(param["num_nodes"])
    if count < 1 or param["num_deleted"] != "0" or param["size_leaf_vector"] != "1":
        raise TamperedBooster(f"{where}: its node count or leaf size is not one we fit")
    if any(not isinstance(tree[key], list) or len(tree[key]) != count for key in NODE_ARRAYS):
        raise TamperedBooster(f"{where}: its node arrays are not {count} long")
    if any(tree[key] for key in ("categories", "categories_nodes", "categories_segments")):
        raise TamperedBooster(f"{where}: it splits on native categories, which we never fit")
    left = _integers(tree["left_children"], f"{where} left_children")
    right = _integers(tree["right_children"], f"{where} right_children")
    feature = _integers(tree["split_indices"], f"{where} split_indices")
    parents = _integers(tree["parents"], f"{where} parents")
    reached, pending = [True] + [False] * (count - 1), [0]
    if parents[0] != NO_PARENT:
        raise TamperedBooster(f"{where}: the root has a parent")
    while pending:
        node = pending.pop()
        if left[node] == -1 and right[node] == -1:
            continue  # a leaf
        for child in (left[node], right[node]):
            if not 0 < child < count or reached[child] or parents[child] != node:
                raise TamperedBooster(f"{where}: a split points outside the tree or back into it")
            reached[child] = True
            pending.append(child)
        if not 0 <= feature[node] < width or tree["split_type"][node] != 0:
            raise TamperedBooster(f"{where}: a split reads a column the model does not have")
    if not all(reached):
        raise TamperedBooster(f"{where}: some nodes are not in the tree")


def register_onnx_converters() -> None:
    """Teach skl2onnx these steps, through onnxmltools' XGBoost converter (training only)."""
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )
    from xgboost import XGBClassifier, XGBRegressor

    classifier_options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    update_registered_converter(
        XGBClassifier,
        "XGBoostXGBClassifier",
        calculate_linear_classifier_output_shapes,
        convert_xgboost,
        options=classifier_options,
    )
    update_registered_converter(
        XGBRegressor,
        "XGBoostXGBRegressor",
        calculate_linear_regressor_output_shapes,
        convert_xgboost,
    )
    update_registered_converter(
        XGBoostClassifier,
        "ColdstartXGBoostClassifier",
        calculate_linear_classifier_output_shapes,
        _classifier_converter,
        options=classifier_options,
    )
    update_registered_converter(
        XGBoostRegressor,
        "ColdstartXGBoostRegressor",
        calculate_linear_regressor_output_shapes,
        _regressor_converter,
    )


def _classifier_converter(scope, operator, container):
    """XGBoost's graph answers positions: look the names up, as `predict` does."""
    from skl2onnx.algebra.onnx_operator import OnnxSubEstimator
    from skl2onnx.algebra.onnx_ops import OnnxGather, OnnxIdentity

    step, opset = operator.raw_operator, container.target_opset
    inner = OnnxSubEstimator(
        step.model_, operator.inputs[0], op_version=opset, options={"zipmap": False}
    )
    classes = step.classes_
    numeric = np.issubdtype(classes.dtype, np.number) or classes.dtype == bool
    names = classes.astype(np.int64) if numeric else np.array([str(c) for c in classes])
    label = OnnxGather(names, inner[0], op_version=opset, output_names=operator.outputs[:1])
    probabilities = OnnxIdentity(inner[1], op_version=opset, output_names=operator.outputs[1:2])
    label.add_to(scope, container)
    probabilities.add_to(scope, container)


def _regressor_converter(scope, operator, container):
    from skl2onnx.algebra.onnx_operator import OnnxSubEstimator
    from skl2onnx.algebra.onnx_ops import OnnxIdentity

    step, opset = operator.raw_operator, container.target_opset
    inner = OnnxSubEstimator(step.model_, operator.inputs[0], op_version=opset)
    OnnxIdentity(inner, op_version=opset, output_names=operator.outputs[:1]).add_to(
        scope, container
    )
