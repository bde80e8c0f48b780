"""Bounds checks for the fitted trees inside a model file, before anything predicts with them.

scikit-learn's tree code (compiled, for speed) follows a tree's node arrays without checking
them: a crafted file whose child or feature indices point outside the arrays crashes the
whole process (a segmentation fault: no 503, a container restarting for ever), and a child
that points back up the tree loops for ever. skops leaves both tree types off its own
trusted list for that reason. Tree models need them, so the bundle trusts them (contract/bundle.py,
DATA_TYPES) only after these checks: every child comes after its parent and inside the node
array (so every path from the root ends at a leaf), every split reads a real column, and the
arrays are the size the tree says. A tree that fails is a tampered bundle.
"""

from typing import Any

import numpy as np


class TamperedModel(ValueError):
    """A fitted step's state fails its own checks as it loads: a crafted file, not training's."""


def check_trees(pipeline: Any, source: str) -> None:
    """Raise ValueError naming the first bad tree in the fitted pipeline, if any."""
    for owner, path in _estimators(pipeline, "pipeline", set()):
        width = getattr(owner, "n_features_in_", None)
        for number, predictor in enumerate(_flat(getattr(owner, "_predictors", None) or [])):
            _check_predictor(predictor, width, f"{source}: {path} tree {number}")
        tree = getattr(owner, "tree_", None)
        if tree is not None:
            _check_tree(tree, width, f"{source}: {path}")


def _estimators(value: Any, path: str, seen: set[int]):
    """Every scikit-learn estimator reachable from `value`, with where it sits."""
    from sklearn.base import BaseEstimator

    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, BaseEstimator):
        yield value, path
        for name, attribute in vars(value).items():
            yield from _estimators(attribute, f"{path}.{name}", seen)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _estimators(item, f"{path}[{index}]", seen)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _estimators(item, f"{path}[{key!r}]", seen)


def _flat(items) -> list:
    flat = []
    for item in items:
        flat.extend(_flat(item) if isinstance(item, list | tuple) else [item])
    return flat


def _check_predictor(predictor: Any, width: int | None, where: str) -> None:
    """A HistGradientBoosting tree: one record per node (left, right, feature_idx, is_leaf)."""
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

    nodes = getattr(predictor, "nodes", None)
    if not isinstance(predictor, TreePredictor) or not isinstance(nodes, np.ndarray):
        raise ValueError(f"{where} is not a tree")
    if nodes.dtype != PREDICTOR_RECORD_DTYPE or nodes.ndim != 1 or len(nodes) == 0:
        raise ValueError(f"{where}: its node array has the wrong layout")
    if np.any(nodes["is_categorical"] != 0):  # our pipelines one-hot encode: never native
        raise ValueError(f"{where}: it splits on native categories, which this project never fits")
    inner = nodes["is_leaf"] == 0
    if np.any(nodes["is_leaf"] > 1):
        raise ValueError(f"{where}: a node is neither a leaf nor a split")
    _check_children(
        np.flatnonzero(inner), nodes["left"][inner], nodes["right"][inner], len(nodes), where
    )
    _check_features(nodes["feature_idx"][inner], width, where)


def _check_tree(tree: Any, width: int | None, where: str) -> None:
    """A decision tree (random forests hold many): parallel arrays, -1 for a leaf's children."""
    from sklearn.tree._tree import Tree

    if not isinstance(tree, Tree):
        raise ValueError(f"{where} is not a tree")
    # Read the sizes first: the arrays below are views of node_count nodes in a buffer of
    # `capacity`, so a node_count beyond it would read past the buffer.
    if not 0 < tree.node_count <= tree.capacity or tree.n_features != width:
        raise ValueError(f"{where}: its node count or width does not fit its arrays")
    left, right, feature = tree.children_left, tree.children_right, tree.feature
    leaf = (left == -1) & (right == -1)
    inner = ~leaf
    _check_children(np.flatnonzero(inner), left[inner], right[inner], tree.node_count, where)
    _check_features(feature[inner], width, where)


def _check_children(
    parents: np.ndarray, left: np.ndarray, right: np.ndarray, count: int, where: str
) -> None:
    for children in (left.astype(np.int64), right.astype(np.int64)):
        if np.any(children <= parents) or np.any(children >= count):
            raise ValueError(f"{where}: a split points outside the tree or back up it")


def _check_features(features: np.ndarray, width: int | None, where: str) -> None:
    if width is None or np.any(features < 0) or np.any(features >= width):
        raise ValueError(f"{where}: a split reads a column the model does not have")
