"""Metrics: cross-validated on the training split, then once on the held-out test split."""

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    StratifiedGroupKFold,
    StratifiedKFold,
    cross_validate,
    train_test_split,
)

# The score the promotion gate and the baseline check compare (higher is better).
PRIMARY_METRIC = {"classification": "roc_auc", "regression": "r2"}

CV_SCORING = {
    "classification": {"accuracy": "accuracy", "f1": "f1_macro", "roc_auc": "roc_auc_ovr"},
    "regression": {
        "rmse": "neg_root_mean_squared_error",
        "mae": "neg_mean_absolute_error",
        "r2": "r2",
    },
}


def hold_out_split(
    X: pd.DataFrame, y: pd.Series, task: str, test_size: float, seed: int, groups=None
):
    """(X_train, X_test, y_train, y_test). With groups (data/decisions.py: a storm, a customer),
    each group's rows fall on one side: the test split then measures unseen entities."""
    classification = task == "classification"
    if groups is None:
        return train_test_split(
            X, y, test_size=test_size, random_state=seed, stratify=y if classification else None
        )
    if classification:  # one fold of round(1 / test_size) as the test split, classes balanced
        folds = StratifiedGroupKFold(
            n_splits=max(2, round(1 / test_size)), shuffle=True, random_state=seed
        )
        train, test = next(folds.split(X, y, groups))
    else:
        splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        train, test = next(splitter.split(X, y, groups))
    return X.iloc[train], X.iloc[test], y.iloc[train], y.iloc[test]


def fold_splitter(task: str, folds: int, seed: int, grouped: bool):
    """The cross-validation folds; with groups, no group has rows in two folds."""
    if grouped:
        if task == "classification":
            return StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        return GroupKFold(n_splits=folds)
    return (StratifiedKFold if task == "classification" else KFold)(
        n_splits=folds, shuffle=True, random_state=seed
    )


def cross_validated(
    pipeline, X: pd.DataFrame, y: pd.Series, task: str, folds: int, seed: int, groups=None
) -> dict:
    splitter = fold_splitter(task, folds, seed, groups is not None)
    scores = cross_validate(
        pipeline, X, y, groups=groups, cv=splitter, scoring=CV_SCORING[task], n_jobs=-1
    )
    means = {
        f"cv_{name}": as_reported(scorer, float(np.mean(scores[f"test_{name}"])))
        for name, scorer in CV_SCORING[task].items()
    }
    # The spread across folds: a difference between two models smaller than this may be luck.
    spreads = {f"cv_{name}_std": float(np.std(scores[f"test_{name}"])) for name in CV_SCORING[task]}
    return means | spreads


def as_reported(scorer: str, value: float) -> float:
    """scikit-learn maximises scores, so it negates errors (`neg_*`): flip those back, and only
    those. R² keeps its sign: a negative R² means worse than predicting the mean."""
    return -value if scorer.startswith("neg_") else value


def held_out(pipeline, X: pd.DataFrame, y: pd.Series, task: str) -> dict:
    predicted = pipeline.predict(X)
    if task == "regression":
        return {
            "test_rmse": float(root_mean_squared_error(y, predicted)),
            "test_mae": float(mean_absolute_error(y, predicted)),
            "test_r2": float(r2_score(y, predicted)),
        }
    probabilities = pipeline.predict_proba(X)
    if probabilities.shape[1] == 2:
        auc = roc_auc_score(y, probabilities[:, 1])
    else:
        auc = roc_auc_score(y, probabilities, multi_class="ovr", labels=pipeline.classes_)
    return {
        "test_accuracy": float(accuracy_score(y, predicted)),
        "test_f1": float(f1_score(y, predicted, average="macro")),
        "test_roc_auc": float(auc),
    }
